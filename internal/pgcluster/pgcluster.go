// Package pgcluster gives a test a PostgreSQL cluster of its own, which
// the test may stop and hang while the shared server on 5432 serves the
// others. It is made with Debian's pg_createcluster (as root), on a free
// loopback port and under a name of its own, so that test binaries
// running side by side never share one, and dropped when the test ends.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/screenpop/screenpop/internal/testport"
)

// namePrefix starts every test cluster's name; the rest is the test
// process's pid and a counter, so that a cluster left by a killed test
// binary can be told from one in use.
const namePrefix = "screenpop_test_"

var made atomic.Int64

// Cluster is a running test cluster with a database "screenpop".
type Cluster struct {
	version, name string
	port          int
	dataDir       string
}

// New creates and starts a cluster, with trust authentication on
// loopback and a database "screenpop" in it. Clusters left by test
// binaries that were killed are dropped first.
func New(t testing.TB) *Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a PostgreSQL cluster of its own with pg_createcluster: run it as root (.ci/run does)")
	}
	version := serverVersion(t)
	dropAbandoned(version)
	name := fmt.Sprintf("%s%d_%d", namePrefix, os.Getpid(), made.Add(1))
	c := &Cluster{version: version, name: name, port: testport.Pick(t),
		dataDir: filepath.Join("/var/lib/postgresql", version, name)}
	run(t, "pg_createcluster", c.version, c.name, "--port", strconv.Itoa(c.port), "--start",
		"--", "--auth=trust", "--no-sync")
	t.Cleanup(c.drop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := c.waitUp(t, ctx)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE screenpop"); err != nil {
		t.Fatalf("create the test database in the cluster on %d: %v", c.port, err)
	}
	return c
}

// DSN is the test database's DSN; connect_timeout bounds a connection to
// a hung server as the daemon's default does.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/screenpop?sslmode=disable", c.port)
}

// Port is the cluster's port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Stop stops the server, as an administrator would for maintenance.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	run(t, "pg_ctlcluster", c.version, c.name, "stop", "-m", "fast")
}

// Start starts a stopped server and waits until it takes connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	run(t, "pg_ctlcluster", c.version, c.name, "start")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.waitUp(t, ctx).Close(context.Background())
}

// Hang stops (SIGSTOP) the postmaster and every backend: the server
// accepts connections in the kernel but answers nothing, as a database
// host that froze.
func (c *Cluster) Hang(t testing.TB) {
	t.Helper()
	for _, pid := range c.processes(t) {
		// A backend may end between the listing and the signal.
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
}

// Resume undoes Hang.
func (c *Cluster) Resume(t testing.TB) {
	t.Helper()
	for _, pid := range c.processes(t) {
		syscall.Kill(pid, syscall.SIGCONT)
	}
}

func (c *Cluster) waitUp(t testing.TB, ctx context.Context) *pgx.Conn {
	t.Helper()
	for {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port))
		if err == nil {
			return conn
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the cluster on %d did not come up: %v", c.port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// processes are the postmaster's pid (first) and its children's.
func (c *Cluster) processes(t testing.TB) []int {
	t.Helper()
	pids, err := pids(c.dataDir)
	if err != nil {
		t.Fatalf("the cluster's processes: %v", err)
	}
	return pids
}

// drop removes the cluster, whatever state it is in (a hung one is
// resumed first, so that it can stop).
func (c *Cluster) drop() { drop(c.version, c.name, c.dataDir) }

func drop(version, name, dataDir string) {
	if pids, err := pids(dataDir); err == nil {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	exec.Command("pg_dropcluster", version, name, "--stop").Run()
}

// dropAbandoned drops the test clusters whose test binary is gone.
func dropAbandoned(version string) {
	entries, _ := os.ReadDir(filepath.Join("/etc/postgresql", version))
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		owner, _, _ := strings.Cut(rest, "_")
		pid, err := strconv.Atoi(owner)
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		drop(version, e.Name(), filepath.Join("/var/lib/postgresql", version, e.Name()))
	}
}

func pids(dataDir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	postmaster, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil, fmt.Errorf("postmaster.pid: %w", err)
	}
	pids := []int{postmaster}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// serverVersion is the version of the PostgreSQL server installed (the
// one whose main cluster serves the other tests).
func serverVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("pg_lsclusters", "--no-header").Output()
	if err != nil {
		t.Fatalf("this test needs Debian's PostgreSQL tools (pg_lsclusters): %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			return f[0]
		}
	}
	t.Fatal("pg_lsclusters lists no cluster: which PostgreSQL version is installed?")
	return ""
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

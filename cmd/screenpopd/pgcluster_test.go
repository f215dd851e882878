package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a PostgreSQL cluster of the test's own, which the test may
// stop and hang; the shared one on 5432 is never touched. It is made with
// Debian's pg_createcluster (as root) and dropped when the test ends.
type pgCluster struct {
	version, name string
	port          int
	dataDir       string
}

// ownCluster is the port reserved for these tests' cluster.
const ownClusterPort = 5433

// newPGCluster creates and starts a cluster on ownClusterPort, with trust
// authentication on loopback, and a database "screenpop" in it. A cluster
// of the same name left by a test that was killed is dropped first.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a PostgreSQL cluster of its own with pg_createcluster: run it as root (.ci/run does)")
	}
	version := pgVersion(t)
	c := &pgCluster{version: version, name: "screenpop_continuity", port: ownClusterPort,
		dataDir: filepath.Join("/var/lib/postgresql", version, "screenpop_continuity")}
	c.drop()
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

// pgVersion is the version of the PostgreSQL server installed (the one
// whose main cluster serves the other tests).
func pgVersion(t *testing.T) string {
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

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// dsn is the test database's DSN; connect_timeout bounds a connection to
// a hung server as the daemon's default does.
func (c *pgCluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/screenpop?sslmode=disable", c.port)
}

func (c *pgCluster) waitUp(t *testing.T, ctx context.Context) *pgx.Conn {
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

// stop stops the server, as an administrator would for maintenance.
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	run(t, "pg_ctlcluster", c.version, c.name, "stop", "-m", "fast")
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	run(t, "pg_ctlcluster", c.version, c.name, "start")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.waitUp(t, ctx).Close(context.Background())
}

// hang stops (SIGSTOP) the postmaster and every backend: the server
// accepts connections in the kernel but answers nothing, as a database
// host that froze.
func (c *pgCluster) hang(t *testing.T) {
	t.Helper()
	for _, pid := range c.processes(t) {
		// A backend may end between the listing and the signal.
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
}

// resume undoes hang.
func (c *pgCluster) resume(t *testing.T) {
	t.Helper()
	for _, pid := range c.processes(t) {
		syscall.Kill(pid, syscall.SIGCONT)
	}
}

// processes are the postmaster's pid (first) and its children's.
func (c *pgCluster) processes(t *testing.T) []int {
	t.Helper()
	pids, err := c.pids()
	if err != nil {
		t.Fatalf("the cluster's processes: %v", err)
	}
	return pids
}

func (c *pgCluster) pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
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

// drop removes the cluster, whatever state it is in (a hung one is
// resumed first, so that it can stop).
func (c *pgCluster) drop() {
	if pids, err := c.pids(); err == nil {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	exec.Command("pg_dropcluster", c.version, c.name, "--stop").Run()
}

package replicas

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/testport"
)

// StopWait is how long a stopped daemon may take to exit: its own
// shutdown bound (15 s) and room for a loaded machine.
const StopWait = 30 * time.Second

// Replica is one daemon as a child process, started again and again with
// one config, its log (JSON) appended to one file.
type Replica struct {
	Name    string
	HTTP    string // where it serves HTTP
	LogPath string
	DataDir string // its --store-data-dir
	Args    []string
	Cmd     *exec.Cmd // while it runs
	Starts  int

	t      *testing.T
	exited chan error
}

// New makes a daemon reading ariURL (the simulator's, oracletest.Sim),
// with the given extra flags (the cluster's, or none for a single daemon).
// With ariURL empty it is a daemon Asterisk dials (ari.connect outbound)
// and it has no address of Asterisk's at all: its commands go over
// Asterisk's websocket. Its config file is empty. It is killed, if it
// still runs, when the test ends; its log is kept if the test failed.
func New(t *testing.T, name, ariURL string, extra ...string) *Replica {
	return NewWithConfig(t, name, ariURL, "", extra...)
}

// NewWithConfig is New with config the text of its config file (the
// boxes of asterisk.boxes, say).
func NewWithConfig(t *testing.T, name, ariURL, config string, extra ...string) *Replica {
	dir := t.TempDir()
	r := &Replica{t: t, Name: name, HTTP: FreePort(t), LogPath: filepath.Join(dir, "daemon.log"), DataDir: filepath.Join(dir, "data")}
	// A config of its own: never the machine's installed one.
	configPath := filepath.Join(dir, "screenpop.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Args = []string{"serve", "--config", configPath}
	if ariURL == "" {
		r.Args = append(r.Args, "--ari-connect", "outbound")
	} else {
		r.Args = append(r.Args, "--ari-url", ariURL, "--ari-reconnect-min", "50ms", "--ari-reconnect-max", "500ms")
	}
	r.Args = append(append(r.Args, "--ari-password", oracletest.SimPassword,
		"--store-data-dir", r.DataDir, "--http-listen", r.HTTP, "--inbound-contexts", "from-trunk",
		"--operator-endpoints", "Local/{ext}@phones", "--log-format", "json", "--log-level", "info"), extra...)
	t.Cleanup(func() {
		if r.Cmd != nil {
			r.Stop(syscall.SIGKILL)
		}
		if t.Failed() {
			// The daemon's log outlives the test's directory, for whoever
			// looks into the failure.
			if b, err := os.ReadFile(r.LogPath); err == nil {
				if f, err := os.CreateTemp("", "screenpopd-"+name+"-*.log"); err == nil {
					f.Write(b)
					f.Close()
					t.Logf("replica %s's log: %s", name, f.Name())
				}
			}
		}
	})
	return r
}

// Start runs the daemon; Ready waits for its /readyz.
func (r *Replica) Start() {
	r.t.Helper()
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	r.Cmd = exec.Command(Daemon(), r.Args...)
	r.Cmd.Stdout, r.Cmd.Stderr = logf, logf
	if err := r.Cmd.Start(); err != nil {
		r.t.Fatalf("start replica %s: %v", r.Name, err)
	}
	r.Starts++
	r.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(r.Cmd, r.exited)
}

// Ready waits until the daemon's /readyz answers 200, and fails the test
// if it exits first.
func (r *Replica) Ready() {
	r.t.Helper()
	// A replica's start makes the streams on a fresh NATS cluster, which
	// three nodes on a loaded machine may take a while to agree on.
	deadline := time.Now().Add(90 * time.Second)
	for {
		if code, _ := r.Readyz(); code == http.StatusOK {
			return
		}
		select {
		case err := <-r.exited:
			r.Cmd = nil
			r.t.Fatalf("replica %s exited before it was ready: %v", r.Name, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("replica %s not ready within 90 s", r.Name)
		}
	}
}

// Readyz is the daemon's answer to GET /readyz, 0 if it does not answer.
func (r *Replica) Readyz() (int, string) {
	resp, err := http.Get("http://" + r.HTTP + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var boxEpochRe = regexp.MustCompile(`(?m)^box ?(\S*): holder \(epoch (\d+)\)`)

// Holds reports the epoch under which the replica says it holds the box
// of cluster.pbx, 0 if it does not (or does not answer).
func (r *Replica) Holds() uint64 { return r.HoldsBox("") }

// HoldsBox reports the epoch under which the replica says (its /readyz)
// it holds box pbx of asterisk.boxes, 0 if it does not (or does not
// answer); pbx "" is the one box of cluster.pbx.
func (r *Replica) HoldsBox(pbx string) uint64 {
	if r.Cmd == nil {
		return 0
	}
	_, body := r.Readyz()
	for _, m := range boxEpochRe.FindAllStringSubmatch(body, -1) {
		if m[1] == pbx {
			n, _ := strconv.ParseUint(m[2], 10, 64)
			return n
		}
	}
	return 0
}

// Stop sends sig and waits for the daemon to exit; after SIGTERM it must
// exit cleanly.
func (r *Replica) Stop(sig syscall.Signal) {
	r.t.Helper()
	if err := r.Cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal replica %s: %v", r.Name, err)
	}
	select {
	case err := <-r.exited:
		if sig == syscall.SIGTERM && err != nil {
			r.t.Errorf("replica %s exited with %v after SIGTERM", r.Name, err)
		}
	case <-time.After(StopWait):
		r.t.Fatalf("replica %s did not exit within %s of %s", r.Name, StopWait, sig)
	}
	r.Cmd = nil
}

// Holder waits until exactly one replica says it holds the box, and
// returns it and its epoch.
func Holder(t *testing.T, rs []*Replica) (*Replica, uint64) {
	t.Helper()
	return BoxHolder(t, rs, "", oracletest.Long)
}

// BoxHolder waits up to within until exactly one replica says it holds
// box pbx ("": the one box of cluster.pbx), and returns it and its epoch.
func BoxHolder(t *testing.T, rs []*Replica, pbx string, within time.Duration) (*Replica, uint64) {
	t.Helper()
	var (
		h     *Replica
		epoch uint64
	)
	what := "one replica holds the box"
	if pbx != "" {
		what = "one replica holds box " + pbx
	}
	oracletest.WaitWithin(t, within, what, func() bool {
		h, epoch = nil, 0
		n := 0
		for _, r := range rs {
			if e := r.HoldsBox(pbx); e != 0 {
				h, epoch = r, e
				n++
			}
		}
		return n == 1
	})
	return h, epoch
}

// Cluster starts n replicas of box pbx1 on NATS at natsURL with the
// call log in PostgreSQL at dsn, and waits for them to be ready.
func Cluster(t *testing.T, n int, ariURL, natsURL, dsn string, streamReplicas int) []*Replica {
	t.Helper()
	return ClusterSpec{ARIURL: ariURL, NATSURL: natsURL, DSN: dsn, StreamReplicas: streamReplicas}.Start(t, n)
}

// ClusterSpec is what a cluster's replicas share.
type ClusterSpec struct {
	// ARIURL is the simulator's (what a box of Config leaves out); empty
	// for replicas Asterisk dials (ari.connect outbound, see New).
	ARIURL string
	// Config is the replicas' config file: empty for box pbx1 (of
	// ARIURL), or asterisk.boxes naming several.
	Config         string
	NATSURL        string
	DSN            string // the call log's PostgreSQL
	StreamReplicas int    // cluster.replicas: its streams' JetStream replication
}

// Replica makes replica name of the cluster, not started.
func (c ClusterSpec) Replica(t *testing.T, name string) *Replica {
	extra := []string{"--store-dsn", c.DSN, "--cluster-nats-url", c.NATSURL, "--cluster-replica", name,
		"--cluster-replicas", strconv.Itoa(c.StreamReplicas), "--cluster-lease-ttl", "3s"}
	if c.Config == "" {
		extra = append(extra, "--cluster-pbx", "pbx1")
	}
	return NewWithConfig(t, name, c.ARIURL, c.Config, extra...)
}

// Start starts n replicas of the cluster, r1 to rn, and waits for them
// to be ready.
func (c ClusterSpec) Start(t *testing.T, n int) []*Replica {
	t.Helper()
	var rs []*Replica
	for i := range n {
		rs = append(rs, c.Replica(t, fmt.Sprintf("r%d", i+1)))
	}
	for _, r := range rs {
		r.Start()
	}
	for _, r := range rs {
		r.Ready()
	}
	return rs
}

// FreePort is a loopback address no one listens on now, which stays
// free for the replica's restarts (testport).
func FreePort(t testing.TB) string {
	t.Helper()
	return testport.Addr(t)
}

package continuity_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// child is the daemon as a child process, run again and again on one data
// directory, its log (JSON) appended to one file.
type child struct {
	t                *testing.T
	bin, dataDir     string
	http, logPath    string
	args             []string
	cmd              *exec.Cmd
	exited           chan error
	starts, failures int
}

func newChild(t *testing.T, bin, ariURL string) *child {
	dir := t.TempDir()
	c := &child{t: t, bin: bin, dataDir: filepath.Join(dir, "data"), http: freePort(t), logPath: filepath.Join(dir, "daemon.log")}
	// A config of its own, empty: never the machine's installed one.
	config := filepath.Join(dir, "screenpop.yaml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = []string{"serve", "--config", config, "--ari-url", ariURL, "--ari-password", simPassword, "--ari-reconnect-min", "50ms", "--ari-reconnect-max", "500ms",
		"--store-data-dir", c.dataDir, "--http-listen", c.http, "--inbound-contexts", "from-trunk",
		"--operator-endpoints", "Local/{ext}@phones", "--log-format", "json", "--log-level", "info"}
	t.Cleanup(func() {
		if c.cmd != nil {
			c.stop(syscall.SIGKILL)
		}
		if t.Failed() {
			// The daemon's log outlives the test's directory, for whoever
			// looks into the failure.
			if b, err := os.ReadFile(c.logPath); err == nil {
				if f, err := os.CreateTemp("", "screenpopd-restarts-*.log"); err == nil {
					f.Write(b)
					f.Close()
					t.Logf("the daemon's log: %s", f.Name())
				}
			}
		}
	})
	return c
}

// start runs the daemon and waits until it is ready (connected to ARI,
// resynced, its store open); it returns when it was.
func (c *child) start() time.Time {
	c.t.Helper()
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(c.bin, c.args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start the daemon: %v", err)
	}
	c.starts++
	c.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(c.cmd, c.exited)
	waitLong(c.t, "the daemon is ready", func() bool {
		resp, err := http.Get("http://" + c.http + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return time.Now()
}

// stop sends sig and waits for the daemon to exit.
func (c *child) stop(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal the daemon: %v", err)
	}
	select {
	case err := <-c.exited:
		if sig == syscall.SIGTERM && err != nil {
			c.failures++
			c.t.Errorf("the daemon exited with %v after SIGTERM", err)
		}
	case <-time.After(stopWait):
		c.t.Fatalf("the daemon did not exit within %s of %s", stopWait, sig)
	}
	c.cmd = nil
}

// rows counts the calls in the call log (the embedded store).
func (c *child) rows() int {
	db, err := sql.Open("sqlite", filepath.Join(c.dataDir, "screenpop.db"))
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM calls").Scan(&n); err != nil {
		return 0
	}
	return n
}

// stored reads the call log once the daemon has stopped.
func (c *child) stored() []screenpop.Call {
	c.t.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(c.dataDir, "screenpop.db"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	var calls []screenpop.Call
	if err := db.Calls(ctx, store.CallFilter{Offers: true}, func(call screenpop.Call) error {
		calls = append(calls, call)
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	return calls
}

func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "screenpopd")
	// The daemon is the parent folder's package, cmd/screenpopd.
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("build the daemon: %v\n%s", err, out)
	}
	return bin
}

// TestRestartsKeepEveryCallRecord stops the daemon (a real child process)
// every few seconds during 300 calls and starts it again on the same
// data directory: with SIGTERM, every call that spans a restart has one
// record, equal to the oracle's or flagged; with kill -9 too, and no call
// that had ended is lost.
func TestRestartsKeepEveryCallRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 300 calls in real time twice (about 2 minutes each)")
	}
	bin := buildDaemon(t)
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		seed uint64
	}{
		{"SIGTERM", syscall.SIGTERM, 30},
		{"kill -9", syscall.SIGKILL, 31},
	} {
		t.Run(tt.name+" every few seconds keeps every call's record true", func(t *testing.T) {
			const calls = 300
			s, url := continuitySim(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			oracle := runTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: simPassword, App: "oracle", SubscribeAll: true})
			waitLong(t, "the oracle is connected", oracle.client.Ready)
			d := newChild(t, bin, url)
			d.start()

			loadDone := make(chan arisim.Stats, 1)
			go func() {
				st, err := s.Run(ctx, continuityLoad(calls, 5, tt.seed))
				if err != nil {
					t.Errorf("load: %v", err)
				}
				loadDone <- st
			}()
			rng := rand.New(rand.NewPCG(tt.seed, 1))
			var (
				blind    []window
				restarts []time.Time
				st       arisim.Stats
			)
		restarting:
			for {
				// Up 2 to 4 s: the fault's timing, not a wait for something.
				select {
				case st = <-loadDone:
					break restarting
				case <-time.After(time.Duration(2000+rng.IntN(2000)) * time.Millisecond):
				}
				stopped := time.Now()
				d.stop(tt.sig)
				ready := d.start()
				restarts = append(restarts, stopped)
				blind = append(blind, window{stopped, ready})
			}
			if st.Completed != calls {
				t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
			}
			truth := oracleRecords(t, oracle, calls)
			want := 0
			for _, c := range truth {
				if !insideOne(c, blind) {
					want++
				}
			}
			waitProgressLong(t, "the daemon has stored every call it could see", d.rows, func() bool { return d.rows() >= want })
			d.stop(syscall.SIGTERM)
			records := d.stored()

			spanning, spanningExact := 0, 0
			for _, c := range records {
				if w, ok := truth[c.ID]; ok && spans(w, restarts) {
					spanning++
					if len(c.Gaps) == 0 && len(c.Unflagged(w)) == 0 {
						spanningExact++
					}
				}
			}
			t.Logf("%d calls, %d restarts by %s (%d starts); %d rows; %d calls spanned a restart, %d of them exact, the others flagged",
				calls, len(restarts), tt.name, d.starts, len(records), spanning, spanningExact)
			judge(truth, records, blind).report(t)
			if spanning == 0 {
				t.Error("no call spanned a restart: the test tried nothing")
			}
		})
	}
}

// freePort is a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stopWait is how long a stopped daemon may take to exit: its own
// shutdown bound (15 s) and room for a loaded machine.
const stopWait = 30 * time.Second

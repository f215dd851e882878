package outage

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/replicas"
)

// daemon is screenpopd as its own process, on PostgreSQL, as an
// administrator runs it.
type daemon struct {
	bin, dsn, http, dataDir, logPath string
	cmd                              *exec.Cmd
	exited                           chan error
}

// newDaemon configures the daemon (replicas.Main built it) on the
// database at dsn.
func newDaemon(t *testing.T, dsn string) *daemon {
	t.Helper()
	dir := t.TempDir()
	return &daemon{bin: replicas.Daemon(), dsn: dsn, http: replicas.FreePort(t),
		dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "screenpopd.log")}
}

// run runs one of the daemon's commands on the test database and returns
// what it printed.
func (d *daemon) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(d.bin, append(args, "--store-dsn", d.dsn)...).CombinedOutput()
	if err != nil {
		t.Fatalf("screenpopd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// seed migrates the database and adds operators 101 and 102 and an
// admin with the daemon's own commands; it returns their keys by
// extension, and "admin".
func (d *daemon) seed(t *testing.T) map[string]string {
	t.Helper()
	d.run(t, "migrate")
	keys := map[string]string{}
	for _, op := range []struct{ name, ext string }{{"Анна Смирнова", "101"}, {"Борис Волков", "102"}} {
		keys[op.ext] = printed(t, d.run(t, "operator", "add", "--name", op.name, op.ext), "key")
	}
	keys["admin"] = printed(t, d.run(t, "token", "add", "--name", "Ольга", "--role", "admin"), "token")
	return keys
}

// printed is the value of the "label: value" line in a command's output.
func printed(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + label + `: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", label, out)
	}
	return m[1]
}

// start runs `screenpopd serve` against the simulated Asterisk at ariURL:
// a PJSIP call centre, phones PJSIP/101 and PJSIP/102.
func (d *daemon) start(t *testing.T, ariURL string) {
	t.Helper()
	logf, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(d.bin, "serve", "--ari-url", ariURL, "--ari-password", "pw", "--ari-ping-interval", "5s",
		"--ari-reconnect-min", "50ms", "--ari-reconnect-max", "200ms", "--store-dsn", d.dsn,
		"--store-data-dir", d.dataDir, "--http-listen", d.http, "--calls-linger", "100ms", "--log-level", "info",
		"--inbound-contexts", "from-trunk", "--operator-endpoints", "PJSIP/{ext}")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start the daemon: %v", err)
	}
	d.exited = make(chan error, 1)
	go func() { d.exited <- d.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("the daemon's log ends:\n%s", tail(d.logPath, 40))
		}
	})
}

// shutdown stops the daemon with SIGTERM, as systemd does, and waits for
// it to exit cleanly.
func (d *daemon) shutdown(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		if err != nil {
			t.Errorf("the daemon exited with %v after SIGTERM", err)
		}
	case <-time.After(time.Minute):
		t.Errorf("the daemon did not stop within a minute of SIGTERM")
	}
}

// get is the daemon's answer to a GET of path.
func (d *daemon) get(path string) (int, string) {
	resp, err := http.Get("http://" + d.http + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until /readyz says the daemon is ready.
func (d *daemon) waitReady(t *testing.T) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var code int
		if code, body = d.get("/readyz"); code == http.StatusOK {
			return
		}
	}
	t.Fatalf("/readyz did not answer 200 within a minute; last: %s", body)
}

// metric is a metric's line as /metrics shows it.
func (d *daemon) metric(name string) string {
	_, body := d.get("/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return name + " (not shown)"
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if lines = append(lines, sc.Text()); len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func newSim(t *testing.T, speed float64) (*arisim.Sim, string) {
	t.Helper()
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", Operators: []string{"101", "102"},
		Tech: arisim.TechPJSIP, ChannelVars: true, Speed: speed}, slog.New(slog.DiscardHandler))
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, url
}

// callRows counts the call log's rows and distinct call IDs, and lists
// the IDs; -1 while the database is away.
func callRows(t *testing.T, dsn string) (rows, distinct int, ids map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1, -1, nil
	}
	defer conn.Close(context.Background())
	rs, err := conn.Query(ctx, `SELECT call_id FROM calls`)
	if err != nil {
		return -1, -1, nil
	}
	list, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return -1, -1, nil
	}
	ids = map[string]bool{}
	for _, id := range list {
		ids[id] = true
	}
	return len(list), len(ids), ids
}

// waitFor polls cond every 100 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

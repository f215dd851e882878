package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/aritrace"
	"github.com/screenpop/screenpop/internal/testport"

	"github.com/gorilla/websocket"
	"github.com/spf13/pflag"
	_ "modernc.org/sqlite"
)

// fakeAsterisk answers the ARI calls screenpopd makes and hands each events
// websocket to the test.
type fakeAsterisk struct {
	srv      *httptest.Server
	conns    chan *websocket.Conn
	channels chan []json.RawMessage // what GET /channels answers next
	waiting  chan []string          // what GET /applications/screenpop lists next
	posts    chan restCall          // every POST screenpopd makes
}

// restCall is a POST the fake Asterisk received, and when.
type restCall struct {
	Path string
	Body string
	At   time.Time
}

func newFakeAsterisk(t *testing.T) *fakeAsterisk {
	f := &fakeAsterisk{conns: make(chan *websocket.Conn, 4), channels: make(chan []json.RawMessage, 4),
		waiting: make(chan []string, 4), posts: make(chan restCall, 100)}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ari/", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "screenpop" || p != "pw" {
			http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/ari/events":
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			// Read (and so answer pings) until the socket goes.
			go func() {
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}()
			f.conns <- ws
		case r.URL.Path == "/ari/channels":
			var list []json.RawMessage
			select {
			case list = <-f.channels:
			default:
			}
			if list == nil {
				list = []json.RawMessage{}
			}
			json.NewEncoder(w).Encode(list)
		case r.URL.Path == "/ari/bridges":
			io.WriteString(w, `[]`)
		case r.URL.Path == "/ari/asterisk/info":
			io.WriteString(w, `{"system":{"version":"22.10.1"}}`)
		case strings.HasSuffix(r.URL.Path, "/eventFilter"):
			io.WriteString(w, `{"name":"screenpop"}`)
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			f.posts <- restCall{Path: r.URL.Path, Body: string(b), At: time.Now()}
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/ari/applications/screenpop":
			var ids []string
			select {
			case ids = <-f.waiting:
			default:
			}
			json.NewEncoder(w).Encode(map[string]any{"name": "screenpop", "channel_ids": append([]string{}, ids...)})
		default:
			http.NotFound(w, r)
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAsterisk) nextConn(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case ws := <-f.conns:
		return ws
	case <-time.After(time.Minute): // only a broken daemon takes this long
		t.Fatal("screenpopd did not connect to the events websocket")
		return nil
	}
}

func send(t *testing.T, ws *websocket.Conn, lines [][]byte) {
	t.Helper()
	for _, l := range lines {
		if err := ws.WriteMessage(websocket.TextMessage, l); err != nil {
			t.Fatalf("send event: %v", err)
		}
	}
}

func traceLines(t *testing.T, name string) [][]byte {
	t.Helper()
	lines, err := aritrace.Lines(name)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// aliveAfter is the channel list Asterisk would give after the first n
// events of a trace: every channel created and not destroyed, as last seen.
func aliveAfter(lines [][]byte, n int) []json.RawMessage {
	var order []string
	last := map[string]json.RawMessage{}
	for _, l := range lines[:n] {
		var ev struct {
			Type    string          `json:"type"`
			Channel json.RawMessage `json:"channel"`
		}
		json.Unmarshal(l, &ev)
		var ch struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(ev.Channel, &ch) != nil || ch.ID == "" {
			continue
		}
		switch ev.Type {
		case "ChannelDestroyed":
			delete(last, ch.ID)
		default:
			if _, ok := last[ch.ID]; !ok {
				order = append(order, ch.ID)
			}
			last[ch.ID] = ev.Channel
		}
	}
	var list []json.RawMessage
	for _, id := range order {
		if c, ok := last[id]; ok {
			list = append(list, c)
		}
	}
	return list
}

// indexOf is the index of the first line containing all of subs.
func indexOf(t *testing.T, lines [][]byte, subs ...string) int {
	t.Helper()
next:
	for i, l := range lines {
		for _, s := range subs {
			if !bytes.Contains(l, []byte(s)) {
				continue next
			}
		}
		return i
	}
	t.Fatalf("no event contains %q", subs)
	return -1
}

// freePort is a loopback address nothing listens on, for a daemon to
// listen on later or as an address that refuses connections. Not a port
// the kernel handed out and took back: on a machine running many test
// packages at once, an outgoing connection or another test's listener
// often takes that one before the daemon listens (see internal/testport).
func freePort(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

type daemon struct {
	cfg     Config
	dataDir string
	http    string
	stop    context.CancelFunc
	done    chan error
}

// newDaemon configures a daemon for a test: embedded store in a temporary
// directory, fast ARI reconnects. The keepalive stays at a few seconds: a
// short one drops the socket when a loaded machine answers pings late, and
// the tests cut sockets by closing them, which the daemon sees at once.
func newDaemon(t *testing.T, ariURL string) *daemon {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addFlags(fs)
	d := &daemon{http: freePort(t), dataDir: t.TempDir(), done: make(chan error, 1)}
	err := fs.Parse(append([]string{"--ari-url", ariURL, "--ari-password", "pw", "--ari-ping-interval", "5s",
		"--ari-reconnect-min", "50ms", "--ari-reconnect-max", "200ms", "--store-data-dir", d.dataDir,
		"--http-listen", d.http, "--calls-linger", "100ms", "--log-level", "warn"}, traceFlags...))
	if err != nil {
		t.Fatal(err)
	}
	if d.cfg, err = loadConfig(fs); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *daemon) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	go func() { d.done <- serve(ctx, d.cfg, discardLogger()) }()
	t.Cleanup(func() { cancel(); <-d.done })
}

func startDaemon(t *testing.T, ariURL string) *daemon {
	t.Helper()
	d := newDaemon(t, ariURL)
	d.start(t)
	return d
}

// shutdown stops the daemon as SIGTERM would and waits for it.
func (d *daemon) shutdown(t *testing.T) {
	t.Helper()
	d.stop()
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
		d.done <- nil // for Cleanup
	case <-time.After(shutdownBound + 5*time.Second):
		t.Fatal("serve did not stop within its shutdown bound")
	}
}

func (d *daemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.http + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (d *daemon) waitReady(t *testing.T, want int) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var code int
		if code, body = d.get(t, "/readyz"); code == want {
			return body
		}
	}
	t.Fatalf("/readyz did not answer %d within a minute; last: %s", want, body)
	return ""
}

// waitCallsRecorded waits until call tracking has recorded n calls in all
// (screenpop_calls_total): a shutdown before then would record a call cut
// short, however slow the machine is.
func (d *daemon) waitCallsRecorded(t *testing.T, n int) {
	t.Helper()
	d.waitMetricSum(t, "screenpop_calls_total", n)
}

// waitEventsReceived waits until the daemon has read n ARI events in all
// (screenpop_ari_events_total): cutting the socket before then could lose
// some unread.
func (d *daemon) waitEventsReceived(t *testing.T, n int) {
	t.Helper()
	d.waitMetricSum(t, "screenpop_ari_events_total", n)
}

// waitMetricSum waits until the sum of a counter over its labels reaches n.
func (d *daemon) waitMetricSum(t *testing.T, metric string, n int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + metric + `(?:\{[^}]*\})? (\d+)`)
	got := 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := d.get(t, "/metrics")
		got = 0
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			v, _ := strconv.Atoi(m[1])
			got += v
		}
		if got >= n {
			return
		}
	}
	t.Fatalf("%s reached %d within a minute, want %d", metric, got, n)
}

// storedCalls reads the embedded call log after the daemon stopped.
func storedCalls(t *testing.T, cfg Config) map[string][]any {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT call_id, status, answered_by, ring_seconds, talk_seconds, close_reason FROM calls")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][]any{}
	for rows.Next() {
		var id, status, closeReason string
		var by sql.NullString
		var ring, talk float64
		if err := rows.Scan(&id, &status, &by, &ring, &talk, &closeReason); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[id]; dup {
			t.Errorf("call %s is in the call log twice", id)
		}
		got[id] = []any{status, by.String, ring, talk, closeReason}
	}
	return got
}

func TestServeKeepsACallRightAcrossADroppedSocket(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	// Drop the socket once both legs are bridged, come back before hangup.
	cut := indexOf(t, lines, `"ChannelEnteredBridge"`, `from-trunk-0000003c;2`) + 1
	resume := indexOf(t, lines, `"ChannelHangupRequest"`)

	ast := newFakeAsterisk(t)
	d := startDaemon(t, ast.srv.URL+"/ari")
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	send(t, ws, lines[:cut])
	d.waitEventsReceived(t, cut)
	ast.channels <- aliveAfter(lines, resume)
	ws.NetConn().Close() // no close frame: the network went away

	ws = ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	// Asterisk does not replay what was sent before; events go on.
	send(t, ws, lines[resume:])
	d.waitCallsRecorded(t, 1)
	_, metrics := d.get(t, "/metrics")
	d.shutdown(t)

	got := storedCalls(t, d.cfg)
	want := []any{"answered", "101", 2.001, 3.505, ""}
	if len(got) != 1 || !approxRow(got["call-answered"], want) {
		t.Errorf("call log holds %v, want only call-answered = %v", got, want)
	}
	if !strings.Contains(metrics, "screenpop_ari_reconnects_total 1") {
		t.Errorf("/metrics does not count the reconnect:\n%s", grepLines(metrics, "screenpop_ari"))
	}
}

func TestServeRecordsACallThatEndedWhileDisconnectedOnce(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	cut := indexOf(t, lines, `"ChannelEnteredBridge"`, `from-trunk-0000003c;2`) + 1

	ast := newFakeAsterisk(t)
	d := startDaemon(t, ast.srv.URL+"/ari")
	ws := ast.nextConn(t)
	send(t, ws, lines[:cut])
	d.waitEventsReceived(t, cut)
	ws.NetConn().Close()
	// By the time we are back, the call is over: no channels.
	ast.channels <- []json.RawMessage{}
	ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	d.waitCallsRecorded(t, 1)
	d.shutdown(t)

	got := storedCalls(t, d.cfg)
	if len(got) != 1 || got["call-answered"][0] != "answered" || got["call-answered"][4] != "ended while the ARI connection was down" {
		t.Errorf("call log holds %v, want call-answered answered, closed as ended while disconnected", got)
	}
}

func TestServeReportsNotReadyWhileAsteriskIsUnreachable(t *testing.T) {
	d := startDaemon(t, "http://"+freePort(t)+"/ari")
	body := d.waitReady(t, http.StatusServiceUnavailable)
	// Without a staff token it names what is not ready, not why.
	if !strings.Contains(body, "not ready: ARI") || strings.Contains(body, "not connected") {
		t.Errorf("/readyz says %q, want it to name ARI and no details", body)
	}
	if code, _ := d.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while the process runs", code)
	}
	start := time.Now()
	d.shutdown(t)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %v with nothing to drain", took)
	}
}

func approxRow(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if w, ok := want[i].(float64); ok {
			if g, ok := got[i].(float64); !ok || g < w-0.1 || g > w+0.1 {
				return false
			}
			continue
		}
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

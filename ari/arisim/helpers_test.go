package arisim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/aritrace"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/screenpop/screenpop/ari/arisim"
)

// TestMain checks that no test leaves a goroutine behind: every
// simulator, websocket and call has ended.
func TestMain(m *testing.M) {
	code := m.Run()
	// Keep-alive connections of the tests' own HTTP client.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	testUser     = "screenpop"
	testPassword = "s3cret-Pa55"
	// testSpeed runs the traces' seconds of ringing and talking in tens
	// of milliseconds.
	testSpeed = 100
)

// newSim starts a simulator on a random loopback port until the test ends
// and returns it with its ARI base URL.
func newSim(t testing.TB, cfg arisim.Config) (*arisim.Sim, string) {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = testUser, testPassword
	}
	if cfg.Speed == 0 {
		cfg.Speed = testSpeed
	}
	if len(cfg.Operators) == 0 {
		cfg.Operators = []string{"101", "102"}
	}
	s := arisim.New(cfg, nil)
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, url
}

// listener is a client of the events websocket: it keeps every message.
type listener struct {
	t  testing.TB
	ws *websocket.Conn

	mu   sync.Mutex
	msgs [][]byte
	// more is closed, and replaced, when a message arrives: a wake-up
	// for every goroutine waiting (a test's waitN and its answerStasis),
	// where a value would wake only one of them.
	more chan struct{}
	done chan struct{} // closed when the reader ends
}

// listen opens the events websocket of app and waits until the simulator
// has registered the application: like Asterisk, it does so only after
// answering the handshake.
func listen(t testing.TB, s *arisim.Sim, base, app string, subscribeAll bool) *listener {
	t.Helper()
	u := strings.Replace(base, "http://", "ws://", 1) + "/events?app=" + app
	if subscribeAll {
		u += "&subscribeAll=true"
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, authHeader(testUser, testPassword))
	if err != nil {
		t.Fatalf("open events websocket: %v", err)
	}
	resp.Body.Close()
	l := &listener{t: t, ws: ws, more: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.msgs = append(l.msgs, msg)
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(l.close)
	waitUntil(t, "the simulator registers application "+app, func() bool { return s.Connected(app) })
	return l
}

func authHeader(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "http://localhost", nil)
	req.SetBasicAuth(user, password)
	return http.Header{"Authorization": req.Header["Authorization"]}
}

// close ends the connection and waits for the reader.
func (l *listener) close() {
	l.ws.Close()
	<-l.done
}

// messages is what arrived so far.
func (l *listener) messages() [][]byte {
	msgs, _ := l.arrived()
	return msgs
}

// arrived is what arrived so far, and a channel closed when more does.
func (l *listener) arrived() ([][]byte, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.msgs...), l.more
}

// waitFor waits until cond holds for the messages received so far. Its
// bound only ends a broken test: it allows for a starved, loaded machine.
func (l *listener) waitFor(what string, cond func([][]byte) bool) [][]byte {
	l.t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		msgs, more := l.arrived()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-more:
		case <-deadline.C:
			l.t.Fatalf("gave up waiting for %s; got %d messages", what, len(msgs))
		case <-l.done:
			if msgs := l.messages(); cond(msgs) {
				return msgs
			}
			l.t.Fatalf("the events websocket closed while waiting for %s", what)
		}
	}
}

// waitN waits for n messages.
func (l *listener) waitN(n int) [][]byte {
	l.t.Helper()
	return l.waitFor(fmt.Sprintf("%d events", n), func(msgs [][]byte) bool { return len(msgs) >= n })
}

func (l *listener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// answerStasis does what the daemon's Stasis mode and the traces'
// recording app did: on StasisStart it sets CALLERID(name), if name is
// not empty, and continues the channel. It runs until the test ends.
func (l *listener) answerStasis(base, name string) {
	l.t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := 0
		for {
			msgs, more := l.arrived()
			for _, m := range msgs[seen:] {
				var e struct {
					Type    string
					Channel struct{ ID string }
				}
				if json.Unmarshal(m, &e) != nil || e.Type != "StasisStart" {
					continue
				}
				if name != "" {
					post(base+"/channels/"+e.Channel.ID+"/variable", `{"variable":"CALLERID(name)","value":"`+name+`"}`)
				}
				post(base+"/channels/"+e.Channel.ID+"/continue", "")
			}
			seen = len(msgs)
			select {
			case <-more:
			case <-stop:
				return
			}
		}
	}()
	l.t.Cleanup(func() { close(stop); <-done })
}

// post makes an authenticated POST, ignoring the answer.
func post(url, body string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testUser, testPassword)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// rest makes an authenticated REST call and returns the status and body.
func rest(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// waitUntil polls cond for up to a minute (a bound for a broken test, not
// a speed target).
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitProgress polls cond, as waitUntil does, for as long as progress (a
// count that grows while the work goes on) has grown within the last 5 s:
// a machine busy with other tests is slow, not stuck.
func waitProgress(t testing.TB, what string, progress func() int, cond func() bool) {
	t.Helper()
	last, since := progress(), time.Now()
	for !cond() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > 5*time.Second {
			t.Fatalf("gave up waiting until %s: no progress for 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typeOf reads the type of an event.
func typeOf(t testing.TB, msg []byte) string {
	t.Helper()
	var e struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(msg, &e); err != nil {
		t.Fatalf("event is not JSON: %v: %s", err, msg)
	}
	return e.Type
}

// tracesDir is the repository's copy of the recorded traces, or
// $SCREENPOP_TRACES.
func tracesDir(t testing.TB) string {
	t.Helper()
	dir, err := aritrace.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// readTrace reads a trace, one event a line.
func readTrace(t testing.TB, name string) [][]byte {
	t.Helper()
	lines, err := aritrace.Lines(name)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

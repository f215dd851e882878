package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/internal/testport"
	"github.com/screenpop/screenpop/screenpop"
)

// harness runs a Client against a test server and collects what call
// tracking would receive.
type harness struct {
	c    *Client
	out  chan screenpop.Event
	m    *Metrics
	logs *logBuffer
	stop context.CancelFunc
	done chan struct{} // closed when Run returned
	// heard are the reader's heard ticks (pongs) next skipped, in order.
	heard []screenpop.Event
}

// testConfig is a config for s with waits short enough for tests.
func testConfig(s *ariServer) Config {
	return Config{
		URL:          s.URL(),
		Username:     s.user,
		Password:     s.password,
		App:          "screenpop",
		SubscribeAll: true,
		PingInterval: 5 * time.Second, // only the keepalive test needs it short

		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond,
	}
}

// startClient runs a client with cfg until the test ends.
func startClient(t *testing.T, cfg Config) *harness {
	t.Helper()
	return startClientQueue(t, cfg, 10000)
}

// startClientQueue is startClient with call tracking's queue holding
// queue events.
func startClientQueue(t *testing.T, cfg Config, queue int) *harness {
	t.Helper()
	h := &harness{
		out:  make(chan screenpop.Event, queue),
		m:    NewMetrics(nil),
		logs: &logBuffer{},
		done: make(chan struct{}),
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewClient(cfg, NewIntake(NewDecoder("FROM_DID"), h.out, h.m, log), h.m, log)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() {
		defer close(h.done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run returned %v", err)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client log:\n%s", h.logs)
		}
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	return h
}

// asideHeard keeps ev in h.heard if it is one of the reader's heard
// ticks, which come whenever a pong does, and reports whether it was.
func (h *harness) asideHeard(ev screenpop.Event) bool {
	if ev.Kind == screenpop.EventTick && ev.Heard {
		h.heard = append(h.heard, ev)
		return true
	}
	return false
}

// next is the next event call tracking receives, heard ticks aside.
func (h *harness) next(t *testing.T) screenpop.Event {
	t.Helper()
	for {
		select {
		case ev := <-h.out:
			if !h.asideHeard(ev) {
				return ev
			}
		case <-time.After(time.Minute): // only a broken client waits this long
			t.Fatal("no event reached call tracking")
			return screenpop.Event{}
		}
	}
}

func (h *harness) nextN(t *testing.T, n int) []screenpop.Event {
	t.Helper()
	evs := make([]screenpop.Event, 0, n)
	for range n {
		evs = append(evs, h.next(t))
	}
	return evs
}

// nextResync checks that the next event is a resync and returns it.
func (h *harness) nextResync(t *testing.T) screenpop.Event {
	t.Helper()
	ev := h.next(t)
	if ev.Kind != screenpop.EventResync {
		t.Fatalf("call tracking got %s %s before the resync", ev.Type, ev.Channel.ID)
	}
	return ev
}

func (h *harness) nothingFor(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-h.out:
			if !h.asideHeard(ev) {
				t.Fatalf("call tracking got %s %s, want nothing", ev.Type, ev.Channel.ID)
			}
		case <-deadline:
			return
		}
	}
}

// waitFor polls cond until it holds. Its bound only ends a test that is
// broken, so it allows for a starved, loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects JSON log records.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// records returns the log records, decoded.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log record %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// loud returns the messages of the records at Warn and above, each
// followed by its err attribute.
func (l *logBuffer) loud(t *testing.T) []string {
	t.Helper()
	var msgs []string
	for _, rec := range l.records(t) {
		if rec["level"] == "WARN" || rec["level"] == "ERROR" {
			msgs = append(msgs, fmt.Sprintf("%s: %v", rec["msg"], rec["err"]))
		}
	}
	return msgs
}

// wantEvents is what call tracking must receive for lines: the events the
// decoder can use, in the order Asterisk sent them.
func wantEvents(t *testing.T, lines [][]byte) []screenpop.Event {
	t.Helper()
	dec := NewDecoder("FROM_DID")
	var evs []screenpop.Event
	for _, l := range lines {
		ev, _, err := dec.Decode(l)
		if err == nil && ev.Kind != screenpop.EventUnknown {
			evs = append(evs, ev)
		}
	}
	return evs
}

// channelsOf returns the channels of the first n ChannelCreated events of
// a trace, as Asterisk would list them and as the decoder made them.
func channelsOf(t *testing.T, trace string, n int) ([]ariv5.ChannelData, []screenpop.Channel) {
	t.Helper()
	var (
		data  []ariv5.ChannelData
		chans []screenpop.Channel
	)
	dec := NewDecoder("FROM_DID")
	for _, l := range traceLines(t, trace) {
		if len(data) == n {
			break
		}
		var e ariv5.ChannelCreated
		if typ, _ := EventType(l); typ != "ChannelCreated" {
			continue
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("decode ChannelCreated: %v", err)
		}
		ev, _, err := dec.Decode(l)
		if err != nil {
			t.Fatalf("decode ChannelCreated: %v", err)
		}
		data = append(data, e.Channel)
		chans = append(chans, ev.Channel)
	}
	if len(data) != n {
		t.Fatalf("%s has %d ChannelCreated events, want %d", trace, len(data), n)
	}
	return data, chans
}

var ignoreAt = cmpopts.IgnoreFields(screenpop.Event{}, "At")

// closedPort returns the address of a port on which nothing listens: not
// one the kernel handed out and took back, which another test package's
// listener may take meanwhile (see internal/testport).
func closedPort(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// writeCA writes the test server's certificate as a PEM CA file.
func writeCA(t *testing.T, s *ariServer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

package ari

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRunQueuesEventsDuringResync(t *testing.T) {
	s := newARIServer(t, false)
	data, chans := channelsOf(t, "answered.jsonl", 1)
	s.setChannels(data...)
	s.channelsGate = make(chan struct{})
	h := startClient(t, testConfig(s))
	conn := s.accept()
	select {
	case <-s.channelsAsked:
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not ask for the channels")
	}
	// Asterisk goes on sending while GET /channels is under way.
	lines := traceLines(t, "answered.jsonl")
	conn.send(lines...)

	t.Run("nothing is handed on before the resync", func(t *testing.T) {
		h.nothingFor(t, 100*time.Millisecond)
		if h.c.Ready() {
			t.Error("the client is ready before the resync")
		}
	})
	close(s.channelsGate)
	t.Run("the resync comes first, then every event read meanwhile, in order", func(t *testing.T) {
		ev := h.nextResync(t)
		if d := cmp.Diff(chans, ev.Channels); d != "" {
			t.Errorf("resync channels (-want +got):\n%s", d)
		}
		want := wantEvents(t, lines)
		if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
	})
}

func TestRunNeverHandsOnEventsWithoutResync(t *testing.T) {
	s := newARIServer(t, false)
	s.channelsStatus = []int{500}
	s.channelsGate = make(chan struct{})
	h := startClient(t, testConfig(s))
	first := s.accept()
	select {
	case <-s.channelsAsked:
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not ask for the channels")
	}
	first.send(traceLines(t, "answered.jsonl")[:20]...)
	close(s.channelsGate) // GET /channels fails

	first.waitGone(5 * time.Second)
	s.accept()
	ev := h.nextResync(t)
	if len(ev.Channels) != 0 {
		t.Errorf("resync lists %d channels, want 0", len(ev.Channels))
	}
	h.nothingFor(t, 100*time.Millisecond)
}

func TestRunSkipsWhatItCannotUse(t *testing.T) {
	s := newARIServer(t, false)
	h := startClient(t, testConfig(s))
	conn := s.accept()
	h.nextResync(t)

	const ts = `"timestamp":"2026-11-24T23:00:36.321+0000"`
	const tail = `"asterisk_id":"02:fc:00:00:00:01","application":"screenpop"}`
	const ch = `"channel":{"id":"call-x","name":"PJSIP/trunk-00000001","state":"Up","caller":{"name":"","number":"+79161234567"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-trunk","exten":"74951112233","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-24T23:00:36.321+0000","language":"en"}`
	conn.send(
		[]byte(`{"type":"CallBroadcast",`+ts+`,`+ch+`,"caller":"+79161234567","called":"101",`+tail),
		[]byte(`{"type":"ChannelToneDetected",`+ts+`,`+ch+`,`+tail),
		[]byte(`{"type":"ApplicationRegistered",`+ts+`,`+tail),
		[]byte(`{"type":"RESTResponse","transaction_id":"t1","request_id":"r1","status_code":200,"reason_phrase":"OK","uri":"channels","content_type":"application/json","message_body":"[]",`+ts+`,`+tail),
		[]byte(`{"type":"ChannelCreated",`+ts+`,"channel":{"id":`),
		[]byte(`not json at all`),
	)
	conn.sendBinary([]byte{0x81, 0x00, 0xff})
	lines := traceLines(t, "answered.jsonl")
	conn.send(lines...)

	t.Run("later events still arrive", func(t *testing.T) {
		want := wantEvents(t, lines)
		if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
	})
	t.Run("unknown types and broken messages are counted", func(t *testing.T) {
		if got := testutil.ToFloat64(h.m.Unknown); got != 4 {
			t.Errorf("unknown = %v, want 4", got)
		}
		if got := testutil.ToFloat64(h.m.Malformed); got != 3 {
			t.Errorf("malformed = %v, want 3", got)
		}
		// Each unknown type is counted under one label, not its own.
		if got := testutil.ToFloat64(h.m.Events.WithLabelValues("unknown")); got != 4 {
			t.Errorf("events labelled unknown = %v, want 4", got)
		}
		if got := testutil.ToFloat64(h.m.Events.WithLabelValues("RESTResponse")); got != 0 {
			t.Errorf("RESTResponse events = %v, want 0: an unknown type has no series of its own", got)
		}
	})
	t.Run("the connection stays up", func(t *testing.T) {
		s.noConnection(100 * time.Millisecond)
		select {
		case <-conn.gone:
			t.Error("the client closed the connection")
		default:
		}
		if !h.c.Ready() || testutil.ToFloat64(h.m.Reconnects) != 0 {
			t.Error("the client reconnected")
		}
	})
}

func TestRunReconnectsAfterHugeMessage(t *testing.T) {
	s := newARIServer(t, false)
	h := startClient(t, testConfig(s))
	conn := s.accept()
	h.nextResync(t)

	huge := append([]byte(`{"type":"ChannelVarset","value":"`), bytes.Repeat([]byte("x"), maxMessage)...)
	huge = append(huge, `"}`...)
	_ = conn.ws.WriteMessage(websocket.TextMessage, huge) // may fail: the client hangs up mid-message
	conn.waitGone(5 * time.Second)

	conn = s.accept()
	h.nextResync(t)
	lines := traceLines(t, "answered.jsonl")
	want := wantEvents(t, lines)
	conn.send(lines...)
	if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
		t.Errorf("events after the reconnect (-want +got):\n%s", d)
	}
	if loud := h.logs.loud(t); len(loud) != 1 || !strings.Contains(loud[0], "larger than") {
		t.Errorf("warnings logged: %q, want one saying the message was too large", loud)
	}
}

func TestRunNoticesDeadSocket(t *testing.T) {
	// A pong must come within an interval of its ping: on a loaded CI
	// machine, 200 ms was not always enough for the test's own server to
	// answer, and the client rightly gave the socket up.
	const interval = time.Second
	t.Parallel()
	s := newARIServer(t, false)
	cfg := testConfig(s)
	cfg.PingInterval = interval
	h := startClient(t, cfg)
	conn := s.accept()
	h.nextResync(t)

	t.Run("pongs keep a quiet connection up", func(t *testing.T) {
		s.noConnection(6 * interval)
		if !h.c.Ready() {
			t.Error("the client is not ready")
		}
	})
	t.Run("each pong after an event tells call tracking, behind the events read before it, until when Asterisk was heard", func(t *testing.T) {
		lines := traceLines(t, "answered.jsonl")[:3]
		conn.send(lines...)
		evs := h.nextN(t, len(wantEvents(t, lines)))
		last := evs[len(evs)-1].At
		h.heard = nil
		for deadline := time.Now().Add(time.Minute); len(h.heard) < 2; h.nothingFor(t, interval) {
			if time.Now().After(deadline) {
				t.Fatalf("%d heard ticks in a minute of pongs every %v", len(h.heard), interval)
			}
		}
		for _, ev := range h.heard {
			if !ev.At.After(last) {
				t.Errorf("heard until %v, not after the last event read (%v)", ev.At, last)
			}
		}
		if !h.heard[1].At.After(h.heard[0].At) {
			t.Errorf("the second pong heard until %v, the first %v", h.heard[1].At, h.heard[0].At)
		}
	})
	t.Run("a socket that stops answering is replaced within a few intervals", func(t *testing.T) {
		conn.deaf.Store(true)
		start := time.Now()
		s.accept()
		if took := time.Since(start); took > 5*interval {
			t.Errorf("reconnected after %s, want within %s", took, 5*interval)
		}
		h.nextResync(t)
		if loud := h.logs.loud(t); len(loud) != 1 || !strings.Contains(loud[0], "no message or pong") {
			t.Errorf("warnings logged: %q, want one about the silent socket", loud)
		}
	})
}

func TestTheReaderKeepsReadingWhileCallTrackingIsBlocked(t *testing.T) {
	s := newARIServer(t, false)
	h := startClientQueue(t, testConfig(s), 1)
	conn := s.accept()
	h.nextResync(t)
	// Call tracking now stands still: nobody reads h.out. Asterisk goes
	// on sending, and would cut a socket it could not write to.
	trace := traceLines(t, "burst.jsonl")
	var lines [][]byte
	for range 40 {
		lines = append(lines, trace...)
	}
	conn.send(lines...)
	want := wantEvents(t, lines)
	waitFor(t, "every event read off the socket while call tracking is blocked", func() bool {
		return h.c.in.Backlog() >= len(want)-cap(h.out)
	})
	if d := testutil.ToFloat64(h.m.Dropped); d != 0 {
		t.Errorf("%v events dropped", d)
	}
	if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
		t.Errorf("events once call tracking moved again (-want +got):\n%s", d)
	}
	if r := testutil.ToFloat64(h.m.Reconnects); r != 0 {
		t.Errorf("the connection was made again %v times", r)
	}
}

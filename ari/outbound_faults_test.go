package ari

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// An overrun on Asterisk's outbound websocket (call tracking fell more
// than its backlog behind, events were given up) must start the
// connection over with a resync, as it does on the events websocket;
// otherwise every later event is given up too, until some later
// connection happens to resync.
func TestAnOutboundOverrunStartsOverWithAResync(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	cfg := outboundConfig("pbx1", "screenpop")
	out := make(chan screenpop.Event, 4) // call tracking stands still at first
	m := NewMetrics(nil)
	log := slog.New(slog.DiscardHandler)
	in := NewIntake(NewDecoder("FROM_DID"), out, m, log)
	in.backlog = newBacklog(5)
	c, err := NewClient(cfg, in, m, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Add(c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if ev := <-out; ev.Kind != screenpop.EventResync {
		t.Fatalf("first event %s, want the resync", ev.Type)
	}
	waitFor(t, "the client is ready", c.Ready)
	if _, err := s.Place(context.Background(), arisim.Call{Scenario: arisim.Answered, Caller: "+74951234567", DID: "74951112233", Operators: []string{"101"},
		RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "events were given up", func() bool { return m.Totals().Dropped > 0 })
	// Call tracking catches up: a resync must come to say what was lost.
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-out:
			if ev.Kind == screenpop.EventResync {
				return
			}
		case <-deadline:
			t.Fatalf("no resync after the overrun; %d events given up, Ready=%v", m.Totals().Dropped, c.Ready())
		}
	}
}

// fakeAsterisk dials the outbound server as Asterisk's outbound websocket
// does and answers REST requests; hangUpOnInfo makes it write events and
// then close cleanly (1000) instead of answering GET /asterisk/info. It
// returns a function that writes a message, or closes cleanly with nil.
func fakeAsterisk(t *testing.T, uri string, events [][]byte, hangUpOnInfo bool) func([]byte) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", basicAuth("screenpop", simPassword))
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}}
	ws, _, err := d.Dial(uri, h)
	if err != nil {
		t.Fatal(err)
	}
	var wmu sync.Mutex
	write := func(msg []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		if msg == nil {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
			return
		}
		_ = ws.WriteMessage(websocket.TextMessage, msg)
	}
	for _, ev := range events {
		write(ev)
	}
	go func() {
		defer ws.Close()
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var req restRequest
			if json.Unmarshal(msg, &req) != nil {
				continue
			}
			body := "[]"
			switch {
			case req.URI == "asterisk/info":
				if hangUpOnInfo {
					write(nil)
					continue
				}
				body = `{"system":{"entity_id":"02:fc:00:00:00:01"},"status":{"startup_time":"2026-11-24T22:00:00.000+0000"}}`
			case strings.HasPrefix(req.URI, "applications/"):
				body = `{"name":"screenpop","channel_ids":[]}`
			}
			rep, _ := json.Marshal(restReply{Type: restResponse, RequestID: req.RequestID, StatusCode: 200, ReasonPhrase: "OK", ContentType: "application/json", MessageBody: body})
			write(rep)
		}
	}()
	return write
}

// Asterisk writes what it queued, then closes cleanly before it answers
// GET /asterisk/info: the events it wrote were never handed on, so they
// must not be lost silently: the next connection (same Asterisk, same
// startup time) must resync.
func TestAQueueCutShortByACleanCloseIsNotTrusted(t *testing.T) {
	srv, uri := outboundServer(t)
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	conn1 := fakeAsterisk(t, uri, nil, false)
	h.nextResync(t) // the first connection
	waitFor(t, "the client is ready", h.c.Ready)
	conn1(nil) // a clean close read to the end: the next connection is trusted
	waitFor(t, "the first connection ended", func() bool { return !h.c.Ready() && h.c.out.sess.Load() == nil })

	fakeAsterisk(t, uri, [][]byte{channelCreated("queued")}, true)
	waitFor(t, "the second connection ended", func() bool {
		return strings.Contains(h.logs.String(), "ended before it was ready") && h.c.out.sess.Load() == nil
	})

	conn3 := fakeAsterisk(t, uri, nil, false)
	waitFor(t, "the client is ready again", h.c.Ready)
	conn3(channelCreated("after"))
	seen := false
	for {
		ev := h.next(t)
		if ev.Kind == screenpop.EventResync || ev.Channel.ID == "queued" {
			seen = true
		}
		if ev.Channel.ID == "after" {
			break
		}
	}
	if !seen {
		t.Errorf("the event Asterisk wrote on the cut-short connection never reached call tracking, and no resync came; log:\n%s", h.logs)
	}
}

// A batched intake must not say it was replaced before it handed on the
// events that came before ApplicationReplaced: a cluster holder that sees
// Replaced appends what was handed on, then marks the log handed over,
// and the next holder goes on from the mark without a resync.
func TestABatchedIntakeSaysReplacedOnlyAfterTheEventsBeforeIt(t *testing.T) {
	out := make(chan screenpop.Event, 4)
	in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.DiscardHandler))
	in.batched = true
	ctx := context.Background()
	in.Feed(ctx, channelCreated("before"))
	in.Feed(ctx, []byte(`{"type":"ApplicationReplaced","timestamp":"2026-11-24T23:00:36.321+0000","application":"screenpop","asterisk_id":"02:fc:00:00:00:01"}`))
	if in.Replaced() && len(out) == 0 {
		t.Fatal("the intake says it was replaced while the event that came before ApplicationReplaced is not handed on yet")
	}
}

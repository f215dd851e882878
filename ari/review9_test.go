package ari

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// An overrun on Asterisk's outbound websocket (call tracking fell more
// than its backlog behind, events were given up) must start the
// connection over with a resync, as it does on the events websocket;
// otherwise every later event is given up too, until some later
// connection happens to resync.
func TestReview9OutboundOverrunIsResynced(t *testing.T) {
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

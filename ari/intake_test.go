package ari

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

func TestIntakeReportsAnotherClientTakingOverTheApplication(t *testing.T) {
	out := make(chan screenpop.Event, 4)
	in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.Feed(context.Background(), []byte(`{"type":"ApplicationReplaced","timestamp":"2026-11-24T23:00:36.321+0000","application":"screenpop"}`))
	if !in.Replaced() {
		t.Fatal("ApplicationReplaced did not mark the intake replaced")
	}
	if len(out) != 0 {
		t.Errorf("ApplicationReplaced reached call tracking")
	}
	in.SendResync(context.Background(), screenpop.Event{Kind: screenpop.EventResync})
	if in.Replaced() {
		t.Error("a new connection's resync did not clear the replaced mark")
	}
}

func TestSendResyncWaitsForRoomInsteadOfDropping(t *testing.T) {
	out := make(chan screenpop.Event) // no room at all until read
	m := NewMetrics(nil)
	in := NewIntake(NewDecoder("FROM_DID"), out, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go in.SendResync(context.Background(), screenpop.Event{Kind: screenpop.EventResync})
	if ev := <-out; ev.Kind != screenpop.EventResync {
		t.Fatalf("got %v, want the resync", ev.Kind)
	}
	if got := m.Totals().Dropped; got != 0 {
		t.Errorf("%d events dropped", got)
	}
}

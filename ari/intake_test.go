package ari

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// channelCreated is a real ChannelCreated event for channel id.
func channelCreated(id string) []byte {
	return []byte(`{"type":"ChannelCreated","timestamp":"2026-11-24T23:00:36.321+0000","channel":{"id":"` + id + `","name":"Local/74951112233@from-trunk-0000003c;1","state":"Down","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-trunk","exten":"74951112233","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-24T23:00:36.321+0000","language":"en","channelvars":{"CHANNEL(linkedid)":"call-answered","FROM_DID":""}},"asterisk_id":"02:fc:00:00:00:01","application":"screenpop"}`)
}

func TestIntakeKeepsEveryEventWhileCallTrackingIsBlocked(t *testing.T) {
	const n = 20000
	out := make(chan screenpop.Event, 4) // call tracking stands still: nobody reads
	m := NewMetrics(nil)
	in := NewIntake(NewDecoder("FROM_DID"), out, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		in.Feed(ctx, channelCreated(strconv.Itoa(i))) // returns at once: the reader never waits
	}
	if got := m.Totals().Dropped; got != 0 {
		t.Fatalf("%d events dropped while call tracking was blocked", got)
	}
	if got := in.Backlog(); got < n-cap(out)-1 {
		t.Errorf("backlog %d, want about %d events waiting", got, n-cap(out))
	}
	in.SendResync(ctx, screenpop.Event{Kind: screenpop.EventResync})
	for i := range n {
		ev := <-out
		if ev.Channel.ID != strconv.Itoa(i) {
			t.Fatalf("event %d is for channel %q: out of order", i, ev.Channel.ID)
		}
	}
	if ev := <-out; ev.Kind != screenpop.EventResync {
		t.Fatalf("after the events came %v, want the resync behind them", ev.Kind)
	}
	select {
	case <-in.Overrun():
		t.Error("the intake asked for a resync though nothing was lost")
	default:
	}
}

func TestIntakePastItsBacklogCountsWhatItGivesUpAndAsksForAResync(t *testing.T) {
	out := make(chan screenpop.Event, 4)
	m := NewMetrics(nil)
	in := NewIntake(NewDecoder("FROM_DID"), out, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.backlog = newBacklog(10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 20 {
		in.Feed(ctx, channelCreated(strconv.Itoa(i)))
	}
	if got := m.Totals().Dropped; got != 6 {
		t.Errorf("%d events counted as dropped, want 6 (20 less 4 queued and 10 in the backlog)", got)
	}
	select {
	case <-in.Overrun():
	default:
		t.Fatal("events were given up but the connection was not told to resync")
	}
	in.SendResync(ctx, screenpop.Event{Kind: screenpop.EventResync})
	var got []string
	for i := range 16 {
		if i == 15 { // once call tracking has caught up, events flow again
			in.Feed(ctx, channelCreated("after"))
		}
		var ev screenpop.Event
		select {
		case ev = <-out:
		case <-time.After(time.Minute):
			t.Fatalf("after %v, no more events came (backlog %d, totals %+v)", got, in.Backlog(), m.Totals())
		}
		got = append(got, ev.Channel.ID)
		if ev.Kind == screenpop.EventResync {
			got[len(got)-1] = "resync"
		}
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "resync", "after"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events handed on (-want +got):\n%s", diff)
	}
}

// A batched intake (the events of one read handed on together) lists the
// events on the admin page in the order they came, as it decodes them, and
// marks those it had to give up when it hands them on.
func TestABatchedIntakeListsEventsInOrderAndMarksThoseGivenUp(t *testing.T) {
	out := make(chan screenpop.Event, 4) // call tracking stands still
	m := NewMetrics(nil)
	in := NewIntake(NewDecoder("FROM_DID"), out, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.backlog = newBacklog(10)
	in.batched = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var want []string // oldest first
	for i := range 20 {
		if i == 10 {
			in.Feed(ctx, []byte(`{"type":"ChannelCreated","channel":`))
			want = append(want, "malformed")
		}
		in.Feed(ctx, channelCreated(strconv.Itoa(i)))
		if i < 14 {
			want = append(want, "used")
		} else {
			want = append(want, "dropped") // 4 queued and 10 in the backlog before it
		}
	}
	if got := len(out) + in.Backlog(); got != 0 {
		t.Fatalf("%d events handed on before the flush, want none", got)
	}
	in.Flush(ctx)
	if got := m.Totals().Dropped; got != 6 {
		t.Errorf("%d events counted as dropped, want 6", got)
	}
	var got []string
	recent := in.RecentEvents() // newest first
	for i := len(recent) - 1; i >= 0; i-- {
		got = append(got, recent[i].Result)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the admin page's events, oldest first (-want +got):\n%s", diff)
	}
}

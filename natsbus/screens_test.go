package natsbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// storedScreen is the latest message of an operator's call in
// SP_SCREENS, with its place in the stream.
type storedScreen struct {
	typ string
	seq uint64
}

// storedScreens reads the latest message of every operator's call of
// pbx1 from SP_SCREENS, by operator and call.
func storedScreens(t *testing.T, b *Bus) map[[2]string]storedScreen {
	t.Helper()
	got := map[[2]string]storedScreen{}
	err := b.lastPerSubject(context.Background(), screensSubject+"*."+token("pbx1")+".>", func(sm screenMsg, seq uint64) {
		got[[2]string{sm.Operator, sm.Message.Call.ID}] = storedScreen{sm.Message.Type, seq}
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Screen messages go out without waiting for each to be acknowledged
// before the next (a pop queued behind a burst waited for a round trip to
// NATS for each message ahead of it); the stream must still hold them in
// the order the holder's hub made them.
func TestABurstOfScreenMessagesIsStoredInTheOrderTheHubMadeThem(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		holder := connect(t, url, "h", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := holder.Screens("pbx1")
		producer := screenpop.NewHub(0, 0)
		producer.SendTo(sink)
		const calls = 300
		id := func(i int) string { return fmt.Sprintf("1764583200.%d", i) }
		op := func(i int) string { return fmt.Sprint(100 + i%7) }
		// Queued before Run starts: one burst.
		for i := range calls {
			producer.Offer(op(i), screenpop.PopCall{ID: id(i), Caller: "+79161234567"})
		}
		for i := calls - 1; i >= 0; i-- {
			producer.Answered(id(i), op(i))
		}
		go sink.Run(ctx)
		eventually(t, "every message published", 30*time.Second, func() bool { return sink.Published.Load() == 2*calls })
		got := storedScreens(t, holder)
		if len(got) != calls {
			t.Fatalf("the stream has %d operators' calls, want %d", len(got), calls)
		}
		for i := range calls {
			s := got[[2]string{op(i), id(i)}]
			if s.typ != screenpop.MsgAnswered {
				t.Errorf("call %s: the stream's latest is %q, want %q", id(i), s.typ, screenpop.MsgAnswered)
			}
			// Answered last to first: each stored after the next call's.
			if i+1 < calls && s.seq <= got[[2]string{op(i + 1), id(i + 1)}].seq {
				t.Errorf("call %s's answer is at %d, before call %s's at %d: out of the hub's order", id(i), s.seq, id(i+1), got[[2]string{op(i + 1), id(i + 1)}].seq)
			}
		}
		if n := sink.PublishErrors.Load(); n != 0 {
			t.Errorf("%d publish errors", n)
		}
	})
}

// A message the stream did not take (here the stream is gone for a
// while, as while JetStream has no leader) is sent again, but never an
// older message of an operator's call after a newer one: the stream
// keeps only the latest of each, and a page that reconnects is shown it.
func TestScreenMessagesThatFailedAreSentAgainWithoutAnOlderOneLast(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		holder := connect(t, url, "h", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := holder.Screens("pbx1")
		go sink.Run(ctx)
		producer := screenpop.NewHub(0, 0)
		producer.SendTo(sink)
		deleteStream(t, url, ScreensStream)
		producer.Offer("101", screenpop.PopCall{ID: "1764583200.1", Caller: "+79161234567"})
		producer.Offer("102", screenpop.PopCall{ID: "1764583200.2", Caller: "+79161234568"})
		producer.Answered("1764583200.1", "101")
		producer.Offer("103", screenpop.PopCall{ID: "1764583200.3", Caller: "+79161234569"})
		eventually(t, "a publish failed", 30*time.Second, func() bool { return sink.PublishErrors.Load() > 0 })
		connect(t, url, "again", 0) // makes the streams again
		want := map[[2]string]string{
			{"101", "1764583200.1"}: screenpop.MsgAnswered,
			{"102", "1764583200.2"}: screenpop.MsgOffered,
			{"103", "1764583200.3"}: screenpop.MsgOffered,
		}
		eventually(t, "every operator's call in the stream", 30*time.Second, func() bool { return len(storedScreens(t, holder)) == len(want) })
		// A message sent again after the latest one would show here a
		// little later: give the publisher its answers first.
		producer.Offer("104", screenpop.PopCall{ID: "1764583200.4", Caller: "+79161234560"})
		want[[2]string{"104", "1764583200.4"}] = screenpop.MsgOffered
		eventually(t, "the message made after the fault stored", 30*time.Second, func() bool { return len(storedScreens(t, holder)) == len(want) })
		for k, s := range storedScreens(t, holder) {
			if s.typ != want[k] {
				t.Errorf("operator %s, call %s: the stream's latest is %q, want %q", k[0], k[1], s.typ, want[k])
			}
		}
	})
}

// Reading the operators' screens (at a takeover, on the tracker's
// goroutine; when a replica starts or NATS comes back, with the pops
// waiting) once waited out the whole of its fetch's wait for more
// screens than there were: a second each time. Here the wait is a
// minute: each read must end as soon as it has what there is.
func TestReadingTheScreensEndsWithTheLastOneWithoutWaitingForMore(t *testing.T) {
	servers(t, func(t *testing.T, url string) {
		holder := connect(t, url, "h", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := holder.Screens("pbx1")
		go sink.Run(ctx)
		producer := screenpop.NewHub(0, 0)
		producer.SendTo(sink)
		producer.Offer("101", screenpop.PopCall{ID: "1764583200.1", Caller: "+79161234567"})
		producer.Offer("102", screenpop.PopCall{ID: "1764583200.2", Caller: "+79161234568"})
		eventually(t, "both published", 30*time.Second, func() bool { return sink.Published.Load() == 2 })

		reader := connect(t, url, "r", 0)
		reader.fetchWait = time.Minute
		within := func(what string, f func()) {
			t.Helper()
			done := make(chan struct{})
			go func() { defer close(done); f() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: still waiting after 30 s", what)
			}
		}
		within("a takeover's read of the box's screens", func() {
			if n, err := reader.Screens("pbx1").Restore(ctx, screenpop.NewHub(0, 0)); n != 2 || err != nil {
				t.Errorf("restored %d screens (%v), want 2", n, err)
			}
		})
		within("a takeover's read of a box with no screens", func() {
			if n, err := reader.Screens("pbx2").Restore(ctx, screenpop.NewHub(0, 0)); n != 0 || err != nil {
				t.Errorf("restored %d screens of pbx2 (%v), want 0", n, err)
			}
		})
		mirror := screenpop.NewMirrorHub(reader.Epoch(), 0, 0)
		ready := make(chan struct{})
		go reader.FollowScreens(ctx, mirror, ready)
		within("a replica's first read of the screens", func() { <-ready })
		page := mirror.Resume("102", reader.Epoch(), 0)
		defer page.Close()
		if snap := <-page.C; len(snap.Calls) != 1 {
			t.Errorf("operator 102's page shows %d calls, want 1", len(snap.Calls))
		}
	})
}

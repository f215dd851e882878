package screenpop

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// unseenLog is a call log that keeps unseen periods too.
type unseenLog struct {
	memLog
	periods []UnseenPeriod
}

func (l *unseenLog) RecordUnseen(p UnseenPeriod) { l.periods = append(l.periods, p) }

func newUnseenTracker() (*Tracker, *unseenLog) {
	ops, err := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	if err != nil {
		panic(err)
	}
	log := &unseenLog{}
	return NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", StaleAfter: time.Hour}, log, nil), log
}

func TestTrackerRecordsThePeriodsItDidNotSee(t *testing.T) {
	p := newPBX()
	t.Run("an ARI drop is unseen from the last event seen to the resync", func(t *testing.T) {
		tr, log := newUnseenTracker()
		tr.Handle(resyncEv(p.at(-10))) // the first connection: nothing before it was known
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		gone := p.trunk("c2", "+79167654321", "74951112233")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(created(gone, p.at(1)), dial(trunk, ph, "ANSWER", p.at(2))))
		if len(log.periods) != 0 {
			t.Fatalf("periods %+v before any drop, want none", log.periods)
		}
		// The socket drops after the answer; c2 hangs up meanwhile.
		tr.Handle(resyncEv(p.at(30), state(trunk, "Up"), state(ph, "Up")))
		want := []UnseenPeriod{{From: p.at(2), To: p.at(30), Reason: UnseenARIDrop, CallsInProgress: 1, CallsEndedUnseen: 1}}
		if d := cmp.Diff(want, log.periods); d != "" {
			t.Errorf("periods (-want +got):\n%s", d)
		}
	})
	t.Run("a resync with no event missed and no time between writes nothing", func(t *testing.T) {
		tr, log := newUnseenTracker()
		tr.Handle(resyncEv(p.at(0)))
		tr.Handle(resyncEv(p.at(0)))
		if len(log.periods) != 0 {
			t.Errorf("periods %+v, want none", log.periods)
		}
	})
	t.Run("a daemon killed is unseen from its last saved state to the first resync", func(t *testing.T) {
		tr, _ := newUnseenTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(0))))
		s := tr.State() // saved as the call started; then kill -9
		tr2, log := newUnseenTracker()
		if err := tr2.Restore(s); err != nil {
			t.Fatal(err)
		}
		tr2.Handle(resyncEv(p.at(90)))
		want := []UnseenPeriod{{From: p.at(0), To: p.at(90), Reason: UnseenCrashed, CallsEndedUnseen: 1}}
		if d := cmp.Diff(want, log.periods); d != "" {
			t.Errorf("periods (-want +got):\n%s", d)
		}
		tr2.Handle(resyncEv(p.at(91)))
		if len(log.periods) != 2 || log.periods[1].Reason != UnseenARIDrop || !log.periods[1].From.Equal(p.at(90)) {
			t.Errorf("after a second drop: %+v, want it from the first resync, an ARI drop", log.periods)
		}
	})
	t.Run("a daemon killed while its clock ran ahead of its events is unseen from its last event", func(t *testing.T) {
		// Behind on its queue, the tracker's clock moved on with the wall
		// clock (a tick) past events still queued: a call that began in
		// between, and ended before the restart, died with the queue. The
		// hole starts at the last event applied, not at the save.
		tr, _ := newUnseenTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(0))))
		tr.Handle(Event{Kind: EventTick, At: p.at(1.5)})
		s := tr.State()
		if !s.SavedAt.Equal(p.at(1.5)) || !s.Seen.Equal(p.at(0)) {
			t.Fatalf("state saved at %v, seen %v; want the tick's time and the event's", s.SavedAt, s.Seen)
		}
		tr2, log := newUnseenTracker()
		if err := tr2.Restore(s); err != nil {
			t.Fatal(err)
		}
		tr2.Handle(resyncEv(p.at(90)))
		want := []UnseenPeriod{{From: p.at(0), To: p.at(90), Reason: UnseenCrashed, CallsEndedUnseen: 1}}
		if d := cmp.Diff(want, log.periods); d != "" {
			t.Errorf("periods (-want +got):\n%s", d)
		}
	})
	t.Run("a daemon killed after a quiet spell is unseen from the last time Asterisk was heard, not from its last event", func(t *testing.T) {
		// A pong says every event Asterisk sent before it was read: the
		// reader's heard tick moves the seen mark on, call tracking's
		// own ticks do not.
		tr, _ := newUnseenTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(0))), one(destroyed(trunk, p.at(5), 16)))
		tr.Handle(Event{Kind: EventTick, At: p.at(600)})
		tr.Handle(Event{Kind: EventTick, At: p.at(3600), Heard: true})
		tr.Handle(Event{Kind: EventTick, At: p.at(3700)})
		tr.Handle(Event{Kind: EventTick, At: p.at(1800), Heard: true}) // an older mark never moves it back
		s := tr.State()
		if !s.Seen.Equal(p.at(3600)) {
			t.Fatalf("state seen %v, want the last heard %v", s.Seen, p.at(3600))
		}
		tr2, log := newUnseenTracker()
		if err := tr2.Restore(s); err != nil {
			t.Fatal(err)
		}
		tr2.Handle(resyncEv(p.at(3790)))
		want := []UnseenPeriod{{From: p.at(3600), To: p.at(3790), Reason: UnseenCrashed}}
		if d := cmp.Diff(want, log.periods); d != "" {
			t.Errorf("periods (-want +got):\n%s", d)
		}
	})
	t.Run("a daemon stopped is unseen from its stop to the first resync after its start", func(t *testing.T) {
		tr, _ := newUnseenTracker()
		var saved TrackerState
		tr.KeepState(func(s TrackerState) error { saved = s; return nil }, nil)
		events := make(chan Event, 1)
		events <- created(p.trunk("c1", "+79161234567", "74951112233"), p.at(0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- tr.Run(ctx, events) }()
		// Snapshot waits on the tracker: the event is handled once it says so.
		for {
			snap, err := tr.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if snap.OpenCount > 0 {
				break
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !saved.Stopped {
			t.Fatalf("state saved at the stop does not say so")
		}
		tr2, log := newUnseenTracker()
		if err := tr2.Restore(saved); err != nil {
			t.Fatal(err)
		}
		tr2.Handle(resyncEv(saved.SavedAt.Add(time.Hour)))
		if len(log.periods) != 1 || log.periods[0].Reason != UnseenStopped || !log.periods[0].From.Equal(saved.SavedAt) {
			t.Errorf("periods %+v, want one from %v, the daemon stopped", log.periods, saved.SavedAt)
		}
	})
}

func TestUnseenTotalCountsEachMomentOnce(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	periods := []UnseenPeriod{
		{From: at(0), To: at(10)},
		{From: at(5), To: at(15)}, // the same hole, seen by a crash and a restart
		{From: at(20), To: at(22)},
		{PBX: "b", From: at(0), To: at(1)},
		{From: at(-30), To: at(-20)}, // before the range
	}
	if got, want := UnseenTotal(periods, at(0), at(21)), 17*time.Minute; got != want {
		t.Errorf("total %v, want %v", got, want)
	}
}

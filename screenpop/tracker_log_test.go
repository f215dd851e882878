package screenpop

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answeredCall is one call: the trunk rings 101, who answers, then the
// caller hangs up; ticks follow the end, as a reader with nothing more to
// read appends them.
func answeredCall(p *pbx, id string) []Event {
	trunk := p.trunk(id, "+79161234567", "4950000000")
	phone := p.phone(trunk, "101")
	evs := []Event{created(trunk, p.at(0))}
	evs = append(evs, ring(trunk, phone, p.at(1))...)
	up := phone
	up.State = "Up"
	evs = append(evs,
		Event{Kind: EventChannelUpdated, At: p.at(4), Channel: up},
		dial(trunk, phone, "ANSWER", p.at(4)),
		hangupRequest(trunk, p.at(30)),
		destroyed(trunk, p.at(30), 16),
		destroyed(phone, p.at(30), 16),
	)
	return evs
}

func entries(epoch uint64, evs []Event) []LogEntry {
	out := make([]LogEntry, len(evs))
	for i, ev := range evs {
		out[i] = LogEntry{Epoch: epoch, Seq: uint64(i + 1), Event: ev}
	}
	return out
}

func follow(t *testing.T, tr *Tracker, es []LogEntry, duty *OutputDuty) {
	t.Helper()
	ch := make(chan LogEntry, len(es))
	for _, e := range es {
		ch <- e
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Follow(ctx, ch, duty) }()
	for {
		snap, err := tr.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = snap
		if len(ch) == 0 {
			// One more round trip: the last entry taken has been applied.
			if _, err := tr.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTickInTheLogFinishesACallWithoutTheWallClock(t *testing.T) {
	p := newPBX()
	evs := answeredCall(p, "1700000000.1")
	tr, log, _ := newTestTracker()
	follow(t, tr, entries(1, evs), nil)
	if len(log.calls) != 0 {
		t.Fatalf("the call was recorded before its linger passed on the log's clock: %+v", log.calls)
	}
	// A tick 2 s after the hang-up (the linger is 1 s) records it, dated
	// by the log, not by when the test ran.
	tr2, log2, _ := newTestTracker()
	follow(t, tr2, entries(1, append(evs, Event{Kind: EventTick, At: p.at(32)})), nil)
	if len(log2.calls) != 1 {
		t.Fatalf("records after the tick: %d, want 1", len(log2.calls))
	}
	if got, want := log2.calls[0].EndedAt, p.at(30); !got.Equal(want) {
		t.Errorf("ended at %v, want %v", got, want)
	}
}

func TestTwoFollowersOfOneLogMakeTheSameRecords(t *testing.T) {
	p := newPBX()
	var evs []Event
	for _, id := range []string{"1700000000.1", "1700000000.2", "1700000000.3"} {
		evs = append(evs, answeredCall(p, id)...)
	}
	evs = append(evs, Event{Kind: EventTick, At: p.at(40)})
	a, logA, _ := newTestTracker()
	b, logB, _ := newTestTracker()
	follow(t, a, entries(1, evs), nil)
	follow(t, b, entries(1, evs), nil)
	if len(logA.calls) != 3 {
		t.Fatalf("records: %d, want 3", len(logA.calls))
	}
	if diff := cmp.Diff(logA.calls, logB.calls); diff != "" {
		t.Errorf("the two followers differ (-a +b):\n%s", diff)
	}
}

func TestEntriesOfAnOlderEpochAreIgnored(t *testing.T) {
	p := newPBX()
	evs := answeredCall(p, "1700000000.1")
	// Epoch 2 begins with the call ringing; a zombie of epoch 1 then
	// appends the hang-up it had buffered: no follower may end the call
	// on it.
	var es []LogEntry
	for i, ev := range evs[:4] {
		es = append(es, LogEntry{Epoch: 1, Seq: uint64(i + 1), Event: ev})
	}
	es = append(es, LogEntry{Epoch: 2, Seq: 5, Event: Event{Kind: EventTick, At: p.at(2)}})
	for i, ev := range evs[4:] {
		es = append(es, LogEntry{Epoch: 1, Seq: uint64(6 + i), Event: ev})
	}
	es = append(es, LogEntry{Epoch: 2, Seq: 20, Event: Event{Kind: EventTick, At: p.at(60)}})
	tr, log, _ := newTestTracker()
	follow(t, tr, es, nil)
	epoch, seq, fenced := tr.LogPosition()
	if epoch != 2 || seq != 20 || fenced != uint64(len(evs)-4) {
		t.Errorf("position: epoch %d seq %d fenced %d, want 2, 20, %d", epoch, seq, fenced, len(evs)-4)
	}
	if len(log.calls) != 0 || tr.Open() != 1 {
		t.Errorf("the stale hang-up ended the call: %d records, %d open", len(log.calls), tr.Open())
	}
}

type fixedLease struct{ epoch atomic.Uint64 }

func (l *fixedLease) Epoch() uint64 { return l.epoch.Load() }

func TestOutputDutyMutesAStandbyAndHandsItsRecentRecordsOverAtTakeover(t *testing.T) {
	p := newPBX()
	first := answeredCall(p, "1700000000.1")
	first = append(first, Event{Kind: EventTick, At: p.at(35)})
	lease := &fixedLease{}
	tr, _, _ := newTestTracker()
	log, obs := &memLog{}, &memObserver{}
	duty := NewOutputDuty(lease)
	tr.log = duty.CallLog(log)
	tr.obs = duty.Observer(obs)
	var changes []bool
	duty.Changed = func(on bool, _ uint64) { changes = append(changes, on) }

	// Epoch 1 is another replica's: this one tracks, muted.
	es := entries(1, first)
	// This replica takes the lease (epoch 7); its first entry is a
	// resync with nothing on the box, then the second call.
	lease.epoch.Store(7)
	q := &pbx{t0: p.at(50)}
	second := answeredCall(q, "1700000050.2")
	es = append(es, LogEntry{Epoch: 7, Seq: 100, Event: Event{Kind: EventResync, At: q.at(0)}})
	for i, ev := range append(second, Event{Kind: EventTick, At: q.at(35)}) {
		es = append(es, LogEntry{Epoch: 7, Seq: uint64(101 + i), Event: ev})
	}
	follow(t, tr, es, duty)
	var ids []string
	for _, c := range log.calls {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]string{"1700000000.1", "1700000050.2"}, ids); diff != "" {
		t.Errorf("records given to the call log (-want +got):\n%s", diff)
	}
	for _, n := range obs.notices {
		if n.CallID == "1700000000.1" {
			t.Errorf("a muted standby passed on a notice: %+v", n)
		}
	}
	if len(obs.notices) == 0 {
		t.Error("the holder passed on no notice of its own call")
	}
	if diff := cmp.Diff([]bool{true}, changes); diff != "" {
		t.Errorf("duty changes (-want +got):\n%s", diff)
	}
}

func TestATakeoverFindsThePhonesStillRinging(t *testing.T) {
	p := newPBX()
	ringing := newPBX()
	trunk := p.trunk("1700000000.1", "+79161234567", "4950000000")
	phone := p.phone(trunk, "101")
	evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, phone, p.at(1))...)
	// A second call, answered and over: nothing of it rings.
	evs = append(evs, answeredCall(ringing, "1700000002.2")...)
	lease := &fixedLease{}
	tr, _, _ := newTestTracker()
	duty := NewOutputDuty(lease)
	tr.log = duty.CallLog(&memLog{})
	tr.obs = duty.Observer(&memObserver{})
	var atTakeover []Notice
	duty.Changed = func(on bool, _ uint64) {
		if on {
			atTakeover = tr.Ringing()
		}
	}
	es := entries(1, evs) // another replica's epoch: this one follows, muted
	lease.epoch.Store(7)
	es = append(es, LogEntry{Epoch: 7, Seq: 100, Event: Event{Kind: EventTick, At: p.at(3)}})
	follow(t, tr, es, duty)
	if len(atTakeover) != 1 {
		t.Fatalf("ringing at the takeover: %+v, want the one phone", atTakeover)
	}
	n := atTakeover[0]
	if n.Kind != NoticeRinging || n.CallID != "1700000000.1" || n.Operator != "101" || n.Caller.Raw != "+79161234567" || !n.At.Equal(p.at(0)) {
		t.Errorf("ringing notice: %+v", n)
	}
}

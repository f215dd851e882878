package screenpop

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTheOutputDutyPassesUnseenPeriodsOnOnceAndHandsRecentOnesOverAtTakeover
// follows one box's log as a cluster's replicas do: epoch 7's holder
// reads a call, dies; epoch 9's holder resyncs 18 s later, so every
// follower finds the same unseen period there.
func TestTheOutputDutyPassesUnseenPeriodsOnOnceAndHandsRecentOnesOverAtTakeover(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("1700000000.1", "+79161234567", "4950000000")
	phone := p.phone(trunk, "101")
	es := []LogEntry{{Epoch: 7, Seq: 1, Event: resyncEv(p.at(0))}}
	for i, ev := range append([]Event{created(trunk, p.at(1))}, ring(trunk, phone, p.at(2))...) {
		es = append(es, LogEntry{Epoch: 7, Seq: uint64(2 + i), Event: ev})
	}
	es = append(es, LogEntry{Epoch: 7, Seq: 10, Event: Event{Kind: EventTick, At: p.at(12)}})
	es = append(es, LogEntry{Epoch: 9, Seq: 11, Event: resyncEv(p.at(30), state(trunk, "Ring"), state(phone, "Ringing"))})
	// Ticks say the time, not that anything was seen: the hole begins at
	// the last event.
	want := UnseenPeriod{From: p.at(2), To: p.at(30), Reason: UnseenARIDrop, CallsInProgress: 1}

	for _, c := range []struct {
		name string
		// lease is this replica's epoch while it follows es; takeAt, if
		// set, is when (on the log's clock) it takes the lease after, as
		// epoch 11.
		lease  uint64
		takeAt float64
		want   []UnseenPeriod
	}{
		{name: "the replica holding the box at the resync passes the period on", lease: 9, want: []UnseenPeriod{want}},
		{name: "a standby keeps it to itself", lease: 0},
		{name: "the old holder, fenced off, keeps it to itself", lease: 7},
		{name: "a standby that takes the box within two minutes hands it over", lease: 0, takeAt: 100, want: []UnseenPeriod{want}},
		{name: "a standby that takes the box later does not", lease: 0, takeAt: 30 + 125},
	} {
		t.Run(c.name, func(t *testing.T) {
			lease := &fixedLease{}
			lease.epoch.Store(c.lease)
			tr, _, _ := newTestTracker()
			log := &unseenLog{}
			duty := NewOutputDuty(lease)
			tr.log = duty.CallLog(log)
			// Applied one by one, as Follow does, so that the lease may
			// change between two entries.
			tr.fold.duty = duty
			duty.clock = func() time.Time { return tr.now }
			for _, e := range es {
				tr.follow(e)
			}
			if c.takeAt != 0 {
				tr.follow(LogEntry{Epoch: 9, Seq: 12, Event: Event{Kind: EventTick, At: p.at(c.takeAt - 1)}})
				lease.epoch.Store(11)
				tr.follow(LogEntry{Epoch: 11, Seq: 13, Event: Event{Kind: EventTick, At: p.at(c.takeAt)}})
			}
			if d := cmp.Diff(c.want, log.periods); d != "" {
				t.Errorf("unseen periods given to the call log (-want +got):\n%s", d)
			}
		})
	}
}

// TestTheOutputDutyPassesNoUnseenPeriodToACallLogThatKeepsNone: a call log
// that is no UnseenLog gets records only.
func TestTheOutputDutyPassesNoUnseenPeriodToACallLogThatKeepsNone(t *testing.T) {
	lease := &fixedLease{}
	lease.epoch.Store(1)
	duty := NewOutputDuty(lease)
	l := duty.CallLog(&memLog{})
	u, ok := l.(UnseenLog)
	if !ok {
		t.Fatal("the duty's call log keeps no unseen periods: a cluster's tracker would drop them")
	}
	duty.entry(1)
	u.RecordUnseen(UnseenPeriod{Reason: UnseenARIDrop}) // must not panic, nor be kept
	if n := len(l.(*dutyLog).recentUnseen); n != 0 {
		t.Errorf("periods kept: %d", n)
	}
}

package screenpop

import (
	"testing"
)

// A call whose caller was created while the daemon could not see Asterisk
// (an ARI drop, a restart) and that ended before the reconnect's channel
// list was taken is in no resync: the first the tracker hears of it may
// be an event Asterisk sent between the websocket's connect and that
// list, such as the Dial's end. The Dial's snapshot names the caller, so
// the call is opened from it; its start and end are exact, but what came
// before (the Dial's begin, the ringing, any other phone) was not seen,
// and the record must say so.
func TestTrackerCallFirstSeenMidDialIsFlagged(t *testing.T) {
	p := newPBX()
	tests := []struct {
		name      string
		status    string // the Dial's end, the first event of the call seen
		cause     int
		asked     bool // the caller hung up (a hangup request came)
		wantStat  Status
		wantGaps  []Gap
		unwanted  []Gap
		truthStat Status // what a continuous view records
	}{
		{name: "abandoned while ringing (Dial CANCEL)", status: "CANCEL", cause: 16, asked: true,
			wantGaps: []Gap{GapOffers, GapAnswer}, unwanted: []Gap{GapStart, GapEnd}, truthStat: StatusAbandoned},
		{name: "missed (Dial NOANSWER)", status: "NOANSWER", cause: 16,
			wantGaps: []Gap{GapOffers, GapAnswer}, unwanted: []Gap{GapStart, GapEnd}, truthStat: StatusMissed},
		{name: "answered (Dial ANSWER): the answer is seen", status: "ANSWER", cause: 16,
			wantGaps: []Gap{GapOffers}, unwanted: []Gap{GapStart, GapEnd, GapAnswer}, truthStat: StatusAnswered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trunk := p.trunk("m-"+tt.status, "+79161234567", "74951112233")
			ph := p.phone(trunk, "101")
			phRinging := state(ph, "Ringing")

			// The truth: a tracker that saw every event.
			oracle, olog, _ := newTestTracker()
			feed(oracle, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.5)))
			tail := []Event{}
			if tt.status == "ANSWER" {
				tail = append(tail, dial(trunk, phRinging, "ANSWER", p.at(3)), destroyed(ph, p.at(5), tt.cause), destroyed(trunk, p.at(5), tt.cause))
			} else {
				if tt.asked {
					tail = append(tail, hangupRequest(trunk, p.at(3)))
				}
				tail = append(tail, dial(trunk, phRinging, tt.status, p.at(3)), destroyed(ph, p.at(3), tt.cause), destroyed(trunk, p.at(3.1), tt.cause))
			}
			feed(oracle, tail)
			oracle.Advance(p.at(30))

			// The daemon: blind from before the call began; it reconnects
			// at 2.9, the call ends at 3, and the channel list, taken at
			// 3.5, no longer has it. The events read in between are
			// handed on after the resync.
			tr, log, _ := newTestTracker()
			tr.Handle(resyncEv(p.at(3.5)))
			feed(tr, tail)
			tr.Advance(p.at(30))

			if len(olog.calls) != 1 || len(log.calls) != 1 {
				t.Fatalf("oracle recorded %d calls, the daemon %d; want 1 each", len(olog.calls), len(log.calls))
			}
			truth, c := olog.calls[0], log.calls[0]
			if truth.Status != tt.truthStat {
				t.Fatalf("the oracle's record is %s, want %s: the test's events are wrong", truth.Status, tt.truthStat)
			}
			if bad := c.Unflagged(truth); len(bad) > 0 {
				t.Errorf("record: %v differ from the truth without a gap saying so (gaps %v; got %s offered to %v, truth %s offered to %v)",
					bad, c.Gaps, c.Status, c.OfferedTo, truth.Status, truth.OfferedTo)
			}
			for _, g := range tt.wantGaps {
				if !c.Uncertain(g) {
					t.Errorf("gaps %v, want %s flagged", c.Gaps, g)
				}
			}
			for _, g := range tt.unwanted {
				if c.Uncertain(g) {
					t.Errorf("gaps %v: %s was seen exactly and must not be flagged", c.Gaps, g)
				}
			}
			if !c.StartedAt.Equal(truth.StartedAt) || !c.EndedAt.Equal(truth.EndedAt) {
				t.Errorf("started %v ended %v, want the channel's creation %v and the end seen %v", c.StartedAt, c.EndedAt, truth.StartedAt, truth.EndedAt)
			}
		})
	}
	t.Run("a call whose caller's creation comes after its first Dial is exact, as before", func(t *testing.T) {
		// Without a gap in the view, a Dial's begin that overtakes the
		// caller's ChannelCreated misses nothing.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("late", "+79161234567", "74951112233")
		ph := p.phone(trunk, "102")
		feed(tr, one(created(ph, p.at(0.5)), dial(trunk, ph, "", p.at(0.5)), created(trunk, p.at(0.5)), dial(trunk, ph, "RINGING", p.at(0.6)),
			dial(trunk, state(ph, "Ringing"), "NOANSWER", p.at(3)), destroyed(ph, p.at(3), 16), destroyed(trunk, p.at(3.1), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 {
			t.Fatalf("%d records, want 1", len(log.calls))
		}
		if c := log.calls[0]; len(c.Gaps) != 0 || c.Status != StatusMissed {
			t.Errorf("status %s gaps %v; want missed, exact", c.Status, c.Gaps)
		}
	})
	t.Run("a Dial's begin first naming a caller created before the last resync has its offers flagged", func(t *testing.T) {
		// The caller lived while the view was lost and was not in the
		// resync's list (its events came between the websocket's connect
		// and the list): a phone may have rung for it unseen before this
		// Dial.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("blind-begin", "+79161234567", "74951112233")
		ph := p.phone(trunk, "102")
		tr.Handle(resyncEv(p.at(3.5)))
		feed(tr, one(dial(trunk, ph, "", p.at(3.6)), dial(trunk, ph, "RINGING", p.at(3.7)),
			dial(trunk, state(ph, "Ringing"), "NOANSWER", p.at(6)), destroyed(ph, p.at(6), 16), destroyed(trunk, p.at(6.1), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 {
			t.Fatalf("%d records, want 1", len(log.calls))
		}
		if c := log.calls[0]; !c.Uncertain(GapOffers) {
			t.Errorf("status %s gaps %v; want offers flagged: the caller was created at %v, before the resync at %v",
				c.Status, c.Gaps, c.StartedAt, p.at(3.5))
		}
	})
}

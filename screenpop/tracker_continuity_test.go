package screenpop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func resyncEv(at time.Time, chans ...Channel) Event {
	return Event{Kind: EventResync, At: at, Channels: chans}
}

func state(ch Channel, s string) Channel { ch.State = s; return ch }

func ringingNotices(obs *memObserver) []string {
	var ops []string
	for _, n := range obs.notices {
		if n.Kind == NoticeRinging {
			ops = append(ops, n.Operator)
		}
	}
	return ops
}

func TestTrackerResyncRebuildsWhatTheDropHid(t *testing.T) {
	p := newPBX()
	t.Run("a call answered during the drop is answered, its answer time flagged, never missed", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)))
		// The socket drops; the phone is answered meanwhile.
		tr.Handle(resyncEv(p.at(5), state(trunk, "Up"), state(ph, "Up")))
		feed(tr, one(destroyed(ph, p.at(20), 16), destroyed(trunk, p.at(20), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"},
			Outcomes: []Outcome{OutcomeAnswered}}
		if d := cmp.Diff(want, summarise(c)); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		if !c.Uncertain(GapAnswer) || c.Uncertain(GapStart) || c.Uncertain(GapEnd) {
			t.Errorf("gaps %v, want the answer flagged and the start and end exact", c.Gaps)
		}
		if !c.StartedAt.Equal(p.at(0)) || !c.EndedAt.Equal(p.at(20)) {
			t.Errorf("started %v ended %v, want the times seen", c.StartedAt, c.EndedAt)
		}
	})
	t.Run("a call that began during the drop starts at its channel's creation and its ringing phone pops", func(t *testing.T) {
		tr, log, obs := newTestTracker()
		trunk := p.trunk("c2", "+79161234567", "74951112233")
		ph := p.phone(trunk, "102")
		tr.Handle(resyncEv(p.at(3), state(ph, "Ringing"), trunk))
		if got := ringingNotices(obs); !slices.Equal(got, []string{"102"}) {
			t.Fatalf("ringing notices for %v, want 102's pop", got)
		}
		feed(tr, one(dial(trunk, ph, "NOANSWER", p.at(8)), destroyed(ph, p.at(8), 16), destroyed(trunk, p.at(9), 16)))
		tr.Advance(p.at(30))
		c := log.calls[0]
		want := summary{ID: "c2", Status: StatusMissed, OfferedTo: []string{"102"}, TalkedTo: []string{}, Outcomes: []Outcome{OutcomeNoAnswer}}
		if d := cmp.Diff(want, summarise(c)); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		if !c.StartedAt.Equal(p.t0) || c.WaitSeconds != 9 {
			t.Errorf("started %v, waited %v s; want the channel's creation %v and 9 s", c.StartedAt, c.WaitSeconds, p.t0)
		}
		if !c.Uncertain(GapStart) || !c.Uncertain(GapOffers) {
			t.Errorf("gaps %v, want start and offers", c.Gaps)
		}
	})
	t.Run("a known phone found ringing pops, its ring start flagged", func(t *testing.T) {
		tr, _, obs := newTestTracker()
		trunk := p.trunk("c3", "+79161234567", "74951112233")
		ph := p.phone(trunk, "103")
		feed(tr, one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1))))
		tr.Handle(resyncEv(p.at(2), trunk, state(ph, "Ringing")))
		if got := ringingNotices(obs); !slices.Equal(got, []string{"103"}) {
			t.Errorf("ringing notices for %v, want 103's pop", got)
		}
		tr.Close(CloseEndOfInput)
	})
	t.Run("a phone whose dial the drop hid, found ringing, is an offer and pops", func(t *testing.T) {
		// A queue's first member rings before it is dialled: the drop took
		// the Dial, so the phone is a leg of the call without an offer.
		tr, log, obs := newTestTracker()
		trunk := p.trunk("c9", "+79161234567", "74951112233")
		ph := p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0)), created(ph, p.at(0.1))))
		tr.Handle(resyncEv(p.at(2), trunk, state(ph, "Ringing")))
		if got := ringingNotices(obs); !slices.Equal(got, []string{"102"}) {
			t.Fatalf("ringing notices for %v, want 102's pop", got)
		}
		tr.Handle(resyncEv(p.at(3), trunk, state(ph, "Ringing")))
		if got := ringingNotices(obs); !slices.Equal(got, []string{"102"}) {
			t.Errorf("ringing notices for %v after a second resync, want 102's pop once", got)
		}
		feed(tr, one(dial(trunk, ph, "NOANSWER", p.at(8)), destroyed(ph, p.at(8), 16), destroyed(trunk, p.at(9), 16)))
		tr.Advance(p.at(30))
		c := log.calls[0]
		want := summary{ID: "c9", Status: StatusMissed, OfferedTo: []string{"102"}, TalkedTo: []string{}, Outcomes: []Outcome{OutcomeNoAnswer}}
		if d := cmp.Diff(want, summarise(c)); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		if !c.Uncertain(GapOffers) || c.Uncertain(GapStart) {
			t.Errorf("gaps %v, want the offers flagged and the start exact", c.Gaps)
		}
	})
	t.Run("a call gone at the reconnect is closed as ended while disconnected, its end flagged", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c4", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)))
		tr.Handle(resyncEv(p.at(5)))
		tr.Advance(p.at(30))
		c := log.calls[0]
		if c.CloseReason != CloseDisconnected || !c.Uncertain(GapEnd) || !c.Uncertain(GapAnswer) || !c.Uncertain(GapOffers) {
			t.Errorf("close %q gaps %v: want %q, and end, answer (it may have been answered) and offers flagged", c.CloseReason, c.Gaps, CloseDisconnected)
		}
	})
	t.Run("a lingering call whose phone was still ringing when the view was lost has its offers flagged", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c9", "+79161234567", "74951112233")
		ph1, ph2 := p.phone(trunk, "101"), p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph1, p.at(0.1)), ring(trunk, ph2, p.at(0.1)),
			one(dial(trunk, ph1, "ANSWER", p.at(2)), destroyed(ph1, p.at(5), 16), destroyed(trunk, p.at(5), 16)))
		// 102's leg had not ended yet as seen when the socket dropped.
		tr.Handle(resyncEv(p.at(5.1)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapOffers) {
			t.Fatalf("records %+v; want one, its offers flagged", log.calls)
		}
	})
	t.Run("a phone still ringing at the resync whose Dial end the drop hid has its offers flagged when it hangs up", func(t *testing.T) {
		// A ring-all call: 101 answers; the drop takes the Dial CANCELs
		// of 102, whose channel Asterisk still lists, ringing. Its hang-up
		// after the resync does not say the CANCEL (its dial status) nor
		// when the ringing stopped.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c10", "+79161234567", "74951112233")
		ph1, ph2 := p.phone(trunk, "101"), p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph1, p.at(0.1)), ring(trunk, ph2, p.at(0.1)),
			one(dial(trunk, ph1, "ANSWER", p.at(3))))
		tr.Handle(resyncEv(p.at(3.2), state(trunk, "Up"), state(ph1, "Up"), state(ph2, "Ringing")))
		feed(tr, one(destroyed(ph2, p.at(3.3), 26), destroyed(ph1, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapOffers) {
			t.Fatalf("records %+v; want one, its offers flagged", log.calls)
		}
	})
	t.Run("an answering phone gone at the resync has its offers flagged: when it hung up is not known", func(t *testing.T) {
		// The phone hung up while the view was lost, the caller a moment
		// later: the lists were taken in between. The phone's hang-up is
		// lost, or queued by Asterisk and delivered after the resync (the
		// outbound websocket's drops), too late to say when it was: the
		// resync has ended the phone's leg already.
		for _, late := range []bool{true, false} {
			tr, log, _ := newTestTracker()
			trunk := p.trunk("c11", "+79161234567", "74951112233")
			ph := p.phone(trunk, "101")
			feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2))))
			tr.Handle(resyncEv(p.at(8.2), state(trunk, "Up")))
			if late {
				feed(tr, one(destroyed(ph, p.at(8), 16)))
			}
			feed(tr, one(destroyed(trunk, p.at(8.1), 16)))
			tr.Advance(p.at(30))
			if len(log.calls) != 1 || !log.calls[0].Uncertain(GapOffers) {
				t.Fatalf("hang-up delivered late %v: records %+v; want one, its offers flagged", late, log.calls)
			}
			if c := log.calls[0]; c.Uncertain(GapEnd) || !c.EndedAt.Equal(p.at(8.1)) {
				t.Errorf("hang-up delivered late %v: gaps %v, ended %v: want the caller's end seen, at %v", late, c.Gaps, c.EndedAt, p.at(8.1))
			}
		}
	})
	t.Run("the resync says what it found: calls ended unseen, calls first seen, calls in progress", func(t *testing.T) {
		tr, _, _ := newTestTracker()
		var got []ResyncCounts
		tr.Resynced = func(n ResyncCounts) { got = append(got, n) }
		gone := p.trunk("c7", "+79161234567", "74951112233")
		feed(tr, one(created(gone, p.at(0))), ring(gone, p.phone(gone, "101"), p.at(0.1)))
		fresh := p.trunk("c8", "+79035550101", "74951112233")
		tr.Handle(resyncEv(p.at(5), fresh, state(p.phone(fresh, "102"), "Ringing")))
		want := []ResyncCounts{{Channels: 2, Ended: 1, FirstSeen: 1, Open: 1}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("resync counts (-want +got):\n%s", d)
		}
		tr.Close(CloseEndOfInput)
	})
	t.Run("a call answered before the drop and talking after it is exact", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c5", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2))))
		tr.Handle(resyncEv(p.at(5), state(trunk, "Up"), state(ph, "Up")))
		feed(tr, one(destroyed(ph, p.at(20), 16), destroyed(trunk, p.at(20), 16)))
		tr.Advance(p.at(30))
		if c := log.calls[0]; len(c.Gaps) != 0 || c.TalkSeconds != 18 {
			t.Errorf("gaps %v talk %v s, want none and 18 s", c.Gaps, c.TalkSeconds)
		}
	})
	t.Run("a phone bridged with the caller answered, even without linked IDs", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c6", "+79161234567", "74951112233")
		trunk.LinkedID = ""
		ph := p.phone(trunk, "104")
		ph.LinkedID = ""
		tr.Handle(created(trunk, p.at(0)))
		tr.Handle(Event{Kind: EventResync, At: p.at(5), Channels: []Channel{state(trunk, "Up"), state(ph, "Up")},
			Bridges: map[string][]string{"b1": {trunk.ID, ph.ID}}})
		feed(tr, one(destroyed(ph, p.at(20), 16), destroyed(trunk, p.at(20), 16)))
		tr.Advance(p.at(30))
		c := log.calls[0]
		if c.Status != StatusAnswered || c.AnsweredBy == nil || *c.AnsweredBy != "104" || !c.Uncertain(GapAnswer) {
			t.Errorf("got %+v gaps %v, want answered by 104 with the answer flagged", summarise(c), c.Gaps)
		}
	})
}

func TestTrackerClockIsNotDraggedByOneEvent(t *testing.T) {
	p := newPBX()
	tr, log, _ := newTestTracker()
	var jumps []time.Time
	tr.OnClockJump(func(at, _ time.Time) { jumps = append(jumps, at) })
	a := p.trunk("c1", "+79161234567", "74951112233")
	b := p.trunk("c2", "+79161234568", "74951112233")
	feed(tr, one(created(a, p.at(0)), created(b, p.at(1))))
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	stray := p.trunk("stray", "+79161234569", "74951112233")
	tr.Handle(created(stray, future))
	tr.Advance(p.at(2))
	feed(tr, one(destroyed(a, p.at(10), 16)))
	tr.Advance(p.at(20))
	t.Logf("suspect event times: %d; calls recorded: %d", len(jumps), len(log.calls))
	if len(jumps) != 1 || !jumps[0].Equal(future) {
		t.Errorf("suspect clock jumps %v, want the one event of 2099", jumps)
	}
	if len(log.calls) != 1 || log.calls[0].ID != "c1" || log.calls[0].CloseReason != "" {
		t.Fatalf("recorded %v, want only c1, which ended", log.calls)
	}
	t.Run("a second capture replayed later moves the clock", func(t *testing.T) {
		later := p.at(3 * 3600)
		c := p.trunk("c3", "+79161234560", "74951112233")
		feed(tr, one(created(c, later), hangupRequest(c, later.Add(time.Second))))
		if !tr.now.Equal(later.Add(time.Second)) {
			t.Errorf("clock %v, want %v once two events agree", tr.now, later.Add(time.Second))
		}
	})
}

func TestTrackerStateCarriesCallsAcrossARestart(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	ph := p.phone(trunk, "101")
	run := func(restart bool, gone bool) ([]Call, *memObserver) {
		tr, log, _ := newTestTracker()
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2))))
		obs := &memObserver{}
		if restart {
			f := StateFile{Path: filepath.Join(t.TempDir(), "calls.json")}
			if err := f.Save(tr.State()); err != nil {
				t.Fatal(err)
			}
			s, ok, err := f.Load()
			if !ok || err != nil {
				t.Fatalf("load state: %v, %v", ok, err)
			}
			ops, _ := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
			log = &memLog{}
			tr = NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", StaleAfter: time.Hour}, log, obs)
			if err := tr.Restore(s); err != nil {
				t.Fatal(err)
			}
		}
		if gone {
			tr.Handle(resyncEv(p.at(30)))
		} else {
			tr.Handle(resyncEv(p.at(30), state(trunk, "Up"), state(ph, "Up")))
			feed(tr, one(destroyed(ph, p.at(40), 16), destroyed(trunk, p.at(40), 16)))
		}
		tr.Advance(p.at(60))
		return log.calls, obs
	}
	t.Run("a call talking across the restart gets the record a continuous daemon writes", func(t *testing.T) {
		want, _ := run(false, false)
		got, _ := run(true, false)
		if len(got) != 1 {
			t.Fatalf("got %d records, want 1", len(got))
		}
		got[0].Classification, want[0].Classification = nil, nil
		if d := cmp.Diff(want[0], got[0]); d != "" {
			t.Errorf("record after a restart (-continuous +restarted):\n%s", d)
		}
	})
	t.Run("a call gone at the restart is closed as ended while the daemon was down", func(t *testing.T) {
		got, _ := run(true, true)
		if len(got) != 1 {
			t.Fatalf("got %d records, want 1", len(got))
		}
		c := got[0]
		if c.CloseReason != CloseDaemonDown || !c.Uncertain(GapEnd) || !c.EndedAt.Equal(p.at(2)) || c.Status != StatusAnswered {
			t.Errorf("close %q gaps %v ended %v status %s: want %q, end flagged, ended when last saved (%v), answered",
				c.CloseReason, c.Gaps, c.EndedAt, c.Status, CloseDaemonDown, p.at(2))
		}
	})
	t.Run("a call that ended and waits out the linger is recorded after a crash", func(t *testing.T) {
		tr, _, _ := newTestTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(0)), destroyed(trunk, p.at(3), 16)))
		s := tr.State() // as saved when the call ended; then kill -9
		tr2, log, _ := newTestTracker()
		if err := tr2.Restore(s); err != nil {
			t.Fatal(err)
		}
		tr2.Handle(resyncEv(p.at(30)))
		tr2.Advance(p.at(31))
		if len(log.calls) != 1 || log.calls[0].CloseReason != "" || log.calls[0].WaitSeconds != 3 {
			t.Errorf("recorded %+v, want the call as it ended", log.calls)
		}
	})
	t.Run("a call that withheld its number and waits out the linger is recorded withheld after a crash", func(t *testing.T) {
		// What Asterisk said of the call beyond its legs (the caller ID
		// presentation, what Dial said, a hang-up request) is saved with
		// it: the restarted daemon must not log the number shown.
		for _, restart := range []bool{false, true} {
			tr, log, _ := newTestTracker()
			trunk := p.trunk("c12", "+79161234567", "74951112233")
			hidden := trunk
			hidden.Presentation = "prohib_not_screened"
			ph := p.phone(trunk, "101")
			feed(tr, one(created(trunk, p.at(0)), Event{Kind: EventChannelUpdated, At: p.at(0), Channel: hidden}),
				ring(trunk, ph, p.at(0.1)), one(hangupRequest(trunk, p.at(3)),
					Event{Kind: EventVariable, At: p.at(3), Channel: trunk, Variable: "DIALSTATUS", Value: "CANCEL"},
					dial(trunk, ph, "CANCEL", p.at(3)), destroyed(ph, p.at(3), 16), destroyed(trunk, p.at(3), 16)))
			if restart {
				b, err := json.Marshal(tr.State()) // as saved when the call ended; then kill -9
				if err != nil {
					t.Fatal(err)
				}
				var s TrackerState
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				tr, log, _ = newTestTracker()
				if err := tr.Restore(s); err != nil {
					t.Fatal(err)
				}
				tr.Handle(resyncEv(p.at(30)))
			}
			tr.Advance(p.at(31))
			if len(log.calls) != 1 {
				t.Fatalf("restart %v: %d records, want 1", restart, len(log.calls))
			}
			if c := log.calls[0]; !c.Withheld || c.Caller != "" || c.Status != StatusAbandoned {
				t.Errorf("restart %v: withheld %v caller %q status %s; want withheld, no number kept, abandoned", restart, c.Withheld, c.Caller, c.Status)
			}
		}
	})
	t.Run("a damaged state file is moved aside and reported", func(t *testing.T) {
		f := StateFile{Path: filepath.Join(t.TempDir(), "calls.json")}
		if err := f.Save(TrackerState{Version: stateVersion}); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(f.Path, "{not json"); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := f.Load(); ok || err == nil {
			t.Errorf("load of a damaged file: ok %v err %v, want an error", ok, err)
		}
		if err := readable(f.Path + ".bad"); err != nil {
			t.Errorf("damaged file not kept aside: %v", err)
		}
	})
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func readable(path string) error { _, err := os.Stat(path); return err }

// TestTrackerLingeringCallAcrossAKill is the kill -9 case the restart
// test once caught: a ring-all call answered by 103 ends (the caller's
// leg goes first, 103's phone a moment later, as Asterisk sends them);
// the state is saved as the call ends, before 103's hang-up, and the
// daemon is killed before the next save. The restarted daemon restores
// the call waiting out its linger, with 103's leg still up, and never
// sees that leg go: it ended while the daemon was down. Its record must
// be the continuous one or say that the offers are not known exactly,
// whether the linger passes before the first resync (Asterisk slow to
// answer after the restart, the usual case) or after it.
func TestTrackerLingeringCallAcrossAKill(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	ph1, ph3 := p.phone(trunk, "101"), p.phone(trunk, "103")
	seen := slices.Concat(one(created(trunk, p.at(0))), ring(trunk, ph1, p.at(0.1)), ring(trunk, ph3, p.at(0.1)),
		one(dial(trunk, ph3, "ANSWER", p.at(2)), dial(trunk, ph1, "CANCEL", p.at(2)), destroyed(ph1, p.at(2), 26),
			destroyed(trunk, p.at(20), 16)))
	late := destroyed(ph3, p.at(20), 16) // after the save, before the kill

	oracle, olog, _ := newTestTracker()
	feed(oracle, seen, one(late))
	oracle.Advance(p.at(60))
	if len(olog.calls) != 1 || len(olog.calls[0].Gaps) != 0 {
		t.Fatalf("a continuous view recorded %+v; want one exact record", olog.calls)
	}
	truth := olog.calls[0]

	restarted := func(t *testing.T) (*Tracker, *memLog) {
		t.Helper()
		tr, _, _ := newTestTracker()
		feed(tr, seen)
		f := StateFile{Path: filepath.Join(t.TempDir(), "calls.json")}
		if err := f.Save(tr.State()); err != nil { // saved as the call ended; then kill -9
			t.Fatal(err)
		}
		s, ok, err := f.Load()
		if !ok || err != nil {
			t.Fatalf("load state: %v, %v", ok, err)
		}
		tr2, log, _ := newTestTracker()
		if err := tr2.Restore(s); err != nil {
			t.Fatal(err)
		}
		return tr2, log
	}
	check := func(t *testing.T, log *memLog) {
		t.Helper()
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		if bad := c.Unflagged(truth); len(bad) > 0 {
			t.Errorf("%v differ from the continuous record without a flag (gaps %v)", bad, c.Gaps)
		}
		if !c.Uncertain(GapOffers) || c.Uncertain(GapEnd) || c.Uncertain(GapAnswer) || c.Status != StatusAnswered {
			t.Errorf("gaps %v status %s: want the offers flagged (103's hang-up was not seen), the call's end and answer exact", c.Gaps, c.Status)
		}
	}
	t.Run("the linger passes before the first resync", func(t *testing.T) {
		tr, log := restarted(t)
		tr.Handle(resyncEv(p.at(23)))
		tr.Advance(p.at(60))
		check(t, log)
	})
	t.Run("the first resync comes within the linger", func(t *testing.T) {
		tr, log := restarted(t)
		tr.Handle(resyncEv(p.at(20.5)))
		tr.Advance(p.at(60))
		check(t, log)
	})
	t.Run("the clock alone passes the linger before Asterisk answers", func(t *testing.T) {
		tr, log := restarted(t)
		tr.Advance(p.at(22))
		check(t, log)
	})
	t.Run("the phone's hang-up lost in an ARI drop is flagged too", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		feed(tr, seen)
		tr.Advance(p.at(21.5)) // the ticks pass the linger while the socket is down
		tr.Handle(resyncEv(p.at(22)))
		check(t, log)
	})
	t.Run("a phone's hang-up seen after the resync that found the phone still there is exact", func(t *testing.T) {
		tr, log := restarted(t)
		tr.Handle(resyncEv(p.at(20.4), state(ph3, "Up")))
		feed(tr, one(destroyed(ph3, p.at(20.5), 16)))
		tr.Advance(p.at(60))
		if len(log.calls) != 1 || len(log.calls[0].Gaps) != 0 {
			t.Fatalf("records %+v; want one, exact", log.calls)
		}
	})
}

func TestTrackerRunKeepsItsStateWhileCallsChange(t *testing.T) {
	p := newPBX()
	tr, log, _ := newTestTracker()
	f := StateFile{Path: filepath.Join(t.TempDir(), "calls.json")}
	var (
		mu    sync.Mutex
		saves int
	)
	tr.KeepState(func(s TrackerState) error {
		mu.Lock()
		saves++
		mu.Unlock()
		return f.Save(s)
	}, func(err error) { t.Errorf("save: %v", err) })
	events := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx, events) }()
	const calls = 50
	var trunks []Channel
	for i := range calls {
		trunk := p.trunk(fmt.Sprintf("c%d", i), "+79161234567", "74951112233")
		trunks = append(trunks, trunk)
		ph := p.phone(trunk, "101")
		for _, ev := range slices.Concat(one(created(trunk, p.at(float64(i)))), ring(trunk, ph, p.at(float64(i)+0.1)),
			one(dial(trunk, ph, "ANSWER", p.at(float64(i)+1)))) {
			events <- ev
		}
		if i%2 == 0 { // every other call ends
			events <- destroyed(ph, p.at(float64(i)+2), 16)
			events <- destroyed(trunk, p.at(float64(i)+2), 16)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s, ok, err := f.Load()
	if !ok || err != nil {
		t.Fatalf("state after the stop: %v %v", ok, err)
	}
	mu.Lock()
	t.Logf("%d saves while %d calls came and half of them went; %d calls recorded, %d kept for the next start", saves, calls, len(log.calls), len(s.Calls))
	mu.Unlock()
	if len(s.Calls) != calls/2 || len(log.calls) != calls/2 {
		t.Errorf("kept %d calls and recorded %d, want %d and %d: the open ones are kept, not recorded cut short", len(s.Calls), len(log.calls), calls/2, calls/2)
	}
}

func TestTrackerRestoredClockMovesOnlyByTheWallTime(t *testing.T) {
	p := newPBX()
	tr, _, _ := newTestTracker()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	feed(tr, one(created(trunk, p.at(0))))
	s := tr.State()
	tr2, log, _ := newTestTracker()
	if err := tr2.Restore(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event)
	done := make(chan error)
	go func() { done <- tr2.Run(ctx, events) }()
	// No event comes (Asterisk is slow to answer): the ticks alone move
	// the clock, by the wall time, not from the year 1.
	for start := time.Now(); time.Since(start) < 4*250*time.Millisecond; {
		snap, err := tr2.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.OpenCount != 1 {
			t.Fatalf("the restored call was closed before any event: %d open", snap.OpenCount)
		}
	}
	events <- resyncEv(p.at(2), trunk)
	cancel()
	<-done
	for _, c := range log.calls {
		if c.CloseReason != CloseShutdown {
			t.Errorf("call recorded with %q before the stop", c.CloseReason)
		}
	}
}

func TestTrackerResyncFindsAnOutboundCallAnsweredUnseen(t *testing.T) {
	p := newPBX()
	tr, log, _ := newOutboundTracker()
	op := desk("o1", "89161234567", p.at(0))
	client := clientLeg("o1", p.at(0.1))
	feed(tr, one(created(op, p.at(0)), created(client, p.at(0.1)), dial(op, client, "", p.at(0.1)), dial(op, client, "RINGING", p.at(0.5))))
	tr.Handle(resyncEv(p.at(5), state(op, "Up"), state(client, "Up")))
	feed(tr, one(destroyed(client, p.at(20), 16), destroyed(op, p.at(20), 16)))
	tr.Advance(p.at(30))
	c := log.calls[0]
	if c.Status != StatusAnswered || !slices.Equal(c.TalkedTo, []string{"101"}) || !c.Uncertain(GapAnswer) || c.TalkSeconds != 15 {
		t.Errorf("got %+v gaps %v, want answered by the client, talked 15 s from the resync, the answer flagged", summariseOutbound(c), c.Gaps)
	}
}

func readSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// The answer and the start of a call are flagged whenever the events that
// would have told them may have been lost: orders found by cutting the
// recorded traces at every place (tracker_resync_sweep_test.go).
func TestTrackerResyncFlagsAnAnswerOrAStartItCouldNotSee(t *testing.T) {
	p := newPBX()
	bridged := func(ch Channel, at time.Time) Event {
		return Event{Kind: EventBridgeEntered, At: at, Channel: ch, BridgeID: "b1"}
	}
	// local is a Local channel half, as the recorded traces' calls have
	// them: the caller's pair is Local/DID@from-trunk, whose ;1 half is
	// parked in caller,wait once a phone answers.
	local := func(id, name, context, linked string) Channel {
		return Channel{ID: id, Name: name, State: "Ring", Context: context, Exten: "74951112233",
			CallerNumber: "+79161234567", LinkedID: linked, CreatedAt: p.t0}
	}
	t.Run("a call that ended unseen with no phone ringing may have been answered by one dialled unseen", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		// The phone's channel was made; its Dial, answer and the end were lost.
		feed(tr, one(created(trunk, p.at(0)), created(ph, p.at(0.1))))
		tr.Handle(resyncEv(p.at(9)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapAnswer) || !log.calls[0].Uncertain(GapEnd) {
			t.Fatalf("records %+v; want one, its answer and end flagged", log.calls)
		}
	})
	t.Run("a caller still there, Up, whose ringing phone is gone may have been answered", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a2", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)))
		// The drop took the answer and the phone's hang-up.
		tr.Handle(resyncEv(p.at(6), state(trunk, "Up")))
		feed(tr, one(destroyed(trunk, p.at(7), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapAnswer) {
			t.Fatalf("records %+v; want one, its answer flagged", log.calls)
		}
	})
	t.Run("a caller not yet answered whose ringing phone is gone was answered by nobody", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a3", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)))
		tr.Handle(resyncEv(p.at(6), trunk))
		feed(tr, one(destroyed(trunk, p.at(7), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || log.calls[0].Uncertain(GapAnswer) {
			t.Fatalf("records %+v; want one, its answer not flagged: the caller's channel never went Up", log.calls)
		}
	})
	t.Run("a first answer told by a bridge after a resync has its time flagged", func(t *testing.T) {
		// A stock ari.conf: no linked IDs, so the phone whose Dial was lost
		// is no leg of the call until it enters the caller's bridge.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a4", "+79161234567", "74951112233")
		trunk.LinkedID = ""
		ph := p.phone(trunk, "101")
		ph.LinkedID = ""
		feed(tr, one(created(trunk, p.at(0))))
		tr.Handle(resyncEv(p.at(2), trunk, state(ph, "Up")))
		feed(tr, one(bridged(ph, p.at(2.1)), bridged(trunk, p.at(2.1)), destroyed(ph, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || log.calls[0].AnsweredBy == nil || !log.calls[0].Uncertain(GapAnswer) {
			t.Fatalf("records %+v; want one, answered by 101, its answer flagged", log.calls)
		}
	})
	t.Run("a Local caller's pair first seen at a resync is the call's from its first half, parked elsewhere", func(t *testing.T) {
		for _, linked := range []bool{true, false} {
			tr, log, _ := newTestTracker()
			id := "a5"
			if !linked {
				id = ""
			}
			cust := local("a5", "Local/74951112233@from-trunk-0000003c;1", "caller", id)
			in := local("a5-2", "Local/74951112233@from-trunk-0000003c;2", "from-trunk", id)
			ph := p.phone(in, "101")
			ph.LinkedID = id
			tr.Handle(Event{Kind: EventResync, At: p.at(5), Channels: []Channel{state(cust, "Up"), state(in, "Up"), state(ph, "Up")},
				Bridges: map[string][]string{"b1": {ph.ID, in.ID}}})
			feed(tr, one(destroyed(ph, p.at(9), 16), destroyed(in, p.at(9), 16), destroyed(cust, p.at(9.5), 16)))
			tr.Advance(p.at(30))
			if len(log.calls) != 1 {
				t.Fatalf("linked IDs %v: %d records, want 1", linked, len(log.calls))
			}
			if c := log.calls[0]; c.ID != "a5" || !c.EndedAt.Equal(p.at(9.5)) || c.Uncertain(GapEnd) {
				t.Errorf("linked IDs %v: call %s ended %v (gaps %v); want call a5, ended as its first half was, at %v", linked, c.ID, c.EndedAt, c.Gaps, p.at(9.5))
			}
		}
	})
	t.Run("a call whose first channel was lost, opened by a later one created before the resync, has its start flagged", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		in := local("a6-2", "Local/74951112233@from-trunk-0000003d;2", "from-trunk", "a6")
		// The first half's creation was lost; the second half's arrives
		// after the resync, which listed neither (both gone by then).
		tr.Handle(resyncEv(p.at(5)))
		feed(tr, one(created(in, p.at(0)), destroyed(in, p.at(3), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapStart) || !log.calls[0].Uncertain(GapEnd) {
			t.Fatalf("records %+v; want one, its start and end flagged (its first channel, never seen, may have outlived it)", log.calls)
		}
	})
	t.Run("an operator's phone of an answered call gone at a resync may have transferred the caller", func(t *testing.T) {
		// An attended transfer while the view was lost: 101 answered,
		// called 102 and completed, and 102 hung up; the resync lists
		// the caller alone, who has not hung up yet.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a8", "+79161234567", "74951112233")
		ph1 := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph1, p.at(0.1)), one(dial(trunk, ph1, "ANSWER", p.at(2))))
		tr.Handle(resyncEv(p.at(8), state(trunk, "Up")))
		feed(tr, one(destroyed(trunk, p.at(8.1), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapAnswer) {
			t.Fatalf("records %+v; want one, its answer (who talked to the caller) flagged", log.calls)
		}
	})
	t.Run("a phone first told by a Dial past its begin, after a resync, has its offers flagged", func(t *testing.T) {
		// A blind transfer: the caller's channel dials 102; the Dial's
		// begin was lost, the resync listing 102 not yet ringing.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a9", "+79161234567", "74951112233")
		ph1, ph2 := p.phone(trunk, "101"), p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph1, p.at(0.1)), one(dial(trunk, ph1, "ANSWER", p.at(2)),
			destroyed(ph1, p.at(4), 16), created(ph2, p.at(4))))
		tr.Handle(resyncEv(p.at(4.1), state(trunk, "Up"), ph2))
		feed(tr, one(dial(trunk, ph2, "RINGING", p.at(4.2)), dial(trunk, ph2, "ANSWER", p.at(6)), destroyed(ph2, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapOffers) {
			t.Fatalf("records %+v; want one, its offers flagged", log.calls)
		}
	})
	t.Run("the dialled number is where the caller's first leg entered the dialplan, though it has moved on since", func(t *testing.T) {
		// The ;2 half that carried FROM_DID was never seen; the ;1 half
		// entered from-trunk at the DID and is parked in caller,wait when
		// the resync lists it.
		for _, seen := range []bool{true, false} {
			tr, log, _ := newTestTracker()
			cust := local("a10", "Local/74951112233@from-trunk-0000003f;1", "from-trunk", "a10")
			if seen {
				feed(tr, one(created(cust, p.at(0))))
			}
			parked := state(cust, "Up")
			parked.Context, parked.Exten = "caller", "wait"
			tr.Handle(resyncEv(p.at(5), parked))
			feed(tr, one(destroyed(parked, p.at(9), 16)))
			tr.Advance(p.at(30))
			if len(log.calls) != 1 || log.calls[0].DID != "74951112233" {
				t.Fatalf("creation seen %v: records %+v; want one, DID 74951112233", seen, log.calls)
			}
		}
	})
	t.Run("a caller name on a call whose beginning was not seen may not be the carrier's", func(t *testing.T) {
		// In Stasis mode screenpop sets CALLERID(name) from the client
		// base (LookupName); a call first seen after that shows the name
		// as if the carrier had sent it.
		named := p.trunk("a11", "+79161234567", "74951112233")
		named.CallerName = "Ivanov Ivan"
		ph := p.phone(named, "101")
		for _, how := range []string{"first seen at a resync", "opened by a Dial past its begin"} {
			tr, log, _ := newTestTracker()
			if how == "first seen at a resync" {
				tr.Handle(resyncEv(p.at(5), state(named, "Up"), state(ph, "Up")))
			} else {
				tr.Handle(resyncEv(p.at(5)))
				feed(tr, one(dial(named, ph, "ANSWER", p.at(2))))
			}
			feed(tr, one(destroyed(ph, p.at(9), 16), destroyed(named, p.at(9), 16)))
			tr.Advance(p.at(30))
			if len(log.calls) != 1 || !log.calls[0].Uncertain(GapCaller) {
				t.Errorf("%s: records %+v; want one, its caller flagged", how, log.calls)
			}
		}
	})
	t.Run("a caller left alone by their operator when the view was lost may have been offered to phones unseen", func(t *testing.T) {
		// A blind transfer: 101 sent the caller on and hung up; the
		// caller's channel dialled 102, who answered and hung up, all
		// while the view was lost.
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a12", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2)), destroyed(ph, p.at(4), 16)))
		tr.Handle(resyncEv(p.at(9), state(trunk, "Up")))
		feed(tr, one(destroyed(trunk, p.at(9.1), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || !log.calls[0].Uncertain(GapOffers) || !log.calls[0].Uncertain(GapAnswer) {
			t.Fatalf("records %+v; want one, its offers and answer (who talked to the caller) flagged", log.calls)
		}
	})
	t.Run("a caller first seen at a resync after a blind transfer took them out of the inbound context is a call", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("a13", "+79161234567", "74951112233")
		trunk.DID = "74951112233" // FROM_DID, set in the inbound context
		moved := state(trunk, "Up")
		moved.Context, moved.Exten = "from-internal", "102"
		tr.Handle(resyncEv(p.at(5), moved))
		feed(tr, one(destroyed(moved, p.at(9), 16)))
		tr.Advance(p.at(30))
		if len(log.calls) != 1 || log.calls[0].ID != "a13" || log.calls[0].DID != "74951112233" || !log.calls[0].Uncertain(GapStart) {
			t.Fatalf("records %+v; want call a13, DID 74951112233, its start flagged", log.calls)
		}
	})
	t.Run("a late StasisStart of a call a resync ended starts no second call", func(t *testing.T) {
		tr, log, obs := newTestTracker()
		cust := local("a7", "Local/74951112233@from-trunk-0000003e;1", "from-trunk", "a7")
		in := local("a7-2", "Local/74951112233@from-trunk-0000003e;2", "from-trunk", "a7")
		feed(tr, one(created(cust, p.at(0))))
		// The drop took the ;2 half's creation and the call's end; the
		// StasisStart of that half was queued, and comes after the resync.
		tr.Handle(resyncEv(p.at(9)))
		feed(tr, one(Event{Kind: EventStasisStart, At: p.at(0.1), Channel: in, Args: []string{"inbound", "74951112233"}}))
		tr.Close(CloseEndOfInput)
		if len(log.calls) != 1 {
			t.Fatalf("%d records %+v; want the call once", len(log.calls), log.calls)
		}
		var told bool
		for _, n := range obs.notices {
			told = told || n.Kind == NoticeStasis && n.ChannelID == in.ID
		}
		if !told {
			t.Errorf("the Stasis handler was not told of the channel in the app")
		}
	})
}

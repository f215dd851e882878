package screenpop

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pbx builds the events a PJSIP call centre would send: a trunk channel in
// from-trunk dialling PJSIP/<ext> phones, with CHANNEL(linkedid) set.
type pbx struct {
	t0  time.Time
	seq int
}

func newPBX() *pbx { return &pbx{t0: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)} }

func (p *pbx) at(sec float64) time.Time { return p.t0.Add(time.Duration(sec * float64(time.Second))) }

func (p *pbx) trunk(id, caller, did string) Channel {
	return Channel{ID: id, Name: "PJSIP/trunk-" + id, State: "Ring", Context: "from-trunk", Exten: did,
		CallerNumber: caller, LinkedID: id, CreatedAt: p.t0}
}

func (p *pbx) phone(call Channel, ext string) Channel {
	p.seq++
	return Channel{ID: fmt.Sprintf("%s.%d", call.ID, p.seq), Name: fmt.Sprintf("PJSIP/%s-%08x", ext, p.seq), State: "Down",
		Context: "phones", Exten: ext, LinkedID: call.LinkedID, CreatedAt: p.t0}
}

func created(ch Channel, at time.Time) Event {
	return Event{Kind: EventChannelCreated, At: at, Channel: ch}
}
func destroyed(ch Channel, at time.Time, cause int) Event {
	return Event{Kind: EventChannelDestroyed, At: at, Channel: ch, Cause: cause}
}
func dial(caller, peer Channel, status string, at time.Time) Event {
	return Event{Kind: EventDial, At: at, Channel: caller, Peer: peer, DialStatus: status}
}
func hangupRequest(ch Channel, at time.Time) Event {
	return Event{Kind: EventHangupRequest, At: at, Channel: ch}
}

// ring is a phone being dialled and ringing from sec.
func ring(trunk, phone Channel, at time.Time) []Event {
	return []Event{created(phone, at), dial(trunk, phone, "", at), dial(trunk, phone, "RINGING", at)}
}

type memLog struct{ calls []Call }

func (l *memLog) Record(c Call) { l.calls = append(l.calls, c) }

type memObserver struct{ notices []Notice }

func (o *memObserver) Notice(n Notice) { o.notices = append(o.notices, n) }

func newTestTracker() (*Tracker, *memLog, *memObserver) {
	ops, err := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	if err != nil {
		panic(err)
	}
	log, obs := &memLog{}, &memObserver{}
	return NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", StaleAfter: time.Hour}, log, obs), log, obs
}

// feed hands the tracker the events, and after each checks that the
// calls it changed were marked so (the state saved would be stale
// otherwise): a test fed its events this way checks that too.
func feed(t *Tracker, evs ...[]Event) {
	for _, batch := range evs {
		for _, ev := range batch {
			t.State()
			t.Handle(ev)
			if err := ChangedCallsMarked(t); err != nil {
				panic(fmt.Sprintf("after %s: %v", ev.Kind, err))
			}
		}
	}
}

func one(evs ...Event) []Event { return evs }

// summary is what an analyst reads off a call record.
type summary struct {
	ID         string
	Status     Status
	OfferedTo  []string
	AnsweredBy string
	TalkedTo   []string
	Close      string
	Outcomes   []Outcome
}

func summarise(c Call) summary {
	s := summary{ID: c.ID, Status: c.Status, OfferedTo: c.OfferedTo, TalkedTo: c.TalkedTo, Close: c.CloseReason}
	if c.AnsweredBy != nil {
		s.AnsweredBy = *c.AnsweredBy
	}
	for _, o := range c.Offers {
		s.Outcomes = append(s.Outcomes, o.Outcome)
	}
	return s
}

// onlyRecord feeds the tracker a call's events and lets an hour pass: the
// call's record, which must be the only one.
func onlyRecord(t *testing.T, tr *Tracker, log *memLog, p *pbx, events []Event) Call {
	t.Helper()
	feed(tr, events)
	tr.Advance(p.at(3600))
	if len(log.calls) != 1 {
		t.Fatalf("got %d records, want 1", len(log.calls))
	}
	return log.calls[0]
}

func TestTrackerOutcomes(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	tests := []struct {
		name   string
		events func() []Event
		want   summary
	}{
		{
			name: "a phone that is unavailable makes a failed call",
			events: func() []Event {
				ph := p.phone(trunk, "101")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					dial(trunk, ph, "CHANUNAVAIL", p.at(0.2)), destroyed(ph, p.at(0.2), 20), destroyed(trunk, p.at(0.5), 16))
			},
			want: summary{ID: "c1", Status: StatusFailed, OfferedTo: []string{}, TalkedTo: []string{}, Outcomes: []Outcome{OutcomeFailed}},
		},
		{
			name: "a caller who hangs up before any phone rings has abandoned the call",
			events: func() []Event {
				return one(created(trunk, p.at(0)), hangupRequest(trunk, p.at(8)), destroyed(trunk, p.at(8), 16))
			},
			want: summary{ID: "c1", Status: StatusAbandoned, OfferedTo: []string{}, TalkedTo: []string{}},
		},
		{
			name: "a phone destroyed while ringing without a dial status after the caller hung up is a cancelled offer",
			events: func() []Event {
				ph := p.phone(trunk, "101")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)),
					one(hangupRequest(trunk, p.at(3)), destroyed(ph, p.at(3), 16), destroyed(trunk, p.at(3), 16)))
			},
			want: summary{ID: "c1", Status: StatusAbandoned, OfferedTo: []string{"101"}, TalkedTo: []string{}, Outcomes: []Outcome{OutcomeCancelled}},
		},
		{
			name: "a blind transfer to another operator adds them to talked_to",
			events: func() []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.1)),
					one(dial(trunk, a, "ANSWER", p.at(2))),
					// 101 transfers: the trunk leaves the bridge and dials 102.
					one(destroyed(a, p.at(30), 16)), ring(trunk, b, p.at(30.1)),
					one(dial(trunk, b, "ANSWER", p.at(33)), destroyed(b, p.at(60), 16), destroyed(trunk, p.at(60), 16)))
			},
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101", "102"}, AnsweredBy: "101", TalkedTo: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeAnswered, OutcomeAnswered}},
		},
		{
			name: "an attended transfer that bridges another operator's own channel with the caller adds them to talked_to",
			events: func() []Event {
				a := p.phone(trunk, "101")
				// 102's channel belongs to 101's consultation call, not to ours.
				b := Channel{ID: "consult.2", Name: "PJSIP/102-000000ff", State: "Up", Context: "phones", LinkedID: "consult"}
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.1)),
					one(dial(trunk, a, "ANSWER", p.at(2)),
						Event{Kind: EventBridgeEntered, At: p.at(2), Channel: trunk, BridgeID: "b1"},
						Event{Kind: EventBridgeEntered, At: p.at(2), Channel: a, BridgeID: "b1"},
						Event{Kind: EventBridgeLeft, At: p.at(40), Channel: a, BridgeID: "b1"},
						Event{Kind: EventBridgeEntered, At: p.at(40), Channel: b, BridgeID: "b1"},
						destroyed(a, p.at(40), 16), destroyed(b, p.at(70), 16), destroyed(trunk, p.at(70), 16)))
			},
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101", "102"},
				Outcomes: []Outcome{OutcomeAnswered}},
		},
		{
			name: "a phone ringing twice in a queue is listed once in offered_to",
			events: func() []Event {
				a1, a2 := p.phone(trunk, "101"), p.phone(trunk, "101")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a1, p.at(1)),
					one(dial(trunk, a1, "NOANSWER", p.at(16)), destroyed(a1, p.at(16), 0)), ring(trunk, a2, p.at(17)),
					one(dial(trunk, a2, "NOANSWER", p.at(32)), destroyed(a2, p.at(32), 0), destroyed(trunk, p.at(33), 16)))
			},
			want: summary{ID: "c1", Status: StatusMissed, OfferedTo: []string{"101"}, TalkedTo: []string{},
				Outcomes: []Outcome{OutcomeNoAnswer, OutcomeNoAnswer}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, log, _ := newTestTracker()
			c := onlyRecord(t, tr, log, p, tt.events())
			if diff := cmp.Diff(tt.want, summarise(c)); diff != "" {
				t.Errorf("record differs (-want +got):\n%s", diff)
			}
			if tr.Open() != 0 || len(tr.legs) != 0 || len(tr.linked) != 0 || len(tr.bridges) > 1 {
				t.Errorf("tracker keeps state after the call: %d calls, %d legs, %d linked", tr.Open(), len(tr.legs), len(tr.linked))
			}
		})
	}
}

func TestTrackerResync(t *testing.T) {
	p := newPBX()
	t.Run("a call that ended while disconnected is recorded once, with the reason", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2))))
		// The socket drops; on reconnect Asterisk has no channels left.
		tr.Handle(Event{Kind: EventResync, At: p.at(60)})
		tr.Advance(p.at(120))
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"},
			Close: CloseDisconnected, Outcomes: []Outcome{OutcomeAnswered}}
		if diff := cmp.Diff(want, summarise(c)); diff != "" {
			t.Errorf("record differs (-want +got):\n%s", diff)
		}
		if !c.EndedAt.Equal(p.at(60)) {
			t.Errorf("ended at %v, want the resync time %v", c.EndedAt, p.at(60))
		}
	})
	t.Run("a call still up after a reconnect goes on and is recorded once when it ends", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2))))
		up, phUp := trunk, ph
		up.State, phUp.State = "Up", "Up"
		tr.Handle(Event{Kind: EventResync, At: p.at(30), Channels: []Channel{up, phUp}})
		// Asterisk's events after the reconnect repeat what we know.
		feed(tr, one(created(up, p.at(30)), dial(trunk, ph, "ANSWER", p.at(30)),
			destroyed(ph, p.at(45), 16), destroyed(trunk, p.at(45), 16)))
		tr.Advance(p.at(120))
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1: %+v", len(log.calls), log.calls)
		}
		want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"},
			Outcomes: []Outcome{OutcomeAnswered}}
		if diff := cmp.Diff(want, summarise(log.calls[0])); diff != "" {
			t.Errorf("record differs (-want +got):\n%s", diff)
		}
		if got := log.calls[0].TalkSeconds; got != 43 {
			t.Errorf("talk %v s, want 43", got)
		}
	})
	t.Run("a call that began while disconnected is picked up from the channel list", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c2", "89031112233", "74951112233")
		trunk.State = "Up"
		ph := p.phone(trunk, "102")
		ph.State = "Up"
		tr.Handle(Event{Kind: EventResync, At: p.at(10), Channels: []Channel{ph, trunk}})
		feed(tr, one(destroyed(ph, p.at(20), 16), destroyed(trunk, p.at(20), 16)))
		tr.Advance(p.at(120))
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		if c.ID != "c2" || c.Status != StatusAnswered || !slices.Equal(c.TalkedTo, []string{"102"}) || *c.CallerE164 != "+79031112233" {
			t.Errorf("got %+v, want c2 answered by 102 from +79031112233", summarise(c))
		}
		if !c.StartedAt.Equal(p.t0) {
			t.Errorf("started at %v, want the channel's creation time %v", c.StartedAt, p.t0)
		}
	})
}

func TestTrackerClosesCallsWhoseEndIsNeverSeen(t *testing.T) {
	p := newPBX()
	tr, log, _ := newTestTracker()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	tr.Handle(created(trunk, p.at(0)))
	tr.Advance(p.at(59 * 60))
	if len(log.calls) != 0 {
		t.Fatalf("closed after 59 minutes; StaleAfter is an hour")
	}
	tr.Advance(p.at(61 * 60))
	if len(log.calls) != 1 {
		t.Fatalf("got %d records after an hour without events, want 1", len(log.calls))
	}
	if got, want := log.calls[0].CloseReason, fmt.Sprintf(CloseStale, time.Hour); got != want {
		t.Errorf("close reason %q, want %q", got, want)
	}
	if tr.Open() != 0 || len(tr.legs) != 0 {
		t.Errorf("stale call still held: %d calls, %d legs", tr.Open(), len(tr.legs))
	}
}

func TestTrackerNotices(t *testing.T) {
	p := newPBX()
	tr, _, obs := newTestTracker()
	trunk := p.trunk("c1", "89161234567", "74951112233")
	a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
	feed(tr, one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.5)), ring(trunk, b, p.at(0.5)),
		one(dial(trunk, b, "ANSWER", p.at(3)), dial(trunk, a, "CANCEL", p.at(3)), dial(trunk, a, "CANCEL", p.at(3))),
		one(destroyed(a, p.at(3), 26), destroyed(b, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
	tr.Advance(p.at(20))
	type seen struct {
		Kind     NoticeKind
		Operator string
		Outcome  Outcome
	}
	var got []seen
	for _, n := range obs.notices {
		got = append(got, seen{n.Kind, n.Operator, n.Outcome})
		if n.CallID != "c1" || n.Caller.E164 != "+79161234567" || n.DID != "74951112233" {
			t.Errorf("notice %v is about %s from %+v to %s", n.Kind, n.CallID, n.Caller, n.DID)
		}
	}
	want := []seen{
		{NoticeStarted, "", ""},
		{NoticeRinging, "101", ""},
		{NoticeRinging, "102", ""},
		{NoticeAnswered, "102", ""},
		{NoticeOfferEnded, "101", OutcomeAnsweredElsewhere},
		{NoticeEnded, "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notices differ (-want +got):\n%s", diff)
	}
	if obs.notices[0].At != p.at(0) {
		t.Errorf("the call was announced at %v, want at once (%v), before any phone rang", obs.notices[0].At, p.at(0))
	}
}

// TestTrackerTellsAColleagueCancelledAsOneAnswersThatItWasAnsweredElsewhere
// follows app_dial's order: the answering phone goes Up, the others are
// cancelled and hung up (cause 26), and the answer is published only after
// the Dial's options ran. The colleague's pop is never told it missed the
// call.
func TestTrackerTellsAColleagueCancelledAsOneAnswersThatItWasAnsweredElsewhere(t *testing.T) {
	p := newPBX()
	tr, _, obs := newTestTracker()
	trunk := p.trunk("c1", "89161234567", "74951112233")
	a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
	feed(tr, one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.5)), ring(trunk, b, p.at(0.5)),
		one(Event{Kind: EventChannelUpdated, Channel: state(b, "Up"), At: p.at(3)}, dial(trunk, a, "CANCEL", p.at(3.001)),
			destroyed(a, p.at(3.002), 26), dial(trunk, b, "ANSWER", p.at(5))))
	var ended []Outcome
	for _, n := range obs.notices {
		if n.Kind == NoticeOfferEnded && n.Operator == "101" {
			ended = append(ended, n.Outcome)
		}
	}
	if want := []Outcome{OutcomeAnsweredElsewhere}; !slices.Equal(ended, want) {
		t.Errorf("101's pop was told %v, want %v", ended, want)
	}
}

func TestTrackerIgnoresChannelsThatAreNotInboundCalls(t *testing.T) {
	p := newPBX()
	tr, log, obs := newTestTracker()
	// An operator calls a colleague: neither channel is in from-trunk.
	a := Channel{ID: "i1", Name: "PJSIP/101-00000001", Context: "phones", Exten: "102", CallerNumber: "101", LinkedID: "i1"}
	b := Channel{ID: "i2", Name: "PJSIP/102-00000002", Context: "phones", LinkedID: "i1"}
	feed(tr, one(created(a, p.at(0)), created(b, p.at(0)), dial(a, b, "", p.at(0)), dial(a, b, "RINGING", p.at(0)),
		dial(a, b, "ANSWER", p.at(2)), destroyed(b, p.at(5), 16), destroyed(a, p.at(5), 16)))
	tr.Advance(p.at(60))
	if len(log.calls) != 0 || len(obs.notices) != 0 {
		t.Errorf("an internal call made %d records and %d notices, want none", len(log.calls), len(obs.notices))
	}
}

func TestTrackerMemoryStaysBoundedOverManyCalls(t *testing.T) {
	p := newPBX()
	tr, log, _ := newTestTracker()
	for i := 0; i < 2000; i++ {
		at := float64(i) * 10
		trunk := p.trunk(fmt.Sprintf("c%d", i), "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		// Local channels that never join a call must not pile up either.
		stray := Channel{ID: fmt.Sprintf("s%d", i), Name: fmt.Sprintf("Local/s@ivr-%08x;2", i), Context: "ivr"}
		feed(tr, one(created(trunk, p.at(at)), created(stray, p.at(at))), ring(trunk, ph, p.at(at+0.1)),
			one(dial(trunk, ph, "ANSWER", p.at(at+1)), destroyed(ph, p.at(at+5), 16), destroyed(trunk, p.at(at+5), 16), destroyed(stray, p.at(at+5), 16)))
	}
	tr.Advance(p.at(20000 + 60))
	if len(log.calls) != 2000 {
		t.Errorf("got %d records, want 2000", len(log.calls))
	}
	if tr.Open() != 0 || len(tr.legs) != 0 || len(tr.linked) != 0 || len(tr.pairs) != 0 || len(tr.orphans) != 0 || len(tr.ending) != 0 {
		t.Errorf("state left: %d calls, %d legs, %d linked, %d pairs, %d orphans, %d ending",
			tr.Open(), len(tr.legs), len(tr.linked), len(tr.pairs), len(tr.orphans), len(tr.ending))
	}
}

// TestTrackerReadsCause26AfterTheCallerHungUpAsCancelled follows a ring
// group dialled with Dial's c option whose CANCELs were lost (an ARI
// drop): the caller hangs up, and app_dial hangs the ringing phones up
// with cause 26, answered elsewhere. Nobody answered: the caller
// abandoned the call, and the phones' offers say cancelled, not answered
// elsewhere. When a phone is up, its ANSWER still to come, cause 26 is
// the answer's.
func TestTrackerReadsCause26AfterTheCallerHungUpAsCancelled(t *testing.T) {
	t.Run("the caller hung up", func(t *testing.T) {
		p := newPBX()
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c1", "89161234567", "74951112233")
		a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.5)), ring(trunk, b, p.at(0.5)),
			one(hangupRequest(trunk, p.at(6)), destroyed(a, p.at(6.001), 26), destroyed(b, p.at(6.001), 26), destroyed(trunk, p.at(6.002), 16)))
		tr.Advance(p.at(60))
		if len(log.calls) != 1 {
			t.Fatalf("%d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		if c.Status != StatusAbandoned || c.AnsweredBy != nil {
			t.Errorf("status %s, answered by %v; want abandoned, nobody", c.Status, c.AnsweredBy)
		}
		for _, o := range c.Offers {
			if o.Outcome != OutcomeCancelled {
				t.Errorf("%s's offer %s, want %s", o.Operator, o.Outcome, OutcomeCancelled)
			}
		}
	})
	t.Run("a phone was up as the caller hung up", func(t *testing.T) {
		p := newPBX()
		tr, log, _ := newTestTracker()
		trunk := p.trunk("c1", "89161234567", "74951112233")
		a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.5)), ring(trunk, b, p.at(0.5)),
			one(Event{Kind: EventChannelUpdated, Channel: state(b, "Up"), At: p.at(3)}, hangupRequest(trunk, p.at(3.001)),
				destroyed(a, p.at(3.002), 26), destroyed(b, p.at(3.003), 16), destroyed(trunk, p.at(3.004), 16)))
		tr.Advance(p.at(60))
		if len(log.calls) != 1 {
			t.Fatalf("%d records, want 1", len(log.calls))
		}
		for _, o := range log.calls[0].Offers {
			if o.Operator == "101" && o.Outcome != OutcomeAnsweredElsewhere {
				t.Errorf("101's offer %s, want %s: 102 had answered", o.Outcome, OutcomeAnsweredElsewhere)
			}
		}
	})
}

package screenpop

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newOutboundTracker() (*Tracker, *memLog, *memObserver) {
	ops, err := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	if err != nil {
		panic(err)
	}
	log, obs := &memLog{}, &memObserver{}
	cfg := TrackerConfig{InboundContexts: []string{"from-trunk"}, OutboundContexts: []string{"from-internal"},
		Operators: ops, Region: "RU", StaleAfter: time.Hour}
	return NewTracker(cfg, log, obs), log, obs
}

// outboundSummary is what an analyst reads off an outbound call record.
type outboundSummary struct {
	ID          string
	Direction   Direction
	Caller      string
	CallerE164  string
	DID         string
	Status      Status
	OfferedTo   []string
	AnsweredBy  string
	TalkedTo    []string
	Offers      int
	Ring, Talk  float64
	WaitSeconds float64
}

func summariseOutbound(c Call) outboundSummary {
	s := outboundSummary{ID: c.ID, Direction: c.Direction, Caller: c.Caller, DID: c.DID, Status: c.Status,
		OfferedTo: c.OfferedTo, TalkedTo: c.TalkedTo, Offers: len(c.Offers), Ring: c.RingSeconds, Talk: c.TalkSeconds,
		WaitSeconds: c.WaitSeconds}
	if c.CallerE164 != nil {
		s.CallerE164 = *c.CallerE164
	}
	if c.AnsweredBy != nil {
		s.AnsweredBy = *c.AnsweredBy
	}
	return s
}

// desk is operator 101's phone calling out: the channel Asterisk makes
// when they dial a number on it, in their context at that number.
func desk(id, number string, at time.Time) Channel {
	return Channel{ID: id, Name: "PJSIP/101-000000a1", State: "Ring", Context: "from-internal", Exten: number,
		CallerNumber: "101", LinkedID: id, CreatedAt: at}
}

// clientLeg is the trunk channel that calls the client for call id. A
// PJSIP trunk's outgoing channels are created in the trunk's context,
// which is often the inbound one.
func clientLeg(id string, at time.Time) Channel {
	return Channel{ID: id + ".2", Name: "IAX2/carrier-000000b2", State: "Down", Context: "from-trunk", Exten: "s",
		LinkedID: id, CreatedAt: at}
}

func TestTrackerRecordsAnOperatorsOutboundCall(t *testing.T) {
	p := newPBX()
	tests := []struct {
		name   string
		events func() []Event
		want   outboundSummary
	}{
		{
			name: "a client who answers makes an answered call, by the operator who dialled",
			events: func() []Event {
				ph, cl := desk("o1", "89161234567", p.at(0)), clientLeg("o1", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "RINGING", p.at(1)), dial(ph, cl, "ANSWER", p.at(5)),
					hangupRequest(ph, p.at(65)), destroyed(ph, p.at(65), 16), destroyed(cl, p.at(65), 16))
			},
			want: outboundSummary{ID: "o1", Direction: Outbound, Caller: "89161234567", CallerE164: "+79161234567",
				Status: StatusAnswered, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{"101"},
				Ring: 4, Talk: 60, WaitSeconds: 5},
		},
		{
			name: "a client who does not pick up before the dial times out makes a missed call",
			events: func() []Event {
				ph, cl := desk("o2", "+79161234567", p.at(0)), clientLeg("o2", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "RINGING", p.at(1)), dial(ph, cl, "NOANSWER", p.at(31)),
					destroyed(cl, p.at(31), 0), destroyed(ph, p.at(32), 16))
			},
			want: outboundSummary{ID: "o2", Direction: Outbound, Caller: "+79161234567", CallerE164: "+79161234567",
				Status: StatusMissed, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{}, Ring: 30, WaitSeconds: 32},
		},
		{
			name: "an operator who hangs up while the client's phone rings makes a missed call",
			events: func() []Event {
				ph, cl := desk("o3", "89161234567", p.at(0)), clientLeg("o3", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "PROGRESS", p.at(1)), hangupRequest(ph, p.at(9)), dial(ph, cl, "CANCEL", p.at(9)),
					destroyed(cl, p.at(9), 16), destroyed(ph, p.at(9), 16))
			},
			want: outboundSummary{ID: "o3", Direction: Outbound, Caller: "89161234567", CallerE164: "+79161234567",
				Status: StatusMissed, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{}, Ring: 8, WaitSeconds: 9},
		},
		{
			name: "a busy client makes a busy call",
			events: func() []Event {
				ph, cl := desk("o4", "89161234567", p.at(0)), clientLeg("o4", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "BUSY", p.at(1)), destroyed(cl, p.at(1), 17), destroyed(ph, p.at(3), 16))
			},
			want: outboundSummary{ID: "o4", Direction: Outbound, Caller: "89161234567", CallerE164: "+79161234567",
				Status: StatusBusy, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{}, WaitSeconds: 3},
		},
		{
			name: "a number the trunk cannot reach makes a failed call",
			events: func() []Event {
				ph, cl := desk("o5", "89161234567", p.at(0)), clientLeg("o5", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "CONGESTION", p.at(1)), destroyed(cl, p.at(1), 34), destroyed(ph, p.at(2), 34))
			},
			want: outboundSummary{ID: "o5", Direction: Outbound, Caller: "89161234567", CallerE164: "+79161234567",
				Status: StatusFailed, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{}, WaitSeconds: 2},
		},
		{
			name: "click-to-dial: the originated phone, sent to the number when it answers, makes the outbound call",
			events: func() []Event {
				// As Asterisk originates: the phone's channel is made at
				// "s" in its default context, dialled with no caller, and
				// sent to extension@context once it answers.
				ph := Channel{ID: "screenpop-dial-1", Name: "PJSIP/101-000000c1", State: "Down", Context: "default", Exten: "s",
					CallerNumber: "101", LinkedID: "screenpop-dial-1", CreatedAt: p.at(0)}
				up := ph
				up.State, up.Context, up.Exten = "Up", "from-internal", "+79161234567"
				cl := clientLeg("screenpop-dial-1", p.at(3))
				return one(created(ph, p.at(0)), dial(Channel{}, ph, "", p.at(0)), dial(Channel{}, ph, "RINGING", p.at(0.1)),
					dial(Channel{}, ph, "ANSWER", p.at(2)), Event{Kind: EventChannelUpdated, At: p.at(2), Channel: Channel{
						ID: ph.ID, Name: ph.Name, State: "Up", Context: "default", Exten: "s", LinkedID: ph.ID, CreatedAt: p.at(0)}},
					created(cl, p.at(3)), dial(up, cl, "", p.at(3)), dial(up, cl, "RINGING", p.at(3.5)), dial(up, cl, "ANSWER", p.at(6)),
					destroyed(up, p.at(20), 16), destroyed(cl, p.at(20), 16))
			},
			want: outboundSummary{ID: "screenpop-dial-1", Direction: Outbound, Caller: "+79161234567", CallerE164: "+79161234567",
				Status: StatusAnswered, OfferedTo: []string{}, AnsweredBy: "101", TalkedTo: []string{"101"},
				Ring: 2.5, Talk: 14, WaitSeconds: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, log, obs := newOutboundTracker()
			feed(tr, tt.events())
			tr.Advance(p.at(3600))
			if len(log.calls) != 1 {
				t.Fatalf("got %d records, want 1: %+v", len(log.calls), log.calls)
			}
			if diff := cmp.Diff(tt.want, summariseOutbound(log.calls[0])); diff != "" {
				t.Errorf("record differs (-want +got):\n%s", diff)
			}
			for _, n := range obs.notices {
				if n.Kind != NoticeEnded {
					t.Errorf("an outbound call sent a %v notice: pops are for inbound calls", n.Kind)
				}
			}
			if tr.Open() != 0 || len(tr.legs) != 0 || len(tr.linked) != 0 || len(tr.originating) != 0 {
				t.Errorf("tracker keeps state after the call: %d calls, %d legs, %d linked, %d originating",
					tr.Open(), len(tr.legs), len(tr.linked), len(tr.originating))
			}
		})
	}
}

func TestTrackerTellsWhyAnOriginatedPhoneDidNotAnswer(t *testing.T) {
	p := newPBX()
	phone := Channel{ID: "screenpop-dial-2", Name: "PJSIP/101-000000d1", State: "Down", Context: "default", Exten: "s",
		LinkedID: "screenpop-dial-2", CreatedAt: p.at(0)}
	tests := []struct {
		name       string
		events     []Event
		dialStatus string
		cause      int
	}{
		{
			name: "a phone that rings out is told by its dial status",
			events: one(created(phone, p.at(0)), dial(Channel{}, phone, "", p.at(0)), dial(Channel{}, phone, "RINGING", p.at(0.1)),
				dial(Channel{}, phone, "NOANSWER", p.at(30)), destroyed(phone, p.at(30), 0)),
			dialStatus: "NOANSWER",
		},
		{
			name: "an offline phone is told by its hangup cause when no dial status came",
			events: one(created(phone, p.at(0)), dial(Channel{}, phone, "", p.at(0)),
				Event{Kind: EventChannelDestroyed, At: p.at(0.2), Channel: phone, Cause: 20, CauseText: "Subscriber absent"}),
			cause: 20,
		},
		{
			name: "a busy phone is told once though its hangup follows",
			events: one(created(phone, p.at(0)), dial(Channel{}, phone, "", p.at(0)), dial(Channel{}, phone, "BUSY", p.at(0.1)),
				destroyed(phone, p.at(0.1), 17)),
			dialStatus: "BUSY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, log, obs := newOutboundTracker()
			feed(tr, tt.events)
			tr.Advance(p.at(3600))
			if len(log.calls) != 0 {
				t.Errorf("got %d records for a phone that never called anyone, want none", len(log.calls))
			}
			var failed []Notice
			for _, n := range obs.notices {
				if n.Kind == NoticeCalloutFailed {
					failed = append(failed, n)
				}
			}
			if len(failed) != 1 {
				t.Fatalf("got %d dial_failed notices, want 1: %+v", len(failed), obs.notices)
			}
			n := failed[0]
			if n.ChannelID != phone.ID || n.Operator != "101" || n.DialStatus != tt.dialStatus || n.Cause != tt.cause {
				t.Errorf("notice about channel %s of %s with status %q cause %d, want %s of 101 with %q cause %d",
					n.ChannelID, n.Operator, n.DialStatus, n.Cause, phone.ID, tt.dialStatus, tt.cause)
			}
			if len(tr.originating) != 0 {
				t.Errorf("tracker still follows %d originated phones an hour later", len(tr.originating))
			}
		})
	}
}

func TestTrackerOutboundRuleLeavesOtherChannelsAlone(t *testing.T) {
	p := newPBX()
	t.Run("an operator calling a colleague's extension makes no record", func(t *testing.T) {
		tr, log, obs := newOutboundTracker()
		a := desk("i1", "102", p.at(0))
		b := Channel{ID: "i1.2", Name: "PJSIP/102-00000002", Context: "from-internal", Exten: "s", LinkedID: "i1"}
		feed(tr, one(created(a, p.at(0)), created(b, p.at(0)), dial(a, b, "", p.at(0)), dial(a, b, "ANSWER", p.at(2)),
			destroyed(b, p.at(5), 16), destroyed(a, p.at(5), 16)))
		tr.Advance(p.at(60))
		if len(log.calls) != 0 || len(obs.notices) != 0 {
			t.Errorf("an internal call made %d records and %d notices, want none", len(log.calls), len(obs.notices))
		}
	})
	t.Run("an inbound call to a phone whose channel sits in the outbound context keeps its inbound record", func(t *testing.T) {
		// PJSIP makes a dialled phone's channel in the endpoint's context
		// (from-internal) at "s": that is no outbound call.
		tr, log, _ := newOutboundTracker()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		ph := p.phone(trunk, "101")
		ph.Context, ph.Exten = "from-internal", "s"
		feed(tr, one(created(trunk, p.at(0))), ring(trunk, ph, p.at(0.1)), one(dial(trunk, ph, "ANSWER", p.at(2)),
			destroyed(ph, p.at(30), 16), destroyed(trunk, p.at(30), 16)))
		tr.Advance(p.at(3600))
		if len(log.calls) != 1 {
			t.Fatalf("got %d records, want 1", len(log.calls))
		}
		c := log.calls[0]
		want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: "101", TalkedTo: []string{"101"},
			Outcomes: []Outcome{OutcomeAnswered}}
		if diff := cmp.Diff(want, summarise(c)); diff != "" || c.Direction != Inbound || c.DID != "74951112233" {
			t.Errorf("record (%s, did %s) differs (-want +got):\n%s", c.Direction, c.DID, diff)
		}
	})
	t.Run("an outbound call beside an inbound call leaves the inbound record untouched", func(t *testing.T) {
		tr, log, _ := newOutboundTracker()
		trunk := p.trunk("c2", "+79031112233", "74951112233")
		ph := p.phone(trunk, "102")
		out, cl := desk("o9", "89161234567", p.at(1)), clientLeg("o9", p.at(1.5))
		feed(tr, one(created(trunk, p.at(0)), created(out, p.at(1))), ring(trunk, ph, p.at(0.1)),
			one(created(cl, p.at(1.5)), dial(out, cl, "", p.at(1.5)), dial(trunk, ph, "ANSWER", p.at(2)), dial(out, cl, "ANSWER", p.at(4)),
				destroyed(out, p.at(20), 16), destroyed(cl, p.at(20), 16), destroyed(ph, p.at(30), 16), destroyed(trunk, p.at(30), 16)))
		tr.Advance(p.at(3600))
		dirs := map[string]Direction{}
		for _, c := range log.calls {
			dirs[c.ID] = c.Direction
		}
		if want := map[string]Direction{"c2": Inbound, "o9": Outbound}; !cmp.Equal(want, dirs) {
			t.Errorf("records %v, want %v", dirs, want)
		}
		for _, c := range log.calls {
			if c.ID == "c2" && (!slices.Equal(c.TalkedTo, []string{"102"}) || c.Caller != "+79031112233") {
				t.Errorf("the inbound call's record changed: %+v", summarise(c))
			}
		}
	})
}

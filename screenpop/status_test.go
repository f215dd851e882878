package screenpop

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func varset(ch Channel, name, value string, sec float64, p *pbx) Event {
	return Event{Kind: EventVariable, At: p.at(sec), Channel: ch, Variable: name, Value: value}
}

func hangupFrom(ch Channel, cause int, soft bool, sec float64, p *pbx) Event {
	return Event{Kind: EventHangupRequest, At: p.at(sec), Channel: ch, Cause: cause, Soft: soft}
}

func destroyedText(ch Channel, sec float64, cause int, text string, p *pbx) Event {
	return Event{Kind: EventChannelDestroyed, At: p.at(sec), Channel: ch, Cause: cause, CauseText: text}
}

// queueLeg is a queue's dial of an operator's phone: app_queue dials from
// the caller's channel like Dial does.
func queueLeg(p *pbx, trunk Channel, ext string) Channel { return p.phone(trunk, ext) }

// TestStatusRules holds the status table of the README: what Asterisk
// sends for each way a call can go unanswered, as a PJSIP call centre
// sends it, and the status and the rule the record then says.
func TestStatusRules(t *testing.T) {
	tests := []struct {
		name   string
		events func(p *pbx, trunk Channel) []Event
		status Status
		// why is a part of the status sentence of the classification.
		why string
	}{
		{
			name: "an unregistered phone (no channel, no Dial, DIALSTATUS CHANUNAVAIL, Hangup(), cause 3) is failed",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), varset(trunk, "DIALSTATUS", "", 0.1, p),
					varset(trunk, "DIALSTATUS", "CHANUNAVAIL", 0.1, p),
					destroyedText(trunk, 0.2, 3, "No route to destination", p))
			},
			status: StatusFailed,
			why:    "failed: no operator's phone could be reached: DIALSTATUS was CHANUNAVAIL; the caller did not hang up: the dialplan ended the call (cause 3 No route to destination)",
		},
		{
			name: "a switched-off phone (Dial NOANSWER after its timeout, never RINGING) is failed",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "105")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					dial(trunk, ph, "NOANSWER", p.at(20.1)), destroyedText(ph, 20.1, 19, "No user responding", p),
					varset(trunk, "DIALSTATUS", "NOANSWER", 20.1, p), destroyedText(trunk, 20.2, 16, "Normal Clearing", p))
			},
			status: StatusFailed,
			why:    "failed: no operator's phone could be reached: 105's phone was dialled 20.0 s and never rang (NOANSWER): switched off or out of reach; DIALSTATUS was NOANSWER; the caller did not hang up",
		},
		{
			name: "a switched-off phone whose channel ends before Dial says so is failed too",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "105")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					destroyedText(ph, 20.1, 18, "No user responding", p), destroyedText(trunk, 20.2, 16, "Normal Clearing", p))
			},
			status: StatusFailed,
			why:    "105's phone was dialled 20.0 s and its channel ended with a cause saying it cannot be reached",
		},
		{
			name: "a caller who hangs up while the phone rings (cause 127 on the inbound leg) abandoned the call",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "101")
				return append(ring(trunk, ph, p.at(0.1)), hangupFrom(trunk, 127, false, 6, p),
					dial(trunk, ph, "CANCEL", p.at(6)), destroyedText(ph, 6, 16, "", p),
					varset(trunk, "DIALSTATUS", "CANCEL", 6, p), destroyedText(trunk, 6, 127, "Interworking, unspecified", p))
			},
			status: StatusAbandoned,
			why:    "abandoned: the caller hung up while 101 rang, after waiting 6.0 s (hangup request from the caller's side on channel PJSIP/trunk-c1, cause 127)",
		},
		{
			name: "a caller who hangs up while a switched-off phone is still being dialled abandoned the call",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "105")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					hangupFrom(trunk, 16, false, 5, p), dial(trunk, ph, "CANCEL", p.at(5)), destroyed(ph, p.at(5), 16),
					destroyed(trunk, p.at(5), 16))
			},
			status: StatusAbandoned,
			why:    "abandoned: the caller hung up while phones were being dialled, before any rang",
		},
		{
			name: "a caller who hangs up while waiting in a queue before any phone is dialled abandoned the call",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), hangupFrom(trunk, 16, false, 12, p), destroyed(trunk, p.at(12), 16))
			},
			status: StatusAbandoned,
			why:    "abandoned: the caller hung up before any phone was dialled (in a queue, an IVR), after waiting 12.0 s",
		},
		{
			name: "a queue whose members are unavailable (CHANUNAVAIL) is failed, even when the caller then hangs up",
			events: func(p *pbx, trunk Channel) []Event {
				a, b := queueLeg(p, trunk, "101"), queueLeg(p, trunk, "102")
				return one(created(trunk, p.at(0)),
					created(a, p.at(0.1)), dial(trunk, a, "", p.at(0.1)), dial(trunk, a, "CHANUNAVAIL", p.at(0.1)), destroyed(a, p.at(0.1), 20),
					created(b, p.at(0.1)), dial(trunk, b, "", p.at(0.1)), dial(trunk, b, "CONGESTION", p.at(0.2)), destroyed(b, p.at(0.2), 34),
					hangupFrom(trunk, 16, false, 30, p), destroyed(trunk, p.at(30), 16))
			},
			status: StatusFailed,
			why:    "failed: no operator's phone could be reached: Dial to 101's phone ended CHANUNAVAIL; Dial to 102's phone ended CONGESTION; the caller hung up after 30.0 s without any phone having rung",
		},
		{
			name: "a queue with no member to ring (QUEUESTATUS JOINUNAVAIL) is failed",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), varset(trunk, "QUEUESTATUS", "JOINUNAVAIL", 0.1, p), destroyed(trunk, p.at(0.2), 16))
			},
			status: StatusFailed,
			why:    "QUEUESTATUS was JOINUNAVAIL",
		},
		{
			name: "a phone that rang until Dial's timeout is missed, not failed",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "101")
				return append(ring(trunk, ph, p.at(0.1)), dial(trunk, ph, "NOANSWER", p.at(20.1)), destroyed(ph, p.at(20.1), 16),
					varset(trunk, "DIALSTATUS", "NOANSWER", 20.1, p), destroyed(trunk, p.at(20.2), 16))
			},
			status: StatusMissed,
			why:    "missed: phones rang 20.0 s and Dial ended NOANSWER before the caller hung up",
		},
		{
			name: "a busy phone is busy",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "101")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					dial(trunk, ph, "BUSY", p.at(0.2)), destroyed(ph, p.at(0.2), 17), varset(trunk, "DIALSTATUS", "BUSY", 0.2, p),
					destroyed(trunk, p.at(0.3), 17))
			},
			status: StatusBusy,
			why:    "busy: every operator's phone dialled was busy",
		},
		{
			name: "an inbound leg the dialplan ends with cause 3 before dialling anyone is failed",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), destroyedText(trunk, 0.2, 3, "No route to destination", p))
			},
			status: StatusFailed,
			why:    "failed: no phone was dialled, the caller did not hang up, and the inbound leg ended with cause 3 No route to destination",
		},
		{
			name: "a soft hangup request (the dialplan's end) is not the caller giving up",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), hangupFrom(trunk, 16, true, 4, p), destroyed(trunk, p.at(4), 16))
			},
			status: StatusAbandoned,
			why:    "no hangup request from the caller's side was seen",
		},
		{
			name: "an inbound leg the dialplan ends normally before dialling anyone says what is not known",
			events: func(p *pbx, trunk Channel) []Event {
				return one(created(trunk, p.at(0)), destroyed(trunk, p.at(4), 16))
			},
			status: StatusAbandoned,
			why:    "no hangup request from the caller's side was seen",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPBX()
			trunk := p.trunk("c1", "+79161234567", "74951112233")
			tr, log, _ := newTestTracker()
			feed(tr, tt.events(p, trunk))
			tr.Close(CloseEndOfInput)
			if len(log.calls) != 1 {
				t.Fatalf("got %d records, want 1", len(log.calls))
			}
			c := log.calls[0]
			if c.Status != tt.status {
				t.Errorf("status %s, want %s; classification:\n%s", c.Status, tt.status, strings.Join(c.Classification, "\n"))
			}
			last := c.Classification[len(c.Classification)-1]
			if !strings.Contains(last, tt.why) {
				t.Errorf("the classification says\n  %s\nwant it to say\n  %s", last, tt.why)
			}
			if c.CloseReason != "" {
				t.Errorf("close reason %q: the end was seen", c.CloseReason)
			}
		})
	}
}

func TestPresentationProhibited(t *testing.T) {
	events := func(p *pbx, trunk Channel) []Event {
		ph := p.phone(trunk, "101")
		return append(append([]Event{created(trunk, p.at(0))}, ring(trunk, ph, p.at(0.1))...),
			dial(trunk, ph, "ANSWER", p.at(2)), destroyed(ph, p.at(5), 16), destroyed(trunk, p.at(5), 16))
	}
	for _, keep := range []bool{false, true} {
		name := "a caller who hid their number is withheld on the pop, and the log does not keep the number"
		if keep {
			name = "with withheld numbers kept, the log keeps the number, and the pop still shows none"
		}
		t.Run(name, func(t *testing.T) {
			p := newPBX()
			trunk := p.trunk("c1", "+79161234567", "74951112233")
			trunk.CallerName = "Ivan"
			trunk.Presentation = "prohib_not_screened"
			tr, log, obs := newTestTracker()
			tr.cfg.KeepWithheldNumbers = keep
			feed(tr, events(p, trunk))
			tr.Close(CloseEndOfInput)
			for _, n := range obs.notices {
				if n.Caller != (Number{Withheld: true}) || n.CallerName != "" {
					t.Errorf("%s notice shows caller %+v %q; want withheld, no number, no name", n.Kind, n.Caller, n.CallerName)
				}
			}
			c := log.calls[0]
			wantCaller := ""
			if keep {
				wantCaller = "+79161234567"
			}
			if !c.Withheld || c.CallerE164 != nil || c.Caller != wantCaller {
				t.Errorf("record: withheld %t, e164 %v, caller %q; want withheld, no E.164, caller %q", c.Withheld, c.CallerE164, c.Caller, wantCaller)
			}
			if !strings.Contains(c.Classification[1], "presentation prohib_not_screened on channel PJSIP/trunk-c1") {
				t.Errorf("classification says %q", c.Classification[1])
			}
		})
	}
	t.Run("presentation told by a ChannelCallerId event withholds the caller the same way", func(t *testing.T) {
		p := newPBX()
		trunk := p.trunk("c1", "", "74951112233")
		tr, log, obs := newTestTracker()
		withID := trunk
		withID.CallerNumber, withID.Presentation = "+79161234567", "prohib"
		feed(tr, one(created(trunk, p.at(0)), Event{Kind: EventChannelUpdated, At: p.at(0.01), Channel: withID},
			destroyed(trunk, p.at(1), 16)))
		tr.Close(CloseEndOfInput)
		if len(obs.notices) == 0 || !obs.notices[0].Caller.Withheld || obs.notices[0].Caller.Raw != "" {
			t.Errorf("notices %+v; want the call announced withheld", obs.notices)
		}
		if c := log.calls[0]; !c.Withheld || c.Caller != "" {
			t.Errorf("record withheld %t caller %q", c.Withheld, c.Caller)
		}
	})
	t.Run("an allowed presentation changes nothing", func(t *testing.T) {
		p := newPBX()
		trunk := p.trunk("c1", "+79161234567", "74951112233")
		trunk.Presentation = "allowed_not_screened"
		tr, log, _ := newTestTracker()
		feed(tr, one(created(trunk, p.at(0)), destroyed(trunk, p.at(1), 16)))
		tr.Close(CloseEndOfInput)
		if c := log.calls[0]; c.Withheld || c.Caller != "+79161234567" || c.CallerE164 == nil {
			t.Errorf("record %+v; want the number shown", c)
		}
	})
}

func TestCallerNameIsTheCarriers(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	trunk.CallerName = "CARRIER NAME"
	tr, log, _ := newTestTracker()
	named := trunk
	named.CallerName = "Petrov Ivan"
	feed(tr, one(created(trunk, p.at(0)),
		Event{Kind: EventStasisStart, At: p.at(0.01), Channel: trunk, Args: []string{"inbound", "74951112233"}},
		Event{Kind: EventChannelUpdated, At: p.at(0.05), Channel: named}, destroyed(named, p.at(1), 16)))
	tr.Close(CloseEndOfInput)
	got := [2]string{log.calls[0].CallerName, log.calls[0].LookupName}
	if d := cmp.Diff([2]string{"CARRIER NAME", "Petrov Ivan"}, got); d != "" {
		t.Errorf("caller name, lookup name (-want +got):\n%s", d)
	}
}

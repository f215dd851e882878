package arisim_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// TestRingAllDialsSendWhatAppDialSends: the events of a ring-all Dial from
// the answer, or the caller's hangup, to the bridge or the call's end, as
// ari/arisim/ringall.go establishes them from Asterisk 22's app_dial.c;
// and the announcement's time between the other phones' CANCEL and the
// answer's ANSWER.
func TestRingAllDialsSendWhatAppDialSends(t *testing.T) {
	const did = "74951112233"
	caller := "+79161234567"
	ops := []string{"101", "102", "103"}
	// The phones' channels, made as the call arrives, and the trunk's.
	phone := func(role, state, exten string) string {
		return role + " " + state + " at phones/" + exten + " AppDial((Outgoing Line)) caller " + did + " connected " + caller +
			" created-as in+101+102+103 linked in did " + did
	}
	in := func(state, app string) string {
		return "in " + state + " at from-trunk/" + did + " " + app + " caller " + caller + " connected  created-as in+101+102+103 linked in did " + did
	}
	answered := func(typ, role, state string) bool {
		return typ == "ChannelStateChange" && role != "in" && state == "Up"
	}
	hungUp := func(typ, role, state string) bool { return typ == "ChannelHangupRequest" && role == "in" }
	abandoned := func(dial string, cause string) []string {
		return []string{
			// chan_pjsip queues the caller's BYE.
			"ChannelHangupRequest cause 16 soft false: " + in("Ring", dial),
			// wait_for_answer: CANCEL for every phone.
			`Dial "CANCEL" in -> ` + phone("101", "Ringing", did) + ` dialstring ""`,
			`Dial "CANCEL" in -> ` + phone("102", "Ringing", did) + ` dialstring ""`,
			`Dial "CANCEL" in -> ` + phone("103", "Ringing", did) + ` dialstring ""`,
			// hanguptree with hanguptreecause.
			"ChannelDestroyed cause " + cause + ": " + phone("101", "Ringing", did),
			"ChannelDestroyed cause " + cause + ": " + phone("102", "Ringing", did),
			"ChannelDestroyed cause " + cause + ": " + phone("103", "Ringing", did),
			"ChannelVarset in DIALSTATUS=CANCEL",
			// The dialplan ends.
			"ChannelHangupRequest cause 16 soft true: " + in("Ring", dial),
			"ChannelDestroyed cause 16: " + in("Ring", "()"),
		}
	}
	tests := []struct {
		name string
		call arisim.Call
		from func(typ, role, state string) bool
		want []string
		// window is the time from the CANCELs to the ANSWER.
		window time.Duration
	}{
		{name: "102 answers, and the Dial plays an announcement to 102",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.RingAll, Operators: ops, AnswerBy: "102", Announce: 2 * time.Second},
			from: answered, window: 2 * time.Second,
			want: []string{
				// chan_pjsip: 102's 200 OK.
				"ChannelStateChange: " + phone("102", "Up", did),
				// wait_for_answer reads the ANSWER: CANCEL for the others.
				`Dial "CANCEL" in -> ` + phone("101", "Ringing", did) + ` dialstring ""`,
				`Dial "CANCEL" in -> ` + phone("103", "Ringing", did) + ` dialstring ""`,
				// dial_exec_full: hanguptree, answered elsewhere.
				"ChannelDestroyed cause 26: " + phone("101", "Ringing", did),
				"ChannelDestroyed cause 26: " + phone("103", "Ringing", did),
				"ChannelVarset in DIALSTATUS=ANSWER",
				"ChannelVarset in DIALEDPEERNAME=PJSIP/102-00000003",
				"ChannelVarset in DIALEDPEERNUMBER=102",
				// The announcement played: the ANSWER, the bridge.
				`Dial "ANSWER" in -> ` + phone("102", "Up", "") + ` dialstring ""`,
				"ChannelStateChange: " + in("Up", "Dial(PJSIP/101&PJSIP/102&PJSIP/103,20,A(announce))"),
				"ChannelDialplan: " + phone("102", "Up", ""),
				"ChannelEnteredBridge: " + phone("102", "Up", ""),
				"ChannelEnteredBridge: " + in("Up", "Dial(PJSIP/101&PJSIP/102&PJSIP/103,20,A(announce))"),
			}},
		{name: "101 answers at once",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.RingAll, Operators: ops, AnswerBy: "101"},
			from: answered,
			want: []string{
				"ChannelStateChange: " + phone("101", "Up", did),
				`Dial "CANCEL" in -> ` + phone("102", "Ringing", did) + ` dialstring ""`,
				`Dial "CANCEL" in -> ` + phone("103", "Ringing", did) + ` dialstring ""`,
				"ChannelDestroyed cause 26: " + phone("102", "Ringing", did),
				"ChannelDestroyed cause 26: " + phone("103", "Ringing", did),
				"ChannelVarset in DIALSTATUS=ANSWER",
				"ChannelVarset in DIALEDPEERNAME=PJSIP/101-00000002",
				"ChannelVarset in DIALEDPEERNUMBER=101",
				`Dial "ANSWER" in -> ` + phone("101", "Up", "") + ` dialstring ""`,
				"ChannelStateChange: " + in("Up", "Dial(PJSIP/101&PJSIP/102&PJSIP/103,20)"),
				"ChannelDialplan: " + phone("101", "Up", ""),
				"ChannelEnteredBridge: " + phone("101", "Up", ""),
				"ChannelEnteredBridge: " + in("Up", "Dial(PJSIP/101&PJSIP/102&PJSIP/103,20)"),
			}},
		{name: "the caller hangs up while every phone rings",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.RingAllAbandoned, Operators: ops},
			from: hungUp, want: abandoned("Dial(PJSIP/101&PJSIP/102&PJSIP/103,20)", "16")},
		{name: "the caller hangs up while every phone rings, Dial's c option",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.RingAllAbandoned, Operators: ops, CancelElsewhere: true},
			from: hungUp, want: abandoned("Dial(PJSIP/101&PJSIP/102&PJSIP/103,20,c)", "26")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: tt.call})
			if d := cmp.Diff(tt.want, callSequence(t, msgs, tt.from)); d != "" {
				t.Errorf("events from the answer or the caller's hangup on (-want +got):\n%s", d)
			}
			if tt.call.Scenario != arisim.RingAll {
				return
			}
			cancel, answer := dialTime(t, msgs, "CANCEL"), dialTime(t, msgs, "ANSWER")
			if got := answer.Sub(cancel); got != tt.window {
				t.Errorf("the ANSWER came %v after the CANCELs, want %v", got, tt.window)
			}
		})
	}
}

// dialTime is the time of the first Dial with the status.
func dialTime(t *testing.T, msgs [][]byte, status string) time.Time {
	t.Helper()
	for _, m := range msgs {
		var e struct{ Type, Dialstatus, Timestamp string }
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("not JSON: %s", m)
		}
		if e.Type == "Dial" && e.Dialstatus == status {
			return asteriskTime(t, e.Timestamp)
		}
	}
	t.Fatalf("no Dial %s", status)
	return time.Time{}
}

func TestRingAllCallsAreChecked(t *testing.T) {
	tests := []struct {
		name string
		tech string
		call arisim.Call
	}{
		{name: "Local phones", tech: arisim.TechLocal, call: arisim.Call{Scenario: arisim.RingAll}},
		{name: "an operator to answer who is not dialled", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.RingAll, AnswerBy: "105"}},
		{name: "an operator to answer a call nobody answers", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.RingAllAbandoned, AnswerBy: "101"}},
		{name: "an operator dialled twice", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.RingAll, Operators: []string{"101", "101"}}},
		{name: "an announcement in a call nobody answers", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.RingAllAbandoned, Announce: time.Second}},
		{name: "an announcement in a single Dial", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.Answered, Announce: time.Second}},
		{name: "Dial's c option in a single Dial", tech: arisim.TechPJSIP, call: arisim.Call{Scenario: arisim.Abandoned, CancelElsewhere: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			s, _ := newSim(t, arisim.Config{Tech: tt.tech, Operators: []string{"101", "102", "103"}})
			tt.call.Caller, tt.call.DID = "+79161234567", "74951112233"
			if _, err := s.Place(t.Context(), tt.call); err == nil {
				t.Error("Place placed the call")
			}
		})
	}
}

// TestRingAllAnswerLooksLikeTheIAXTraceOnTheAnsweringLegs: app_dial
// answers a ring-all as it answers a single phone, the other phones
// aside: on the caller's leg and the answering phone's, a ring-all Dial
// that 101 answers sends the daemon the events of iax-answered.jsonl's
// technology channels, up to the order of the two legs' events within an
// instant (Dial calls every phone before they ring).
func TestRingAllAnswerLooksLikeTheIAXTraceOnTheAnsweringLegs(t *testing.T) {
	trace := callCentreLegs(t, readTrace(t, "iax-answered.jsonl"), "IAX2/carrier-2487", "IAX2/op101-322")
	call := pjsipCall
	call.Scenario, call.Operators, call.AnswerBy = arisim.RingAll, []string{"101", "102", "103"}, "101"
	sim := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: call})
	var legs [][]byte
	names := map[string]bool{}
	for _, m := range sim {
		type named struct{ Name string }
		var e struct {
			Type, Name            string
			Channel, Caller, Peer *named
		}
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("not JSON: %s", m)
		}
		if e.Type == "ChannelCreated" && (!strings.HasPrefix(e.Channel.Name, "PJSIP/10") || strings.HasPrefix(e.Channel.Name, "PJSIP/101-")) {
			names[e.Channel.Name] = true
		}
		// Only the events of those legs, none about another phone.
		keep := false
		for _, ch := range []*named{e.Channel, e.Caller, e.Peer} {
			if ch != nil {
				if keep = names[ch.Name]; !keep {
					break
				}
			}
		}
		if keep {
			// The Dial's argument: one phone in the trace.
			legs = append(legs, []byte(strings.ReplaceAll(string(m), "PJSIP/101&PJSIP/102&PJSIP/103,", "PJSIP/101,")))
		}
	}
	// The phone's snapshot in the Dial's begin races with its ringing
	// (see sameEventsUpToInterleaving): its context, which the phone's
	// channel takes as it rings, as well as its state.
	want, got := readView(t, trace), readView(t, legs)
	for _, evs := range [][]readEvent{want, got} {
		for i, ev := range evs {
			if ev.Type == "Dial" && ev.DialStatus == "" && ev.Channel.ID != "" {
				evs[i].Peer.Context = "phones or none"
			}
		}
	}
	sameEventsUpToInterleaving(t, want, got)
}

// TestRingAllPopsEndAsTheOperatorsPagesShouldSay: what the tracker tells
// the operators' pages of a ring-all Dial, through the daemon's intake:
// the phones cancelled as a colleague answers are taken by that colleague
// (the pops withdrawn, not shown missed), even while the Dial's
// announcement holds its ANSWER back; those the caller hung up on are
// cancelled, with Dial's c option too.
func TestRingAllPopsEndAsTheOperatorsPagesShouldSay(t *testing.T) {
	ops := []string{"101", "102", "103"}
	elsewhere := []string{"ringing", "offer_ended answered_elsewhere"}
	cancelled := []string{"ringing", "offer_ended cancelled"}
	tests := []struct {
		name string
		call arisim.Call
		want map[string][]string
	}{
		{name: "102 answers",
			call: arisim.Call{Scenario: arisim.RingAll, Operators: ops, AnswerBy: "102"},
			want: map[string][]string{"101": elsewhere, "102": {"ringing", "answered"}, "103": elsewhere}},
		{name: "102 answers and hears an announcement before the Dial's ANSWER",
			call: arisim.Call{Scenario: arisim.RingAll, Operators: ops, AnswerBy: "102", Announce: 3 * time.Second},
			want: map[string][]string{"101": elsewhere, "102": {"ringing", "answered"}, "103": elsewhere}},
		{name: "102 answers and hears an announcement, Dial's c option",
			call: arisim.Call{Scenario: arisim.RingAll, Operators: ops, AnswerBy: "102", Announce: 3 * time.Second, CancelElsewhere: true},
			want: map[string][]string{"101": elsewhere, "102": {"ringing", "answered"}, "103": elsewhere}},
		{name: "the caller hangs up",
			call: arisim.Call{Scenario: arisim.RingAllAbandoned, Operators: ops},
			want: map[string][]string{"101": cancelled, "102": cancelled, "103": cancelled}},
		{name: "the caller hangs up, Dial's c option",
			call: arisim.Call{Scenario: arisim.RingAllAbandoned, Operators: ops, CancelElsewhere: true},
			want: map[string][]string{"101": cancelled, "102": cancelled, "103": cancelled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.Caller, tt.call.DID = "+79161234567", "74951112233"
			msgs := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: tt.call})
			obs := &pages{}
			track(t, msgs, obs)
			if d := cmp.Diff(tt.want, obs.seen); d != "" {
				t.Errorf("what each operator's page was told (-want +got):\n%s", d)
			}
		})
	}
}

// pages keeps, for each operator, the notices of their phone's offer.
type pages struct{ seen map[string][]string }

func (p *pages) Notice(n screenpop.Notice) {
	if n.Operator == "" || n.Kind == screenpop.NoticeEnded {
		return
	}
	if p.seen == nil {
		p.seen = map[string][]string{}
	}
	s := n.Kind.String()
	if n.Kind == screenpop.NoticeOfferEnded {
		s += " " + string(n.Outcome)
	}
	p.seen[n.Operator] = append(p.seen[n.Operator], s)
}

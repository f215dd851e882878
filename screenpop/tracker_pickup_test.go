package screenpop

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pickupPBX builds what Asterisk sends when operator 104 picks up a call
// ringing on a colleague's phone (ari/arisim/pickup.go follows each step in
// Asterisk's source).
type pickupPBX struct {
	*pbx
	trunk Channel
}

// picker is 104's own channel: a call from their phone to *8 or **103, in
// the internal context, with a linked ID of its own.
func (p pickupPBX) picker(exten string, sec float64) Channel {
	return Channel{ID: "k1", Name: "PJSIP/104-000000k1", State: "Ring", Context: "from-internal", Exten: exten,
		CallerNumber: "104", LinkedID: "k1", CreatedAt: p.at(sec)}
}

// movedSnapshot is the snapshot of the ringing channel in Dial's CANCEL: its ID
// and name, on the struct the picker's channel was (its dialplan position,
// its creation time).
func movedSnapshot(ringing, picker Channel) Channel {
	m := ringing
	m.State, m.Context, m.Exten, m.CreatedAt, m.CallerNumber = "Ringing", picker.Context, picker.Exten, picker.CreatedAt, picker.CallerNumber
	return m
}

func dialString(ev Event, s string) Event {
	ev.DialString = s
	return ev
}

// pickupEvents is the call: the trunk dials the phones of dialled (all at
// once), they ring; at 3 s 104 picks up the first (group) or target's
// (directed); 104 talks until 20 s. zombieLast puts the end of the picked
// up channel after the ANSWER (two threads of Asterisk race there);
// unmoved gives the CANCEL the ringing channel's own snapshot; queue
// makes it a ring-all queue's, app_queue's order.
func (p pickupPBX) pickupEvents(dialled []string, target string, directed, zombieLast, unmoved, queue bool) []Event {
	trunk := p.trunk
	evs := []Event{created(trunk, p.at(0))}
	phones := map[string]Channel{}
	// Dial's dialstring is what follows PJSIP/; a queue's, its member's
	// interface.
	dialstrings := map[string]string{}
	for _, ext := range dialled {
		ph := p.phone(trunk, ext)
		phones[ext], dialstrings[ext] = ph, ext
		if queue {
			dialstrings[ext] = "PJSIP/" + ext
		}
		evs = append(evs, created(ph, p.at(0.1)), dialString(dial(trunk, ph, "", p.at(0.1)), dialstrings[ext]))
	}
	for _, ext := range dialled {
		evs = append(evs, dial(trunk, phones[ext], "RINGING", p.at(0.2)))
	}
	exten := "*8"
	if directed {
		exten = "**" + target
	}
	pk := p.picker(exten, 3)
	up := pk
	up.State = "Up"
	cancelled := movedSnapshot(phones[target], pk)
	if unmoved {
		cancelled = phones[target]
	}
	evs = append(evs, created(pk, p.at(3)), Event{Kind: EventChannelUpdated, At: p.at(3), Channel: up},
		dialString(dial(trunk, cancelled, "CANCEL", p.at(3)), dialstrings[target]), dialString(dial(trunk, up, "", p.at(3)), dialstrings[target]))
	cause := 16
	var zombie []Event
	if directed {
		cause = 26
		zombie = append(zombie, hangupFrom(phones[target], 16, true, 3, p.pbx))
	}
	zombie = append(zombie, destroyed(movedSnapshot(phones[target], pk), p.at(3), cause))
	if !zombieLast {
		evs = append(evs, zombie...)
	}
	if queue {
		// app_queue publishes the answer first, then cancels the other
		// members, twice (queue.jsonl).
		evs = append(evs, dialString(dial(trunk, up, "ANSWER", p.at(3.2)), dialstrings[target]))
		for _, ext := range dialled {
			if ext != target {
				evs = append(evs, dial(trunk, phones[ext], "CANCEL", p.at(3.2)), dialString(dial(trunk, phones[ext], "CANCEL", p.at(3.2)), dialstrings[ext]),
					destroyed(phones[ext], p.at(3.2), 26))
			}
		}
		if zombieLast {
			evs = append(evs, zombie...)
		}
		return append(evs, entered(trunk, "B1", 3.2, p.pbx), entered(up, "B1", 3.2, p.pbx),
			destroyed(up, p.at(20), 16), destroyed(trunk, p.at(20), 16))
	}
	for _, ext := range dialled {
		if ext != target {
			evs = append(evs, dial(trunk, phones[ext], "CANCEL", p.at(3)))
		}
	}
	for _, ext := range dialled {
		if ext != target {
			evs = append(evs, destroyed(phones[ext], p.at(3), 26))
		}
	}
	evs = append(evs, dial(trunk, up, "ANSWER", p.at(3.2)))
	if zombieLast {
		evs = append(evs, zombie...)
	}
	return append(evs, entered(trunk, "B1", 3.2, p.pbx), entered(up, "B1", 3.2, p.pbx),
		destroyed(up, p.at(20), 16), destroyed(trunk, p.at(20), 16))
}

// allPops is every state of the call the operator's page was sent.
func allPops(sub *Subscription, callID string) []string {
	var states []string
	for {
		select {
		case m := <-sub.C:
			if m.Call != nil && m.Call.ID == callID {
				s := m.Call.State
				if m.Call.AnsweredBy != "" {
					s += " by " + m.Call.AnsweredBy
				}
				states = append(states, s)
			}
			continue
		default:
		}
		return states
	}
}

// TestPickedUpCallsAreAnsweredByWhoPickedThemUp: the record says the
// operator who picked the call up answered it, the phone it rang on that
// a colleague took it; the picker's page has the call as answered, the
// colleague's pop is withdrawn as taken and never shown as missed.
func TestPickedUpCallsAreAnsweredByWhoPickedThemUp(t *testing.T) {
	tests := []struct {
		name                          string
		dialled                       []string
		target                        string
		directed, zombieLast, unmoved bool
		queue                         bool
		want                          summary
		// pops are each operator's page's states of the call; missedFlash
		// lets a page show missed for a moment before taken.
		pops        map[string][]string
		ringSeconds float64
	}{
		{name: "group pickup of the one phone dialled", dialled: []string{"103"}, target: "103",
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"103": {StateRinging, StateTaken + " by 104"}, "104": {StateActive + " by 104"}}, ringSeconds: 3.0},
		{name: "group pickup, the picked up channel ending after the answer", dialled: []string{"103"}, target: "103", zombieLast: true,
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"103": {StateRinging, StateTaken + " by 104"}, "104": {StateActive + " by 104"}}, ringSeconds: 3.0},
		{name: "directed pickup of one of two phones a ring-all Dial rings", dialled: []string{"102", "103"}, target: "103", directed: true,
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"102", "103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"102": {StateRinging, StateTaken + " by 104"}, "103": {StateRinging, StateTaken + " by 104"},
				"104": {StateActive + " by 104"}}, ringSeconds: 3.0},
		{name: "directed pickup, the picked up channel ending after the answer", dialled: []string{"102", "103"}, target: "103", directed: true, zombieLast: true,
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"102", "103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"102": {StateRinging, StateTaken + " by 104"}, "103": {StateRinging, StateTaken + " by 104"},
				"104": {StateActive + " by 104"}}, ringSeconds: 3.0},
		{name: "directed pickup of one of two members a ring-all queue rings", dialled: []string{"102", "103"}, target: "103", directed: true, queue: true,
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"102", "103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"102": {StateRinging, StateTaken + " by 104"}, "103": {StateRinging, StateTaken + " by 104"},
				"104": {StateActive + " by 104"}}, ringSeconds: 3.0},
		// Should Asterisk's CANCEL show the channel as it was, the pickup
		// is known only from the Dial that follows: the record is the
		// same, the pop was shown missed for that moment.
		{name: "a pickup whose CANCEL does not show the channel moved", dialled: []string{"103"}, target: "103", unmoved: true,
			want: summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnswered}},
			pops: map[string][]string{"103": {StateRinging, StateMissed, StateTaken + " by 104"}, "104": {StateActive + " by 104"}}, ringSeconds: 3.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pickupPBX{pbx: newPBX()}
			p.trunk = p.pbx.trunk("c1", "+79161234567", "74951112233")
			popper, hub := newPopperTest(nil)
			tr, log, _ := newTestTracker()
			tr.Observe(popper)
			subs := map[string]*Subscription{}
			for op := range tt.pops {
				subs[op] = hub.Subscribe(op, 0)
			}
			evs := p.pickupEvents(tt.dialled, tt.target, tt.directed, tt.zombieLast, tt.unmoved, tt.queue)
			feed(tr, evs[:len(evs)-2])
			popper.Wait()
			for op, want := range tt.pops {
				if d := cmp.Diff(want, allPops(subs[op], "c1")); d != "" {
					t.Errorf("operator %s's page (-want +got):\n%s", op, d)
				}
			}

			feed(tr, evs[len(evs)-2:])
			tr.Advance(p.at(3600))
			if len(log.calls) != 1 {
				t.Fatalf("%d records, want 1", len(log.calls))
			}
			c := log.calls[0]
			if d := cmp.Diff(tt.want, summarise(c)); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
			if c.RingSeconds != tt.ringSeconds {
				t.Errorf("ring %.2f s, want %.2f s: from the first phone ringing to the pickup", c.RingSeconds, tt.ringSeconds)
			}
			picked := c.Offers[slices.IndexFunc(c.Offers, func(o Offer) bool { return o.Operator == tt.target })]
			if picked.DialStatus != "CANCEL" || picked.EndedAt == nil || !picked.EndedAt.Equal(p.at(3)) || picked.RingingAt == nil {
				t.Errorf("%s's offer %+v; want rang, ended at the pickup (3 s) with CANCEL", tt.target, picked)
			}
			picker := c.Offers[len(c.Offers)-1]
			if picker.Operator != "104" || picker.Channel != "PJSIP/104-000000k1" || picker.RingingAt != nil || picker.AnsweredAt == nil ||
				!picker.DialedAt.Equal(p.at(3)) {
				t.Errorf("104's offer %+v; want 104's own channel, dialled at the pickup, answered without ringing", picker)
			}
			words := strings.Join(c.Classification, "\n")
			if !strings.Contains(words, "pickup: operator 104 picked the call up from operator "+tt.target+"'s ringing phone") {
				t.Errorf("classification:\n%s\nwant it to say who picked the call up from whose phone", words)
			}
		})
	}
}

// TestCancelsThatAreNoPickupStayWhatTheySay: a CANCEL that looks like a
// pickup's but is followed by no Dial to another channel is the caller
// giving up, or another phone answering; and a CANCEL with the phone's
// own snapshot followed by a dial of a new channel with another
// dialstring (a call forward) is no pickup.
func TestCancelsThatAreNoPickupStayWhatTheySay(t *testing.T) {
	p := newPBX()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	pk := pickupPBX{pbx: p}.picker("*8", 3)

	t.Run("the caller hangs up after a CANCEL that looked moved", func(t *testing.T) {
		tr, log, obs := newTestTracker()
		a := p.phone(trunk, "103")
		evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
		evs = append(evs, dialString(dial(trunk, movedSnapshot(a, pk), "CANCEL", p.at(3)), "103"),
			hangupRequest(trunk, p.at(3)), destroyed(a, p.at(3), 16), destroyed(trunk, p.at(3), 16))
		c := onlyRecord(t, tr, log, p, evs)
		want := summary{ID: "c1", Status: StatusAbandoned, OfferedTo: []string{"103"}, TalkedTo: []string{},
			Outcomes: []Outcome{OutcomeCancelled}}
		if d := cmp.Diff(want, summarise(c)); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		if e := c.Offers[0].EndedAt; e == nil || !e.Equal(p.at(3)) {
			t.Errorf("the offer ended at %v, want at the CANCEL", e)
		}
		var ended []Outcome
		for _, n := range obs.notices {
			if n.Kind == NoticeOfferEnded {
				ended = append(ended, n.Outcome)
			}
		}
		if d := cmp.Diff([]Outcome{OutcomeCancelled}, ended); d != "" {
			t.Errorf("offers ended told (-want +got):\n%s", d)
		}
		if strings.Contains(strings.Join(c.Classification, "\n"), "pickup") {
			t.Errorf("classification speaks of a pickup:\n%s", strings.Join(c.Classification, "\n"))
		}
	})
	t.Run("another phone answers after a CANCEL that looked moved", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		a, b := p.phone(trunk, "103"), p.phone(trunk, "102")
		evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
		evs = append(evs, ring(trunk, b, p.at(0.1))...)
		evs = append(evs, dialString(dial(trunk, movedSnapshot(a, pk), "CANCEL", p.at(3)), "103"), dial(trunk, b, "ANSWER", p.at(3)),
			destroyed(a, p.at(3), 26), destroyed(b, p.at(9), 16), destroyed(trunk, p.at(9), 16))
		c := onlyRecord(t, tr, log, p, evs)
		want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"103", "102"}, AnsweredBy: "102", TalkedTo: []string{"102"},
			Outcomes: []Outcome{OutcomeAnsweredElsewhere, OutcomeAnswered}}
		if d := cmp.Diff(want, summarise(c)); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
	})
	t.Run("a ringing phone's channel yanked out of the Dial is no pickup", func(t *testing.T) {
		// An AMI Redirect of the ringing channel: Asterisk moves it onto
		// a new struct and the Dial's onto a Surrogate channel, which it
		// then loses.
		tr, log, _ := newTestTracker()
		a := p.phone(trunk, "103")
		yanked := a
		yanked.CreatedAt = p.at(3)
		sur := Channel{ID: "s1", Name: "Surrogate/" + a.Name, State: "Down", Context: a.Context, Exten: a.Exten, LinkedID: "s1", CreatedAt: p.at(3)}
		evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
		evs = append(evs, created(sur, p.at(3)), dialString(dial(trunk, yanked, "CANCEL", p.at(3)), "103"), dialString(dial(trunk, sur, "", p.at(3)), "103"),
			destroyed(sur, p.at(3), 16), dial(trunk, sur, "CANCEL", p.at(3)), hangupRequest(trunk, p.at(5)), destroyed(a, p.at(5), 16),
			destroyed(trunk, p.at(5), 16))
		c := onlyRecord(t, tr, log, p, evs)
		if strings.Contains(strings.Join(c.Classification, "\n"), "pickup") {
			t.Errorf("classification speaks of a pickup:\n%s", strings.Join(c.Classification, "\n"))
		}
		if got := summarise(c).Outcomes; len(got) == 0 || got[0] != OutcomeCancelled {
			t.Errorf("outcomes %v, want 103's offer cancelled", got)
		}
	})
	t.Run("a call forward is no pickup", func(t *testing.T) {
		tr, log, _ := newTestTracker()
		a := p.phone(trunk, "103")
		fwd := p.phone(trunk, "105")
		evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
		evs = append(evs, dial(trunk, a, "CANCEL", p.at(3)), created(fwd, p.at(3)), dialString(dial(trunk, fwd, "", p.at(3)), "PJSIP/105"),
			dial(trunk, fwd, "RINGING", p.at(3)), dial(trunk, fwd, "ANSWER", p.at(5)),
			destroyed(a, p.at(3), 16), destroyed(fwd, p.at(9), 16), destroyed(trunk, p.at(9), 16))
		c := onlyRecord(t, tr, log, p, evs)
		if strings.Contains(strings.Join(c.Classification, "\n"), "pickup") {
			t.Errorf("classification speaks of a pickup:\n%s", strings.Join(c.Classification, "\n"))
		}
		if got := summarise(c).AnsweredBy; got != "105" {
			t.Errorf("answered by %q, want 105", got)
		}
	})
}

// TestPickupOfAPhoneRungThroughALocalChannel: a ring group dials
// Local/103@from-internal, whose other half dials PJSIP/103; 104 picks
// that phone up. The pickup is in the inner Dial, from the Local half; the
// Local channel answers the outer Dial after it. Whether the operators'
// patterns match the PJSIP phones only or the Local channels too, the
// record says 104 answered, and only 104.
func TestPickupOfAPhoneRungThroughALocalChannel(t *testing.T) {
	p := pickupPBX{pbx: newPBX()}
	trunk := p.pbx.trunk("c1", "+79161234567", "74951112233")
	l1 := Channel{ID: "c1.1", Name: "Local/103@from-internal-00000001;1", State: "Down", Context: "from-internal", Exten: "103",
		LinkedID: "c1", CreatedAt: p.at(0.1)}
	l2 := l1
	l2.ID, l2.Name, l2.State = "c1.2", "Local/103@from-internal-00000001;2", "Ring"
	phone := Channel{ID: "c1.3", Name: "PJSIP/103-00000003", State: "Ringing", Context: "from-internal", Exten: "103",
		LinkedID: "c1", CreatedAt: p.at(0.1)}
	pk := p.picker("**103", 3)
	up := pk
	up.State = "Up"
	evs := []Event{created(trunk, p.at(0)), created(l1, p.at(0.1)), created(l2, p.at(0.1)),
		dialString(dial(trunk, l1, "", p.at(0.1)), "103@from-internal"), created(phone, p.at(0.1)),
		dialString(dial(l2, phone, "", p.at(0.1)), "103"), dial(l2, phone, "RINGING", p.at(0.2)), dial(trunk, l1, "RINGING", p.at(0.2)),
		created(pk, p.at(3)), {Kind: EventChannelUpdated, At: p.at(3), Channel: up},
		dialString(dial(l2, movedSnapshot(phone, pk), "CANCEL", p.at(3)), "103"), dialString(dial(l2, up, "", p.at(3)), "103"),
		destroyed(movedSnapshot(phone, pk), p.at(3), 26), dial(l2, up, "ANSWER", p.at(3.2)), dial(trunk, l1, "ANSWER", p.at(3.2)),
		destroyed(up, p.at(20), 16), destroyed(l2, p.at(20), 16), destroyed(l1, p.at(20), 16), destroyed(trunk, p.at(20), 16)}
	for _, tt := range []struct {
		patterns []string
		outcomes []Outcome
	}{
		{[]string{"PJSIP/{ext}"}, []Outcome{OutcomeAnsweredElsewhere, OutcomeAnswered}},
		// The Local channel's offer comes first: it was dialled first.
		{[]string{"PJSIP/{ext}", "Local/{ext}@from-internal"}, []Outcome{OutcomeAnsweredElsewhere, OutcomeAnsweredElsewhere, OutcomeAnswered}},
	} {
		t.Run(strings.Join(tt.patterns, " and "), func(t *testing.T) {
			ops, err := ParseEndpointPatterns(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			log := &memLog{}
			tr := NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", StaleAfter: time.Hour}, log, nil)
			c := onlyRecord(t, tr, log, p.pbx, evs)
			want := summary{ID: "c1", Status: StatusAnswered, OfferedTo: []string{"103", "104"}, AnsweredBy: "104", TalkedTo: []string{"104"},
				Outcomes: tt.outcomes}
			if d := cmp.Diff(want, summarise(c)); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}

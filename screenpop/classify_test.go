package screenpop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newClassifyingTracker() (*Tracker, *memLog) {
	ops, err := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	if err != nil {
		panic(err)
	}
	log := &memLog{}
	return NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, OutboundContexts: []string{"from-internal"},
		Operators: ops, Region: "RU", StaleAfter: time.Hour, DIDVariable: "FROM_DID"}, log, nil), log
}

const didFromExten = "DID 74951112233 from the dialplan extension of channel PJSIP/trunk-c1 in inbound context from-trunk " +
	"(channel variable FROM_DID was not set, or is not in ari.conf channelvars)"

func TestClassificationSaysWhichRuleDecided(t *testing.T) {
	tests := []struct {
		name   string
		events func(p *pbx, trunk Channel) []Event
		want   []string
	}{
		{
			name: "a blind transfer names both operators and who the caller was put through to",
			events: func(p *pbx, trunk Channel) []Event {
				a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.1)),
					one(dial(trunk, a, "ANSWER", p.at(2)), destroyed(a, p.at(30), 16)), ring(trunk, b, p.at(30.1)),
					one(dial(trunk, b, "ANSWER", p.at(33)), destroyed(b, p.at(60), 16), destroyed(trunk, p.at(60), 16)))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				didFromExten,
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; rang 1.9 s, answered",
				"operator 102: channel PJSIP/102-00000002 matched endpoint pattern PJSIP/{ext}; rang 2.9 s, answered",
				"answered: 101 answered after ringing 1.9 s, then the caller was put through to 102",
			},
		},
		{
			name: "an attended transfer says the operator joined the caller's bridge",
			events: func(p *pbx, trunk Channel) []Event {
				a := p.phone(trunk, "101")
				b := Channel{ID: "consult.2", Name: "PJSIP/102-000000ff", State: "Up", Context: "phones", LinkedID: "consult"}
				return slices.Concat(one(created(trunk, p.at(0))), ring(trunk, a, p.at(0.1)),
					one(dial(trunk, a, "ANSWER", p.at(2)),
						Event{Kind: EventBridgeEntered, At: p.at(2), Channel: trunk, BridgeID: "b1"},
						Event{Kind: EventBridgeEntered, At: p.at(2), Channel: a, BridgeID: "b1"},
						Event{Kind: EventBridgeLeft, At: p.at(40), Channel: a, BridgeID: "b1"},
						Event{Kind: EventBridgeEntered, At: p.at(40), Channel: b, BridgeID: "b1"},
						destroyed(a, p.at(40), 16), destroyed(b, p.at(70), 16), destroyed(trunk, p.at(70), 16)))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				didFromExten,
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; rang 1.9 s, answered",
				"operator 102: channel PJSIP/102-000000ff matched endpoint pattern PJSIP/{ext}; joined the caller's bridge without being dialled by the call (a transfer)",
				"answered: 101 answered after ringing 1.9 s, then the caller was put through to 102",
			},
		},
		{
			name: "a DID from the channel variable and a channel dialled that is no operator's phone",
			events: func(p *pbx, trunk Channel) []Event {
				trunk.DID = "74951112233"
				queue := Channel{ID: "q1", Name: "Local/sales@queues-00000009;1", State: "Down", Context: "queues", LinkedID: "c1"}
				ph := p.phone(trunk, "101")
				return slices.Concat(one(created(trunk, p.at(0)), created(queue, p.at(0.1)), dial(trunk, queue, "", p.at(0.1))),
					ring(trunk, ph, p.at(1)), one(destroyed(ph, p.at(16), 16), destroyed(queue, p.at(16), 16), destroyed(trunk, p.at(16), 16)))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				"DID 74951112233 from channel variable FROM_DID",
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; rang 15.0 s, not answered",
				"channel Local/sales@queues-00000009;1 was dialled; it matches no operator endpoint pattern (PJSIP/{ext}), so it is no operator's phone",
				"missed: phones rang 15.0 s and stopped ringing before the caller hung up",
			},
		},
		{
			name: "a call that shows itself in Stasis takes its DID from the Stasis arguments",
			events: func(p *pbx, trunk Channel) []Event {
				trunk.Exten = "s"
				ph := p.phone(trunk, "101")
				return slices.Concat(one(Event{Kind: EventStasisStart, At: p.at(0), Channel: trunk, Args: []string{"inbound", "74950001122"}}),
					ring(trunk, ph, p.at(0.5)), one(dial(trunk, ph, "ANSWER", p.at(3)), destroyed(ph, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 entered our Stasis application from inbound context from-trunk",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				"DID 74950001122 from the arguments of Stasis (inbound, 74950001122)",
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; rang 2.5 s, answered",
				"answered: 101 answered after ringing 2.5 s",
			},
		},
		{
			name: "a caller without a number who hangs up before any dial abandoned the call",
			events: func(p *pbx, trunk Channel) []Event {
				trunk.CallerNumber = ""
				return one(created(trunk, p.at(0)), hangupRequest(trunk, p.at(8)), destroyed(trunk, p.at(8), 16))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller withheld: no inbound leg showed a caller ID number",
				didFromExten,
				"abandoned: the caller hung up before any phone was dialled (in a queue, an IVR), after waiting 8.0 s (hangup request from the caller's side on channel PJSIP/trunk-c1)",
			},
		},
		{
			name: "an unreachable phone makes a failed call, with Asterisk's dial status",
			events: func(p *pbx, trunk Channel) []Event {
				ph := p.phone(trunk, "101")
				return one(created(trunk, p.at(0)), created(ph, p.at(0.1)), dial(trunk, ph, "", p.at(0.1)),
					dial(trunk, ph, "CHANUNAVAIL", p.at(0.2)), destroyed(ph, p.at(0.2), 20), destroyed(trunk, p.at(0.5), 16))
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				didFromExten,
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; could not be reached (CHANUNAVAIL)",
				"failed: no operator's phone could be reached: Dial to 101's phone ended CHANUNAVAIL; the caller did not hang up: the dialplan ended the call (cause 16)",
			},
		},
		{
			name: "a call found on a resync, which ended while disconnected, says so",
			events: func(p *pbx, trunk Channel) []Event {
				trunk.State = "Up"
				ph := p.phone(trunk, "102")
				ph.State = "Up"
				return one(Event{Kind: EventResync, At: p.at(10), Channels: []Channel{ph, trunk}}, Event{Kind: EventResync, At: p.at(20)})
			},
			want: []string{
				"inbound: channel PJSIP/trunk-c1 in inbound context from-trunk was under way when the ARI connection was made (found in Asterisk's channel list)",
				"caller +79161234567 from the caller ID of channel PJSIP/trunk-c1",
				didFromExten,
				"operator 102: channel PJSIP/102-00000001 matched endpoint pattern PJSIP/{ext}; was talking to the caller when the ARI connection was made",
				"answered: 102 answered",
				"closed by screenpop: ended while the ARI connection was down",
			},
		},
		{
			name: "an operator's call out says who dialled whom and how the client answered",
			events: func(p *pbx, _ Channel) []Event {
				ph, cl := desk("o1", "89161234567", p.at(0)), clientLeg("o1", p.at(0.5))
				return one(created(ph, p.at(0)), created(cl, p.at(0.5)), dial(ph, cl, "", p.at(0.5)),
					dial(ph, cl, "RINGING", p.at(1)), dial(ph, cl, "ANSWER", p.at(5)),
					destroyed(ph, p.at(65), 16), destroyed(cl, p.at(65), 16))
			},
			want: []string{
				"outbound: operator 101's phone, channel PJSIP/101-000000a1, dialled 89161234567 (+79161234567) in outbound context from-internal",
				"operator 101: channel PJSIP/101-000000a1 matched endpoint pattern PJSIP/{ext}",
				"answered: the client picked up after ringing 4.0 s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPBX()
			tr, log := newClassifyingTracker()
			feed(tr, tt.events(p, p.trunk("c1", "+79161234567", "74951112233")))
			tr.Advance(p.at(3600))
			if len(log.calls) != 1 {
				t.Fatalf("got %d records, want 1", len(log.calls))
			}
			if d := cmp.Diff(tt.want, log.calls[0].Classification); d != "" {
				t.Errorf("classification (-want +got):\n%s", d)
			}
		})
	}
}

func TestSnapshotListsTheCallsUnderWayAndTheLastRecorded(t *testing.T) {
	p := newPBX()
	ops, _ := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	log := &memLog{}
	tr := NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", DIDVariable: "FROM_DID",
		Linger: time.Millisecond}, log, nil)
	var rings []time.Duration
	var mu sync.Mutex
	tr.RingNotified = func(d time.Duration) { mu.Lock(); rings = append(rings, d); mu.Unlock() }
	events := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, events) }()
	snap := func() TrackerSnapshot {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a bound for a hung tracker
		defer cancel()
		s, err := tr.Snapshot(sctx)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		return s
	}
	trunk := p.trunk("c1", "89161234567", "74951112233")
	a, b := p.phone(trunk, "101"), p.phone(trunk, "102")
	send := func(evs ...[]Event) {
		for _, batch := range evs {
			for _, ev := range batch {
				events <- ev
			}
		}
	}

	send(one(created(trunk, p.at(0))))
	t.Run("a call nobody has been rung for yet is waiting", func(t *testing.T) {
		s := snap()
		if s.OpenCount != 1 || len(s.Open) != 1 || s.Open[0].State != OpenWaiting || len(s.Open[0].Ringing) != 0 || len(s.Recent) != 0 {
			t.Errorf("snapshot %+v, want one waiting call and nothing recorded", s)
		}
	})

	send(ring(trunk, a, p.at(0.5)), ring(trunk, b, p.at(0.5)))
	t.Run("a ringing call names the operators rung and why they are operators", func(t *testing.T) {
		s := snap()
		want := OpenCall{ID: "c1", Direction: Inbound, Caller: "89161234567", DID: "74951112233", StartedAt: p.t0,
			State: OpenRinging, Ringing: []string{"101", "102"}, Classification: []string{
				"inbound: channel PJSIP/trunk-c1 was created in inbound context from-trunk",
				"caller 89161234567 (+79161234567) from the caller ID of channel PJSIP/trunk-c1",
				didFromExten,
				"operator 101: channel PJSIP/101-00000001 matched endpoint pattern PJSIP/{ext}; ringing",
				"operator 102: channel PJSIP/102-00000002 matched endpoint pattern PJSIP/{ext}; ringing",
			}}
		if len(s.Open) != 1 {
			t.Fatalf("%d calls under way, want 1", len(s.Open))
		}
		if d := cmp.Diff(want, s.Open[0]); d != "" {
			t.Errorf("call under way (-want +got):\n%s", d)
		}
		mu.Lock()
		defer mu.Unlock()
		// Measured from the event's arrival, not its time (days ago): a
		// bound far above a loaded machine's scheduling says which.
		if len(rings) != 2 || rings[0] < 0 || rings[1] < rings[0] || rings[1] > 30*time.Second {
			t.Errorf("pop latencies %v, want one per phone rung, in order, from the events' arrival", rings)
		}
	})

	send(one(dial(trunk, b, "ANSWER", p.at(3)), dial(trunk, a, "CANCEL", p.at(3))))
	t.Run("an answered call says who the caller talks to", func(t *testing.T) {
		s := snap()
		if len(s.Open) != 1 || s.Open[0].State != OpenAnswered || s.Open[0].Talking != "102" || len(s.Open[0].Ringing) != 0 {
			t.Errorf("call under way %+v, want answered, talking to 102, nobody ringing", s.Open)
		}
	})

	send(one(destroyed(a, p.at(3), 26), destroyed(b, p.at(9), 16), destroyed(trunk, p.at(9), 16)))
	t.Run("once recorded, the call is among the recent ones with its status explained", func(t *testing.T) {
		var s TrackerSnapshot
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if s = snap(); len(s.Recent) == 1 {
				break
			}
		}
		if len(s.Open) != 0 || len(s.Recent) != 1 {
			t.Fatalf("snapshot %+v, want no call under way and one recorded", s)
		}
		c := s.Recent[0]
		if c.ID != "c1" || c.Status != StatusAnswered || c.Classification[len(c.Classification)-1] != "answered: 102 answered after ringing 2.5 s" {
			t.Errorf("recent call %s %s: %q", c.ID, c.Status, c.Classification)
		}
		if d := cmp.Diff(log.calls, s.Recent); d != "" {
			t.Errorf("the recent call is not the one recorded (-log +snapshot):\n%s", d)
		}
	})

	cancel()
	<-done
	t.Run("after call tracking stopped, a snapshot says so at once", func(t *testing.T) {
		_, err := tr.Snapshot(context.Background())
		if !errors.Is(err, ErrTrackerStopped) {
			t.Errorf("Snapshot = %v, want ErrTrackerStopped", err)
		}
	})
}

func TestSnapshotIsBounded(t *testing.T) {
	p := newPBX()
	tr, _ := newClassifyingTracker()
	for i := range keepRecentCalls + 50 {
		trunk := p.trunk(fmt.Sprintf("done%03d", i), "+79161234567", "74951112233")
		at := float64(i)
		feed(tr, one(created(trunk, p.at(at)), destroyed(trunk, p.at(at+1), 16)))
	}
	tr.Advance(p.at(1000))
	for i := range maxOpenListed + 50 {
		trunk := p.trunk(fmt.Sprintf("open%03d", i), "+79161234567", "74951112233")
		trunk.CreatedAt = p.at(2000 + float64(i))
		tr.Handle(created(trunk, p.at(2000+float64(i))))
	}
	s := tr.snapshot()
	t.Run("the calls under way are the oldest ones, with their count", func(t *testing.T) {
		if s.OpenCount != maxOpenListed+50 || len(s.Open) != maxOpenListed || s.Open[0].ID != "open000" || s.Open[maxOpenListed-1].ID != fmt.Sprintf("open%03d", maxOpenListed-1) {
			t.Errorf("%d of %d calls under way listed, from %s to %s; want the oldest %d", len(s.Open), s.OpenCount,
				s.Open[0].ID, s.Open[len(s.Open)-1].ID, maxOpenListed)
		}
	})
	t.Run("the recent calls are the last ones recorded, newest first", func(t *testing.T) {
		if len(s.Recent) != keepRecentCalls || s.Recent[0].ID != fmt.Sprintf("done%03d", keepRecentCalls+49) || s.Recent[keepRecentCalls-1].ID != "done050" {
			t.Errorf("%d recent calls, from %s to %s; want the last %d, newest first", len(s.Recent), s.Recent[0].ID, s.Recent[len(s.Recent)-1].ID, keepRecentCalls)
		}
	})
}

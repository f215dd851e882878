package screenpop

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func entered(ch Channel, bridge string, sec float64, p *pbx) Event {
	return Event{Kind: EventBridgeEntered, At: p.at(sec), Channel: ch, BridgeID: bridge}
}

func left(ch Channel, bridge string, sec float64, p *pbx) Event {
	return Event{Kind: EventBridgeLeft, At: p.at(sec), Channel: ch, BridgeID: bridge}
}

func transferEvent(tr Transfer, sec float64, p *pbx) Event {
	return Event{Kind: EventTransfer, At: p.at(sec), Channel: tr.Transferer, Transfer: &tr}
}

// consultLeg is the operator's own second call, from their phone to
// another extension: a call of its own (its own linked ID), in the
// internal context.
func consultLeg(id, ext string, p *pbx) Channel {
	return Channel{ID: id, Name: "PJSIP/" + ext + "-c" + id, State: "Up", Context: "from-internal", Exten: "102",
		CallerNumber: ext, LinkedID: id, CreatedAt: p.at(4)}
}

// transferScenario is a call answered by 101, then transferred to 102.
type transferScenario struct {
	name   string
	events func(p *pbx, trunk Channel) []Event
	// record is what the call log says; classification a part of its
	// transfer sentence.
	transfer string
}

func attendedEvents(order string) func(p *pbx, trunk Channel) []Event {
	return func(p *pbx, trunk Channel) []Event {
		a := p.phone(trunk, "101")
		evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
		evs = append(evs, dial(trunk, a, "ANSWER", p.at(2)), entered(trunk, "B1", 2, p), entered(a, "B1", 2, p))
		// 101 puts the caller on hold and calls 102 from a second line.
		consult := consultLeg("k1", "101", p)
		target := Channel{ID: "k2", Name: "PJSIP/102-c00000k2", State: "Up", Context: "from-internal", Exten: "102",
			LinkedID: "k1", CreatedAt: p.at(4)}
		evs = append(evs, created(consult, p.at(4)), created(target, p.at(4)), dial(consult, target, "", p.at(4)),
			dial(consult, target, "RINGING", p.at(4)), dial(consult, target, "ANSWER", p.at(6)),
			entered(consult, "B2", 6, p), entered(target, "B2", 6, p))
		tr := transferEvent(Transfer{Attended: true, Transferer: a, Consult: consult, Transferee: trunk, Target: target, Result: "Success"}, 9, p)
		switch order {
		case "target moves to the caller":
			evs = append(evs, left(a, "B1", 9, p), left(target, "B2", 9, p), entered(target, "B1", 9, p), tr)
		case "caller moves to the target, the transfer event first":
			evs = append(evs, tr, left(trunk, "B1", 9, p), entered(trunk, "B2", 9, p), left(consult, "B2", 9, p))
		case "caller moves to the target while the consult leg is still there":
			evs = append(evs, left(trunk, "B1", 9, p), entered(trunk, "B2", 9, p), left(consult, "B2", 9, p), tr)
		}
		return append(evs, destroyed(a, p.at(9), 16), destroyed(consult, p.at(9), 16),
			destroyed(target, p.at(20), 16), destroyed(trunk, p.at(20), 16))
	}
}

func blindEvents(p *pbx, trunk Channel) []Event {
	a := p.phone(trunk, "101")
	evs := append([]Event{created(trunk, p.at(0))}, ring(trunk, a, p.at(0.1))...)
	evs = append(evs, dial(trunk, a, "ANSWER", p.at(2)), entered(trunk, "B1", 2, p), entered(a, "B1", 2, p),
		transferEvent(Transfer{Transferer: a, Transferee: trunk, Exten: "102", Context: "from-internal", Result: "Success"}, 8, p),
		left(trunk, "B1", 8, p), left(a, "B1", 8, p), destroyed(a, p.at(8), 16))
	// The caller's channel runs the dialplan at 102 and dials it.
	b := p.phone(trunk, "102")
	evs = append(evs, ring(trunk, b, p.at(8.1))...)
	return append(evs, dial(trunk, b, "ANSWER", p.at(11)), entered(trunk, "B3", 11, p), entered(b, "B3", 11, p),
		destroyed(b, p.at(30), 16), destroyed(trunk, p.at(30), 16))
}

// TestTransfersPopAndRecordTheSameStory: whoever ends up talking to the
// client has the pop with the client's card; the operator who transferred
// sees to whom; the record says the same.
func TestTransfersPopAndRecordTheSameStory(t *testing.T) {
	ivan := ClientRecord{Client: Client{ID: 7, LastName: "Петров", FirstName: "Иван"}}
	tests := []transferScenario{
		{name: "attended, the target moving into the caller's bridge", events: attendedEvents("target moves to the caller"),
			transfer: "transfer (attended): operator 101 transferred the caller to 102"},
		{name: "attended, the caller moving into the target's bridge after the transfer event", events: attendedEvents("caller moves to the target, the transfer event first"),
			transfer: "transfer (attended): operator 101 transferred the caller to 102"},
		{name: "attended, the caller moving in while 101's consult leg is still bridged", events: attendedEvents("caller moves to the target while the consult leg is still there"),
			transfer: "transfer (attended): operator 101 transferred the caller to 102"},
		{name: "blind", events: blindEvents, transfer: "transfer (blind): operator 101 transferred the caller to extension 102"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPBX()
			trunk := p.trunk("c1", "+79161234567", "74951112233")
			dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 4),
				recs: map[string][]ClientRecord{"+79161234567": {ivan}}}
			close(dir.release)
			popper, hub := newPopperTest(dir)
			tr, log, _ := newTestTracker()
			tr.Observe(popper)
			s101, s102 := hub.Subscribe("101", 0), hub.Subscribe("102", 0)
			evs := tt.events(p, trunk)
			end := len(evs) - 2 // before the call ends
			feed(tr, evs[:end])
			popper.Wait()

			pop102 := lastPop(t, s102, "c1")
			if pop102.State != StateActive || pop102.TransferredFrom != "101" {
				t.Errorf("102's pop is %s, from %q; want active, transferred from 101", pop102.State, pop102.TransferredFrom)
			}
			if len(pop102.Card.Clients) != 1 || pop102.Card.Clients[0].ID != 7 {
				t.Errorf("102's pop card %+v; want the client's card (client 7)", pop102.Card)
			}
			pop101 := lastPop(t, s101, "c1")
			if pop101.State != StateTransferred || pop101.TransferredTo != "102" || pop101.AnsweredBy != "101" {
				t.Errorf("101's pop is %s, to %q, answered by %q; want transferred to 102, answered by 101",
					pop101.State, pop101.TransferredTo, pop101.AnsweredBy)
			}

			feed(tr, evs[end:])
			tr.Close(CloseEndOfInput)
			c := log.calls[0]
			got := summarise(c)
			want := summary{ID: "c1", Status: StatusAnswered, AnsweredBy: "101", TalkedTo: []string{"101", "102"}}
			got.OfferedTo, got.Outcomes = nil, nil
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
			if !strings.Contains(strings.Join(c.Classification, "\n"), tt.transfer) {
				t.Errorf("classification:\n%s\nwant it to say %q", strings.Join(c.Classification, "\n"), tt.transfer)
			}
		})
	}
}

// lastPop is the latest state of the call on the operator's page, from
// every message they got so far.
func lastPop(t *testing.T, sub *Subscription, callID string) PopCall {
	t.Helper()
	var pc *PopCall
	for {
		select {
		case m := <-sub.C:
			if m.Call != nil && m.Call.ID == callID {
				c := *m.Call
				pc = &c
			}
			continue
		default:
		}
		break
	}
	if pc == nil {
		t.Fatalf("the operator's page got nothing about call %s", callID)
	}
	return *pc
}

package screenpop

import (
	"encoding/json"
	"strings"
	"testing"
)

// Two boxes started in the same second give their calls the same IDs: the
// pops, the operators' screens and what they may note keep them apart.
func TestTwoBoxesCallsWithOneIDAreNotMerged(t *testing.T) {
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 16)}
	close(dir.release)
	p, hub := newPopperTest(dir)
	access := NewAccess()
	p.Access = access
	box1, box2 := OnBox("pbx1", Observers{p, access}), OnBox("pbx2", Observers{p, access})
	one, two := hub.Subscribe("101", 0), hub.Subscribe("102", 0)
	next(t, one)
	next(t, two)
	ivan, maria := ParseNumber("+79161234567", "RU"), ParseNumber("+79035550101", "RU")

	box1.Notice(Notice{Kind: NoticeStarted, CallID: "1765000000.1", Caller: ivan, At: today})
	box2.Notice(Notice{Kind: NoticeStarted, CallID: "1765000000.1", Caller: maria, At: today})
	p.Wait()
	box1.Notice(Notice{Kind: NoticeRinging, CallID: "1765000000.1", Operator: "101", Caller: ivan})
	box2.Notice(Notice{Kind: NoticeRinging, CallID: "1765000000.1", Operator: "101", Caller: maria})
	box2.Notice(Notice{Kind: NoticeRinging, CallID: "1765000000.1", Operator: "102", Caller: maria})
	a, b := next(t, one), next(t, one)
	if a.Type != MsgOffered || b.Type != MsgOffered || a.Call.PBX != "pbx1" || b.Call.PBX != "pbx2" ||
		a.Call.Caller != ivan.Raw || b.Call.Caller != maria.Raw || a.Call.ID != b.Call.ID {
		t.Fatalf("operator 101's pops: %+v and %+v, want one per box, each with its caller", a.Call, b.Call)
	}
	if m := next(t, two); m.Call.PBX != "pbx2" || m.Call.Caller != maria.Raw {
		t.Fatalf("operator 102's pop: %+v, want pbx2's call", m.Call)
	}

	// 101 answers pbx1's call: pbx2's call of the same ID still rings.
	box1.Notice(Notice{Kind: NoticeAnswered, CallID: "1765000000.1", Operator: "101"})
	if m := next(t, one); m.Type != MsgAnswered || m.Call.PBX != "pbx1" || m.Call.State != StateActive {
		t.Fatalf("after 101 answered pbx1's call: %s %+v", m.Type, m.Call)
	}
	none(t, two)
	if !access.CallNotable("101", "pbx1/1765000000.1", 0) || !access.CallNotable("102", "pbx2/1765000000.1", 0) ||
		access.CallNotable("102", "pbx1/1765000000.1", 0) || access.CallNotable("102", "1765000000.1", 0) {
		t.Error("who may note which box's call is mixed up")
	}
	box1.Notice(Notice{Kind: NoticeEnded, CallID: "1765000000.1", Call: &Call{ID: "1765000000.1", Status: StatusAnswered}})
	if m := next(t, one); m.Type != MsgEnded || m.Call.PBX != "pbx1" {
		t.Fatalf("after pbx1's call ended: %s %+v", m.Type, m.Call)
	}
	none(t, two)

	// A page opening now sees pbx2's call still ringing, and only it.
	again := hub.Subscribe("101", 0)
	snap := next(t, again)
	if snap.Type != MsgSnapshot || len(snap.Calls) != 1 || snap.Calls[0].PBX != "pbx2" || snap.Calls[0].State != StateRinging {
		t.Fatalf("101's snapshot: %+v, want pbx2's call ringing", snap.Calls)
	}
	t.Logf("2 boxes, 1 call ID: 101 got %d pops, 102 got 1; pbx1's answer and end left pbx2's call ringing", 2)
	p.Wait()
}

// With one box nothing changes on the wire: no pbx in a pop, keys are IDs.
func TestOneBoxPopsAsBefore(t *testing.T) {
	if OnBox("", nil) != nil {
		t.Error(`OnBox("", o) is not o itself`)
	}
	b, err := json.Marshal(PopCall{ID: "1765000000.1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pbx") || CallKey("", "1765000000.1") != "1765000000.1" || CallKey("pbx1", "1") != "pbx1/1" {
		t.Errorf("one box's pop %s, keys %q %q", b, CallKey("", "1765000000.1"), CallKey("pbx1", "1"))
	}
}

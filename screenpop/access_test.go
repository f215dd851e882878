package screenpop

import (
	"testing"
	"time"
)

func TestAccessFollowsTheOperatorsOwnCalls(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	a := NewAccess()
	a.now = func() time.Time { return now }
	card := Card{Clients: []ClientCard{
		{ClientRecord: ClientRecord{Client: Client{ID: 7}, OpenComplaintList: []Complaint{{ID: 31}}}},
		{ClientRecord: ClientRecord{Client: Client{ID: 900, Lead: true}}},
	}}
	a.Notice(Notice{Kind: NoticeStarted, CallID: "c1"})
	a.SetCard("c1", card)
	if a.ClientReadable("101", 7) {
		t.Error("a call that rang nobody yet opens its client to 101")
	}
	a.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "101"})
	if !a.ClientReadable("101", 7) || !a.CallNotable("101", "c1", 7) || !a.LeadEditable("101", 900) || !a.ComplaintClosable("101", 31) {
		t.Error("101, offered the call, cannot reach what is on its card")
	}
	if a.ClientReadable("102", 7) || a.CallNotable("102", "c1", 0) || a.LeadEditable("102", 900) || a.ComplaintClosable("102", 31) {
		t.Error("102, never offered the call, reaches what is on its card")
	}
	if a.CallNotable("101", "c1", 8) {
		t.Error("101 may name on the call a client who is not on its card")
	}
	t.Run("the target of a transfer reaches the call from the answer", func(t *testing.T) {
		a.Notice(Notice{Kind: NoticeAnswered, CallID: "c1", Operator: "102", From: "101"})
		if !a.ClientReadable("102", 7) {
			t.Error("102 talks to the client and cannot open their history")
		}
	})
	t.Run("an operator's own outbound call can be noted", func(t *testing.T) {
		op := "103"
		a.Notice(Notice{Kind: NoticeEnded, CallID: "o1", Call: &Call{ID: "o1", Direction: Outbound, AnsweredBy: &op}})
		if !a.CallNotable("103", "o1", 0) || a.CallNotable("101", "o1", 0) {
			t.Error("only the operator who placed an outbound call may note it")
		}
	})
	t.Run("a lead stays editable a while after its call, the client for the session", func(t *testing.T) {
		a.Notice(Notice{Kind: NoticeEnded, CallID: "c1", Call: &Call{ID: "c1"}})
		now = now.Add(LeadGrace - time.Minute)
		if !a.LeadEditable("101", 900) {
			t.Error("the lead is not editable right after the call")
		}
		now = now.Add(2 * time.Minute)
		if a.LeadEditable("101", 900) {
			t.Error("the lead is still editable long after its call left the screen")
		}
		if !a.ClientReadable("101", 7) {
			t.Error("the client of a call served this session cannot be read")
		}
		now = now.Add(AccessWindow)
		if a.ClientReadable("101", 7) || a.CallNotable("101", "c1", 7) {
			t.Error("a call from before the session still opens its client")
		}
	})
}

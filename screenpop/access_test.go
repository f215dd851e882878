package screenpop

import (
	"context"
	"errors"
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
	if mayRead(t, a, "101", 7) {
		t.Error("a call that rang nobody yet opens its client to 101")
	}
	a.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "101"})
	if !mayRead(t, a, "101", 7) || !a.CallNotable("101", "c1", 7) || !a.LeadEditable("101", 900) || !a.ComplaintClosable("101", 31) {
		t.Error("101, offered the call, cannot reach what is on its card")
	}
	if mayRead(t, a, "102", 7) || a.CallNotable("102", "c1", 0) || a.LeadEditable("102", 900) || a.ComplaintClosable("102", 31) {
		t.Error("102, never offered the call, reaches what is on its card")
	}
	if a.CallNotable("101", "c1", 8) {
		t.Error("101 may name on the call a client who is not on its card")
	}
	t.Run("the target of a transfer reaches the call from the answer", func(t *testing.T) {
		a.Notice(Notice{Kind: NoticeAnswered, CallID: "c1", Operator: "102", From: "101"})
		if !mayRead(t, a, "102", 7) {
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
		if !mayRead(t, a, "101", 7) {
			t.Error("the client of a call served this session cannot be read")
		}
		now = now.Add(AccessWindow)
		if mayRead(t, a, "101", 7) || a.CallNotable("101", "c1", 7) {
			t.Error("a call from before the session still opens its client")
		}
	})
}

// mayRead is ClientReadable for a ledger whose call log cannot fail.
func mayRead(t *testing.T, a *Access, op string, clientID int64) bool {
	t.Helper()
	ok, err := a.ClientReadable(context.Background(), op, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// servedLog is a call log that says 101 served client 7.
type servedLog struct {
	err   error
	asked []time.Time
}

func (l *servedLog) ServedClient(_ context.Context, op string, clientID int64, since time.Time) (bool, error) {
	l.asked = append(l.asked, since)
	return op == "101" && clientID == 7, l.err
}

// TestAccessAsksTheCallLogWhatTheLedgerDoesNotKnow: a fresh ledger (after
// a restart) asks the call log about the operator's session, the last
// AccessWindow; what it knows itself it does not ask.
func TestAccessAsksTheCallLogWhatTheLedgerDoesNotKnow(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	log := &servedLog{}
	a := NewAccess()
	a.now = func() time.Time { return now }
	a.Log = log
	if !mayRead(t, a, "101", 7) || mayRead(t, a, "102", 7) || mayRead(t, a, "101", 8) {
		t.Error("the ledger does not follow what the call log says 101 served")
	}
	if len(log.asked) != 3 || !log.asked[0].Equal(now.Add(-AccessWindow)) {
		t.Errorf("asked the call log since %v; want 3 times since %v", log.asked, now.Add(-AccessWindow))
	}
	a.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "102"})
	a.SetCard("c1", Card{Clients: []ClientCard{{ClientRecord: ClientRecord{Client: Client{ID: 9}}}}})
	log.asked = nil
	if !mayRead(t, a, "102", 9) || len(log.asked) != 0 {
		t.Errorf("a client the ledger knows: asked the call log %d times", len(log.asked))
	}
	log.err = errors.New("the call log is down")
	if ok, err := a.ClientReadable(context.Background(), "101", 8); ok || err == nil {
		t.Errorf("with the call log down: %t, %v; want an error", ok, err)
	}
}

package screenpop

import (
	"context"
	"slices"
	"sync"
	"time"
)

// What an operator may read and change is what their work needs:
//
//   - the history of a client who is on a call they are being offered or
//     talking to, or one they served in their session (the calls that
//     reached them within AccessWindow);
//   - notes on calls they were offered, talked to or placed, naming only a
//     client on that call's card;
//   - a lead's details while the lead is on their screen: its call under
//     way, or ended less than LeadGrace ago (the operator fills the name
//     in as the caller hangs up);
//   - complaints of clients on such a call's card.
//
// Access keeps that from the call notices and the pops' cards, in memory.
// After a restart the ledger knows only the calls since; for a client's
// history it then asks the call log (Access.Log), so that an operator still
// opens the clients of the calls in their shift list.

// The bounds of Access.
const (
	// AccessWindow is an operator's session: the calls that reached them
	// this long ago or less.
	AccessWindow = 12 * time.Hour
	// LeadGrace is how long after its call a lead stays editable.
	LeadGrace = 30 * time.Minute
	// maxAccessCalls bounds the calls remembered; the oldest go first.
	maxAccessCalls = 100_000
)

// Access answers what an operator may read and change. It is safe for
// concurrent use: the tracker's goroutine tells it about calls, the API's
// handlers ask.
type Access struct {
	// Log, if set before use, answers ClientReadable when the ledger does
	// not know the client.
	Log   ServedLog
	mu    sync.Mutex
	now   func() time.Time
	calls map[string]*accessCall
	order []string // call IDs, oldest first
}

type accessCall struct {
	ops        []string // the operators the call reached
	clients    []int64  // on its card
	leads      []int64
	complaints []int64
	ended      time.Time // zero while under way
}

// NewAccess returns an empty ledger.
func NewAccess() *Access {
	return &Access{now: time.Now, calls: map[string]*accessCall{}}
}

// Notice learns who a call reached: offered (ringing), answered or taken
// over, placed (an outbound call's record), and when it ended.
func (a *Access) Notice(n Notice) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch n.Kind {
	case NoticeRinging, NoticeAnswered:
		a.reach(n.Key(), n.Operator)
	case NoticeEnded:
		c := a.call(n.Key())
		if n.Call != nil && n.Call.Direction == Outbound && n.Call.AnsweredBy != nil {
			a.reach(n.Key(), *n.Call.AnsweredBy)
		}
		c.ended = a.now()
	}
}

// SetCard learns the clients, leads and complaints a call's pop shows; the
// call is named by its key (CallKey).
func (a *Access) SetCard(key string, card Card) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.call(key)
	for _, cc := range card.Clients {
		if !slices.Contains(c.clients, cc.ID) {
			c.clients = append(c.clients, cc.ID)
		}
		if cc.Lead && !slices.Contains(c.leads, cc.ID) {
			c.leads = append(c.leads, cc.ID)
		}
		for _, cp := range cc.OpenComplaintList {
			if !slices.Contains(c.complaints, cp.ID) {
				c.complaints = append(c.complaints, cp.ID)
			}
		}
	}
}

// call returns the call's entry, making it; a.mu is held.
func (a *Access) call(id string) *accessCall {
	c := a.calls[id]
	if c == nil {
		c = &accessCall{}
		a.calls[id] = c
		a.order = append(a.order, id)
		a.prune()
	}
	return c
}

func (a *Access) reach(callID, op string) {
	if op == "" {
		return
	}
	c := a.call(callID)
	if !slices.Contains(c.ops, op) {
		c.ops = append(c.ops, op)
	}
}

// prune forgets calls over the bound, and those that ended before the
// window; a.mu is held.
func (a *Access) prune() {
	limit := a.now().Add(-AccessWindow)
	n := 0
	for n < len(a.order) {
		c := a.calls[a.order[n]]
		if len(a.order)-n <= maxAccessCalls && (c.ended.IsZero() || c.ended.After(limit)) {
			break
		}
		delete(a.calls, a.order[n])
		n++
	}
	a.order = a.order[n:]
}

// mine calls f on each call that reached op in their session, until f
// says stop; a.mu is held.
func (a *Access) mine(op string, f func(id string, c *accessCall) bool) {
	limit := a.now().Add(-AccessWindow)
	for i := len(a.order) - 1; i >= 0; i-- {
		c := a.calls[a.order[i]]
		if !slices.Contains(c.ops, op) || !c.ended.IsZero() && c.ended.Before(limit) {
			continue
		}
		if f(a.order[i], c) {
			return
		}
	}
}

// anyMine reports whether a call that reached op in their session
// satisfies f.
func (a *Access) anyMine(op string, f func(c *accessCall) bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := false
	a.mine(op, func(_ string, c *accessCall) bool {
		ok = f(c)
		return ok
	})
	return ok
}

// ServedLog is the call log as Access's memory across restarts.
type ServedLog interface {
	// ServedClient reports whether a call on one of the client's numbers
	// that ended since since was offered to, answered by or talked to by
	// operator.
	ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error)
}

// ClientReadable reports whether op may read the client's history: a
// client on a call in the ledger, or else one the call log says op served
// within AccessWindow. An error is the call log's: it could not say.
func (a *Access) ClientReadable(ctx context.Context, op string, clientID int64) (bool, error) {
	if a.anyMine(op, func(c *accessCall) bool { return slices.Contains(c.clients, clientID) }) {
		return true, nil
	}
	if a.Log == nil || op == "" {
		return false, nil
	}
	ok, err := a.Log.ServedClient(ctx, op, clientID, a.now().Add(-AccessWindow))
	if err != nil {
		return false, err
	}
	return ok, nil
}

// CallNotable reports whether op may note the call (named by its key,
// CallKey), and name clientID (0: none) as the client it was about.
func (a *Access) CallNotable(op, key string, clientID int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls[key]
	if c == nil || !slices.Contains(c.ops, op) || !c.ended.IsZero() && c.ended.Before(a.now().Add(-AccessWindow)) {
		return false
	}
	return clientID == 0 || slices.Contains(c.clients, clientID)
}

// LeadEditable reports whether the lead is on op's screen now.
func (a *Access) LeadEditable(op string, leadID int64) bool {
	limit := a.now().Add(-LeadGrace)
	return a.anyMine(op, func(c *accessCall) bool {
		return slices.Contains(c.leads, leadID) && (c.ended.IsZero() || c.ended.After(limit))
	})
}

// ComplaintClosable reports whether the complaint is on a card of a call
// that reached op in their session.
func (a *Access) ComplaintClosable(op string, complaintID int64) bool {
	return a.anyMine(op, func(c *accessCall) bool { return slices.Contains(c.complaints, complaintID) })
}

package screenpop

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// DefaultLookupTimeout bounds a client lookup; the pop never waits for it.
const DefaultLookupTimeout = 3 * time.Second

// maxLookups bounds lookups in flight, so a slow database cannot pile up
// goroutines.
const maxLookups = 64

// Popper turns call notices into pops on operators' screens. It looks the
// caller up as soon as the call is seen, before any phone rings, so a pop
// never waits on the directory: it goes out with what is known ("looking
// up…") and is updated when the answer comes.
type Popper struct {
	dir     Directory
	rules   CardRules
	hub     *Hub
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
	// LookupDone, if set, is told how long each lookup took, for metrics.
	LookupDone func(time.Duration, error)
	// Leads, if set, makes a lead of every unknown caller's number, for
	// the operator to fill in on the pop. Set it before the first notice.
	Leads Leads
	// Access, if set, learns the clients on each call's card: what the
	// operators it reaches may open. Set it before the first notice.
	Access *Access
	// Base, if set, is what lookups run on, each within its own timeout:
	// the daemon cancels it at shutdown to end those in flight. Set it
	// before the first notice.
	Base context.Context

	mu    sync.Mutex // held while calling the hub, so cards never go back
	calls map[string]*popState
	sem   chan struct{}
	wg    sync.WaitGroup
}

type popState struct {
	call PopCall
	num  Number
	// ready is closed once the card is final (found, unknown, withheld
	// or failed).
	ready chan struct{}
	// gen counts lookups of the call; only the latest may set the card.
	gen uint64
}

// orBackground is ctx, or the background context if ctx is nil.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// Leads makes leads of unknown callers.
type Leads interface {
	// EnsureLead returns the lead of the E.164 number, making one (a
	// client with the number and no name yet) if there is none: one number
	// makes one lead, however many calls and daemons ask at once. ok is
	// false, and no lead is made, when the number is a client's.
	EnsureLead(ctx context.Context, e164 string) (lead ClientRecord, ok bool, err error)
}

// NewPopper returns a popper looking callers up in dir (nil: no client
// base; every card says unknown).
func NewPopper(dir Directory, rules CardRules, hub *Hub, log *slog.Logger) *Popper {
	return &Popper{
		dir: dir, rules: rules, hub: hub, log: log, timeout: DefaultLookupTimeout, now: time.Now,
		calls: map[string]*popState{}, sem: make(chan struct{}, maxLookups),
	}
}

// Notice acts on a call notice; it returns at once.
func (p *Popper) Notice(n Notice) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n.Kind {
	case NoticeStarted:
		p.start(n)
	case NoticeRinging:
		st := p.calls[n.Key()]
		if st == nil {
			st = p.start(n)
		}
		p.hub.Offer(n.Operator, st.call)
	case NoticeAnswered:
		if st := p.calls[n.Key()]; st != nil {
			// A transfer's target may have had no pop: give them one.
			p.hub.TakeOver(n.Operator, st.call, n.From)
		}
		p.hub.Answered(n.Key(), n.Operator)
	case NoticeTransferred:
		p.hub.Transferred(n.Operator, n.Key(), n.To)
	case NoticeOfferEnded:
		if n.Outcome != OutcomeAnsweredElsewhere && n.Outcome != OutcomeAnswered {
			p.hub.Missed(n.Operator, n.Key())
		}
	case NoticeEnded:
		if n.Call != nil {
			p.hub.Ended(n.Key(), n.Call.Status)
		}
		delete(p.calls, n.Key())
	}
}

// start records a new call and starts its lookup; p.mu is held.
func (p *Popper) start(n Notice) *popState {
	if st := p.calls[n.Key()]; st != nil {
		return st
	}
	st := &popState{
		call:  PopCall{ID: n.CallID, PBX: n.PBX, Caller: n.Caller.Raw, DID: n.DID, StartedAt: n.At},
		num:   n.Caller,
		ready: make(chan struct{}),
	}
	p.calls[n.Key()] = st
	if n.Caller.Withheld || n.Caller.E164 == "" || p.dir == nil {
		st.call.Card = p.rules.NewCard(n.Caller, nil, p.now())
		close(st.ready)
		return st
	}
	st.call.Card = Card{Lookup: LookupPending, Caller: n.Caller.Raw, E164: n.Caller.E164, Clients: []ClientCard{}}
	p.wg.Add(1)
	go p.lookup(n.Key(), st, st.gen, true)
	return st
}

// lookup looks the call's caller up and sets its card, unless the call
// ended or a later lookup started meanwhile. The first lookup of a call
// makes a lead of an unknown caller, and marks the card final even if it
// failed; a later one (Refresh) leaves the card as it was if it fails.
func (p *Popper) lookup(callID string, st *popState, gen uint64, first bool) {
	defer p.wg.Done()
	if first {
		defer close(st.ready)
	}
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	ctx, cancel := context.WithTimeout(orBackground(p.Base), p.timeout)
	defer cancel()
	num := st.num
	start := time.Now()
	recs, err := p.dir.LookupPhone(ctx, num.E164)
	if p.LookupDone != nil && first {
		// Told once the card is set (deferred calls run last first): a
		// lookup counted done is one whose card the pages and the access
		// rules already have.
		took := time.Since(start)
		defer p.LookupDone(took, err)
	}
	var card Card
	switch {
	case err != nil:
		if p.Base != nil && p.Base.Err() != nil {
			p.log.Info("a caller's lookup was ended by the shutdown", "call", callID, "caller", num)
		} else {
			p.log.Error("look up caller", "call", callID, "caller", num, "err", err)
		}
		if !first {
			return
		}
		card = Card{Lookup: LookupFailed, Caller: num.Raw, E164: num.E164, Clients: []ClientCard{}}
	case len(recs) == 0 && first && p.Leads != nil:
		card = p.leadCard(ctx, callID, num)
	default:
		card = p.rules.NewCard(num, recs, p.now())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls[callID] != st || st.gen != gen {
		return // the call ended, or a later lookup has its card
	}
	st.call.Card = card
	if p.Access != nil {
		p.Access.SetCard(callID, card)
	}
	p.hub.UpdateCard(callID, card)
}

// leadCard is the card of a caller nobody knew: with their lead, made now
// if need be, or without when it cannot be made.
func (p *Popper) leadCard(ctx context.Context, callID string, num Number) Card {
	lead, ok, err := p.Leads.EnsureLead(ctx, num.E164)
	switch {
	case err != nil:
		p.log.Error("make a lead of an unknown caller", "call", callID, "caller", num, "err", err)
	case ok:
		return p.rules.NewLeadCard(num, lead, p.now())
	default:
		// The number became a client's since the lookup.
		if recs, err := p.dir.LookupPhone(ctx, num.E164); err == nil {
			return p.rules.NewCard(num, recs, p.now())
		}
	}
	return p.rules.NewCard(num, nil, p.now())
}

// Refresh looks the callers up again on the calls under way whose cards
// show the client, and updates their pops: an operator changed what the
// card says (named a lead, noted a call, closed a complaint). It returns
// at once.
func (p *Popper) Refresh(clientID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, st := range p.calls {
		if !slices.ContainsFunc(st.call.Card.Clients, func(c ClientCard) bool { return c.ID == clientID }) {
			continue
		}
		st.gen++
		p.wg.Add(1)
		go p.lookup(id, st, st.gen, false)
	}
}

// Card waits until the card of the call (named by its key, CallKey) is
// final or ctx ends, and returns it as it stands then.
func (p *Popper) Card(ctx context.Context, key string) (Card, bool) {
	p.mu.Lock()
	st := p.calls[key]
	p.mu.Unlock()
	if st == nil {
		return Card{}, false
	}
	select {
	case <-st.ready:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return st.call.Card, true
}

// Wait waits for the lookups under way, for shutdown.
func (p *Popper) Wait() { p.wg.Wait() }

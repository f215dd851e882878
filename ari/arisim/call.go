package arisim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Scenario is what happens to a call. Each one is scripted after the trace
// of the same name in ari/testdata/traces.
type Scenario string

// The scenarios.
const (
	// Answered: the operator's phone rings RingFor, is answered, the call
	// talks TalkFor and the operator hangs up (answered.jsonl).
	Answered Scenario = "answered"
	// Missed: the phone rings RingFor, the Dial's timeout, and Dial gives
	// up with NOANSWER (missed.jsonl).
	Missed Scenario = "missed"
	// Abandoned: the caller hangs up after RingFor of ringing; Dial
	// CANCEL (abandoned.jsonl).
	Abandoned Scenario = "abandoned"
	// Busy: the phone is busy; it never rings (busy.jsonl).
	Busy Scenario = "busy"
	// Queue: the call goes to a ring-all queue; every operator's phone
	// rings, AnswerBy answers after RingFor, the others get Dial CANCEL
	// (twice) and hang up with cause 26, answered elsewhere (queue.jsonl).
	Queue Scenario = "queue"
	// Stasis: the call enters Stasis(App,inbound,DID) and waits for the
	// application to continue it (applying the variables it sets, such
	// as CALLERID(name)); then it goes on as Answered (stasis.jsonl). If
	// no application is connected, Stasis fails at once and the dialplan
	// goes on; if the application does not continue the channel within
	// Config.StasisTimeout, the caller hangs up while still in Stasis.
	Stasis Scenario = "stasis"
)

// Scenarios is every scenario, in the order above.
var Scenarios = []Scenario{Answered, Missed, Abandoned, Busy, Queue, Stasis}

// Call is one inbound call to simulate.
type Call struct {
	// ID names the call's first channel, as an originate's channelId
	// does (the traces' "call-answered"); in TechLocal the ;2 half is
	// ID+"-2". Empty: Asterisk-made unique IDs ("1795561236.146"). Either
	// way the first channel's ID is the call's CHANNEL(linkedid).
	ID string
	// Caller is the caller ID number as the trunk sends it
	// ("+79161234567", "89161234567", "anonymous"); CallerName its name
	// ("Anonymous" for a withheld number, usually empty otherwise).
	Caller     string
	CallerName string
	// DID is the number dialled.
	DID      string
	Scenario Scenario
	// Operators are the extensions dialled: the first one alone, except
	// in Queue and the ring-all scenarios, which ring them all, and in the
	// pickups, which ring all but the last, who picks up. Default:
	// Config.Operators.
	Operators []string
	// AnswerBy is who answers a Queue or RingAll call; default the first
	// operator.
	AnswerBy string
	// PickedUp is, in DirectedPickup, the dialled operator whose ringing
	// phone the last operator picks up; default the first dialled.
	PickedUp string
	// RingFor is how long phones ring before the answer, the Dial
	// timeout (Missed) or the caller hanging up (Abandoned,
	// RingAllAbandoned); TalkFor how long an answered call lasts.
	// Defaults 2 s and 3.5 s.
	RingFor, TalkFor time.Duration
	// Announce is, in RingAll, how long the Dial's A() announcement
	// plays to the operator who answered: the time between their answer,
	// when the other phones are cancelled already, and the Dial's ANSWER.
	// Zero: no announcement.
	Announce time.Duration
	// CancelElsewhere is Dial's c option in the ring-all scenarios: the
	// phones Dial hangs up get cause 26, answered elsewhere, even when the
	// caller hung up.
	CancelElsewhere bool
	// ViaStasis sends a SIP scenario's call through the Stasis
	// application first, as Stasis does, before it dials the phones;
	// without an application connected, Stasis fails and the dialplan
	// goes on.
	ViaStasis bool
}

// Default ring and talk times.
const (
	DefaultRingFor = 2 * time.Second
	DefaultTalkFor = 3500 * time.Millisecond
)

// Result is what Place reports about a call.
type Result struct {
	// CallID is the call's CHANNEL(linkedid), which the daemon uses as
	// its call_id.
	CallID string
	// Events is how many events the call generated, before any filter:
	// every event a subscribeAll client receives of it, those the
	// application caused through REST (setting CALLERID(name) on the
	// channel in Stasis) included.
	Events int
	// Continued reports, for a Stasis call, whether the application
	// continued it.
	Continued bool
}

// Place runs one call from the first ChannelCreated to the last
// ChannelDestroyed, in simulated time, and returns when it is over. If ctx
// is done or the simulator closes first, the call's channels are hung up
// at once and the error says why.
func (s *Sim) Place(ctx context.Context, c Call) (Result, error) {
	if err := s.check(); err != nil {
		return Result{}, err
	}
	c, err := s.complete(c)
	if err != nil {
		return Result{}, err
	}
	r := &run{s: s, ctx: ctx, c: c, at: s.clock.now()}
	if err := s.alive(ctx); err != nil {
		return Result{}, err
	}
	if err := r.script(); err != nil {
		r.abort()
		return r.result(), fmt.Errorf("arisim: %s call %s: %w", c.Scenario, r.linked, err)
	}
	return r.result(), nil
}

// complete checks a call and fills in its defaults.
func (s *Sim) complete(c Call) (Call, error) {
	if c.Scenario == "" {
		c.Scenario = Answered
	}
	if !slices.Contains(Scenarios, c.Scenario) && !slices.Contains(SIPScenarios, c.Scenario) {
		return c, fmt.Errorf("arisim: unknown scenario %q", c.Scenario)
	}
	if c.DID == "" {
		return c, errors.New("arisim: the call has no DID")
	}
	if len(c.Operators) == 0 {
		c.Operators = s.cfg.Operators
	}
	if len(c.Operators) == 0 {
		return c, errors.New("arisim: the call has no operator to ring")
	}
	if err := s.checkSIP(c); err != nil {
		return c, err
	}
	if c.ViaStasis && !slices.Contains(SIPScenarios, c.Scenario) {
		return c, fmt.Errorf("arisim: ViaStasis is for the SIP scenarios; the %s scenario has its own dialplan", c.Scenario)
	}
	switch c.Scenario {
	case Queue, RingAll, RingAllAbandoned:
	case AttendedTransfer, BlindTransfer:
		c.Operators = c.Operators[:2]
	case Pickup, DirectedPickup:
		// Those dialled, then who picks up.
	default:
		c.Operators = c.Operators[:1]
	}
	c.Operators = slices.Clone(c.Operators)
	if c.Scenario == Queue || c.Scenario == RingAll {
		if c.AnswerBy == "" {
			c.AnswerBy = c.Operators[0]
		}
		if !slices.Contains(c.Operators, c.AnswerBy) {
			return c, fmt.Errorf("arisim: %s is to answer the %s call but is not among its operators %v", c.AnswerBy, c.Scenario, c.Operators)
		}
	}
	if c.RingFor <= 0 {
		c.RingFor = DefaultRingFor
	}
	if c.TalkFor <= 0 {
		c.TalkFor = DefaultTalkFor
	}
	if c.ID != "" {
		s.mu.Lock()
		_, taken := s.chans[c.ID]
		_, taken2 := s.chans[c.ID+"-2"]
		s.mu.Unlock()
		if taken || taken2 {
			return c, fmt.Errorf("arisim: channel ID %s is in use", c.ID)
		}
	}
	return c, nil
}

// run is one call being simulated. Its script calls the steps below, each
// of which changes the PBX and publishes the event Asterisk would, at the
// call's simulated time. A step on a nil channel does nothing: that is a
// channel the technology does not have (a PJSIP trunk has no ;1 half for
// the caller's side, a PJSIP phone no ;2 half running the phone's
// dialplan).
type run struct {
	s   *Sim
	ctx context.Context
	c   Call
	// at is the call's simulated time; steps stamp their events with it.
	at time.Time
	// linked is CHANNEL(linkedid): the first channel's ID.
	linked string
	chans  []*channel
	// events is written under Sim.mu, by the application's REST calls
	// too (Sim.setVariable).
	events int
	// cust is the caller's side of the Local pair (;1, parked in
	// caller,wait once answered); in is the leg running the inbound
	// context (;2, or the PJSIP trunk channel).
	cust, in *channel
	// dialed and answered are when the inbound leg's Dial (or Queue)
	// began and was answered, for ANSWEREDTIME and the like.
	dialed, answered time.Time
	continued        bool
}

func (r *run) result() Result {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return Result{CallID: r.linked, Events: r.events, Continued: r.continued}
}

// wait lets d of simulated time pass.
func (r *run) wait(d time.Duration) error {
	r.at = r.at.Add(d)
	return r.s.sleepUntil(r.ctx, r.at)
}

// Asterisk's pace within a moment of a call, as the traces show it: the
// phones' channels are made about a millisecond after the inbound leg
// reaches Dial or Queue, and they report ringing a few milliseconds after
// that. The simulator keeps these gaps (scaled by Config.Speed) so that a
// call's events arrive spread as a PBX's do, not in one burst.
const (
	paceDial = time.Millisecond
	paceRing = 2 * time.Millisecond
)

// pace lets d of simulated time pass within a moment of the call. A done
// context is not reported here: the next wait reports it.
func (r *run) pace(d time.Duration) { _ = r.wait(d) }

// abort hangs up what is left of a call that could not finish.
func (r *run) abort() {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r.at = s.clock.now()
	for _, ch := range r.chans {
		if s.chans[ch.id] != ch {
			continue
		}
		r.emit(s.hangupEvent(r.at, ch, 16, false))
		if ch.stasisApp != "" {
			ev := s.chanEvent("StasisEnd", r.at, ch, nil, "")
			ev.stasisApp = ch.stasisApp
			r.emit(ev)
			s.leaveStasis(ch)
		}
		r.destroyLocked(ch, 16)
	}
}

// emit publishes an event of this call; s.mu is held.
func (r *run) emit(ev *event) {
	r.events++
	r.s.publish(ev)
}

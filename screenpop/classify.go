package screenpop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What the tracker tells the admin page: for each call, in short
// sentences, which rule decided its direction, caller, DID, operators and
// status (Call.Classification); the calls under way; the last calls
// recorded. The sentences are built once per call, when it is recorded,
// and for the calls under way only when the page asks.

// didSource is where a call's DID came from.
type didSource uint8

const (
	didExten      didSource = iota // the inbound leg's dialplan extension (or nowhere)
	didVariable                    // the dialled-number channel variable
	didStasisArgs                  // the arguments of Stasis(app,inbound,DID)
)

// legHow is how a leg that is no offer came into its call.
type legHow uint8

const (
	legDialled    legHow = iota // an origin leg, or an operator's phone dialled by the call
	legNoOperator               // dialled by the call, but no operator's phone
	legBridged                  // an operator's phone bridged with the caller without being dialled: a transfer
	legResynced                 // an operator's phone found talking to the caller on a resync
)

// How many calls the snapshot gives.
const (
	keepRecentCalls = 100
	maxOpenListed   = 200
)

// OpenCall is a call under way, as the admin page lists it.
type OpenCall struct {
	ID         string    `json:"call_id"`
	Direction  Direction `json:"direction"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	DID        string    `json:"did"`
	StartedAt  time.Time `json:"started_at"`
	// State is how far the call is: waiting (no phone has rung yet),
	// ringing, answered, or ended (its end was seen and it waits out the
	// linger before it is recorded).
	State string `json:"state"`
	// Ringing are the operators whose phones ring now; Talking is who the
	// caller is talking to (the client, for an outbound call: the
	// operator who placed it).
	Ringing []string `json:"ringing"`
	Talking string   `json:"talking,omitempty"`
	// AnsweredBy and AnsweredAt are who first answered and when.
	AnsweredBy string     `json:"answered_by,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	// Classification says so far which rules decided the direction,
	// caller, DID and operators; the status comes when the call ends.
	Classification []string `json:"classification"`
}

// States of a call under way.
const (
	OpenWaiting  = "waiting"
	OpenRinging  = "ringing"
	OpenAnswered = "answered"
	OpenEnded    = "ended"
)

// TrackerSnapshot is what the tracker holds, for the admin page.
type TrackerSnapshot struct {
	// Open are the calls under way, oldest first, at most maxOpenListed
	// of them; OpenCount is how many there are.
	Open      []OpenCall
	OpenCount int
	// Recent are the last calls recorded, newest first.
	Recent []Call
}

// ErrTrackerStopped is Snapshot's answer once Run has returned.
var ErrTrackerStopped = errors.New("call tracking has stopped")

// Snapshot asks the goroutine running the tracker for the calls under
// way and the last calls recorded. It waits at most until ctx ends; Run
// must be running.
func (t *Tracker) Snapshot(ctx context.Context) (TrackerSnapshot, error) {
	reply := make(chan TrackerSnapshot, 1)
	select {
	case t.snaps <- reply:
	case <-t.stopped:
		return TrackerSnapshot{}, ErrTrackerStopped
	case <-ctx.Done():
		return TrackerSnapshot{}, fmt.Errorf("ask call tracking for its calls: %w", ctx.Err())
	}
	return <-reply, nil // Run answers at once
}

// snapshot builds the snapshot on the tracker's goroutine.
func (t *Tracker) snapshot() TrackerSnapshot {
	open := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		open = append(open, c)
	}
	slices.SortFunc(open, func(a, b *call) int {
		return cmp.Or(a.rec.StartedAt.Compare(b.rec.StartedAt), strings.Compare(a.rec.ID, b.rec.ID))
	})
	s := TrackerSnapshot{OpenCount: len(open), Open: make([]OpenCall, 0, min(len(open), maxOpenListed))}
	for _, c := range open[:min(len(open), maxOpenListed)] {
		s.Open = append(s.Open, t.openCall(c))
	}
	s.Recent = make([]Call, 0, len(t.recent))
	for i := t.nrecent - 1; i >= 0 && i >= t.nrecent-keepRecentCalls; i-- {
		s.Recent = append(s.Recent, t.recent[i%keepRecentCalls])
	}
	return s
}

// keepRecent keeps a recorded call for the snapshot.
func (t *Tracker) keepRecent(rec Call) {
	if len(t.recent) < keepRecentCalls {
		t.recent = append(t.recent, rec)
	} else {
		t.recent[t.nrecent%keepRecentCalls] = rec
	}
	t.nrecent++
}

func (t *Tracker) openCall(c *call) OpenCall {
	oc := OpenCall{
		ID: c.rec.ID, Direction: c.rec.Direction, Caller: c.rec.Caller, CallerName: c.rec.CallerName,
		DID: t.did(c), StartedAt: c.rec.StartedAt, State: OpenWaiting, Ringing: []string{},
		Classification: t.classify(c, nil),
	}
	if c.ev.prohibited {
		oc.Caller, oc.CallerName = t.withheldCaller(c)
	}
	for _, o := range c.offers {
		if o.Outcome == OutcomeRinging && o.RingingAt != nil && !slices.Contains(oc.Ringing, o.Operator) {
			oc.Ringing = append(oc.Ringing, o.Operator)
		}
	}
	switch {
	case c.ended:
		oc.State = OpenEnded
	case c.rec.AnsweredAt != nil:
		oc.State = OpenAnswered
		at := *c.rec.AnsweredAt
		oc.AnsweredAt = &at
		if c.rec.AnsweredBy != nil {
			oc.AnsweredBy = *c.rec.AnsweredBy
		}
		if n := len(c.rec.TalkedTo); n > 0 {
			oc.Talking = c.rec.TalkedTo[n-1]
		}
	case len(oc.Ringing) > 0 || c.out != nil && c.out.rang:
		oc.State = OpenRinging
	}
	return oc
}

// classify says in short sentences which rules decided the call's
// direction, caller, DID, operators and, once it is recorded (r not
// nil), its status.
func (t *Tracker) classify(c *call, r *Call) []string {
	if c.out != nil {
		return t.classifyOutbound(c, r)
	}
	words := make([]string, 0, 5+len(c.offers))
	words = append(words, t.directionWords(c), t.callerWords(c), t.didWords(c))
	offers := make([]Offer, 0, len(c.offers))
	if r != nil {
		offers = r.Offers
	} else {
		for _, o := range c.offers {
			offers = append(offers, *o)
		}
	}
	for i := range offers {
		words = append(words, t.offerWords(&offers[i]))
	}
	for _, l := range c.legs {
		switch l.how {
		case legNoOperator:
			words = append(words, fmt.Sprintf("channel %s was dialled; it matches no operator endpoint pattern (%s), so it is no operator's phone", l.ch.Name, t.cfg.Operators.list()))
		case legBridged:
			words = append(words, t.operatorWords(l.ch.Name)+"; joined the caller's bridge without being dialled by the call (a transfer)")
		case legResynced:
			words = append(words, t.operatorWords(l.ch.Name)+"; was talking to the caller when the ARI connection was made")
		}
	}
	words = append(words, transferWords(c)...)
	words = append(words, pickupWords(c)...)
	if r != nil {
		if c.ev.why != "" {
			words = append(words, c.ev.why)
		} else {
			words = append(words, statusWords(r))
		}
		if r.CloseReason != "" {
			words = append(words, "closed by screenpop: "+r.CloseReason)
		}
	}
	return words
}

func (t *Tracker) directionWords(c *call) string {
	name := c.opener.ch.Name
	switch {
	case c.resynced:
		return fmt.Sprintf("inbound: channel %s in inbound context %s was under way when the ARI connection was made (found in Asterisk's channel list)", name, c.openContext)
	case c.stasis && t.inbound[c.openContext]:
		return fmt.Sprintf("inbound: channel %s entered our Stasis application from inbound context %s", name, c.openContext)
	case c.stasis:
		return fmt.Sprintf("inbound: channel %s entered our Stasis application", name)
	}
	return fmt.Sprintf("inbound: channel %s was created in inbound context %s", name, c.openContext)
}

func (t *Tracker) callerWords(c *call) string {
	num := t.caller(c)
	var name string
	if c.callerLeg != nil {
		name = c.callerLeg.ch.Name
	}
	switch {
	case c.ev.prohibited:
		kept := "not kept in the call log"
		if t.cfg.KeepWithheldNumbers {
			kept = "kept in the call log only, for the company's own use (config keeps withheld numbers)"
		}
		return fmt.Sprintf("caller withheld: caller ID presentation %s on channel %s (the caller asked to hide their number): it is not shown, not looked up, no lead is made, and it is %s",
			c.ev.presentation, c.ev.presLeg, kept)
	case c.rec.Caller == "":
		return "caller withheld: no inbound leg showed a caller ID number"
	case num.Withheld:
		return fmt.Sprintf("caller withheld: caller ID %q on channel %s", c.rec.Caller, name)
	case num.E164 == "":
		return fmt.Sprintf("caller %s from the caller ID of channel %s: not a phone number, so not looked up", c.rec.Caller, name)
	case num.E164 != c.rec.Caller:
		return fmt.Sprintf("caller %s (%s) from the caller ID of channel %s", c.rec.Caller, num.E164, name)
	}
	return fmt.Sprintf("caller %s from the caller ID of channel %s", c.rec.Caller, name)
}

func (t *Tracker) didWords(c *call) string {
	variable := "the dialled-number channel variable"
	if t.cfg.DIDVariable != "" {
		variable = "channel variable " + t.cfg.DIDVariable
	}
	switch c.didFrom {
	case didVariable:
		return fmt.Sprintf("DID %s from %s", c.rec.DID, variable)
	case didStasisArgs:
		return fmt.Sprintf("DID %s from the arguments of Stasis (inbound, %s)", c.rec.DID, c.rec.DID)
	}
	if l := t.didLeg(c); l != nil {
		return fmt.Sprintf("DID %s from the dialplan extension of channel %s in inbound context %s (%s was not set, or is not in ari.conf channelvars)",
			l.entry.Exten, l.ch.Name, l.entry.Context, variable)
	}
	return fmt.Sprintf("no DID: %s was not set and no inbound leg had an extension", variable)
}

// operatorWords says which endpoint pattern made the channel an operator's phone.
func (t *Tracker) operatorWords(channel string) string {
	op, pattern := t.cfg.Operators.match(channel)
	return fmt.Sprintf("operator %s: channel %s matched endpoint pattern %s", op, channel, pattern)
}

func (t *Tracker) offerWords(o *Offer) string {
	var rang float64
	if o.RingingAt != nil {
		end := o.EndedAt
		if o.AnsweredAt != nil {
			end = o.AnsweredAt
		}
		if end != nil {
			rang = seconds(*o.RingingAt, *end)
		}
	}
	status := ""
	if o.DialStatus != "" && o.DialStatus != "ANSWER" {
		status = " (" + o.DialStatus + ")"
	}
	var what string
	switch o.Outcome {
	case OutcomeAnswered:
		what = "answered without ringing"
		if o.RingingAt != nil {
			what = fmt.Sprintf("rang %.1f s, answered", rang)
		}
	case OutcomeAnsweredElsewhere:
		what = fmt.Sprintf("rang %.1f s until another operator answered", rang)
	case OutcomeNoAnswer:
		what = fmt.Sprintf("rang %.1f s, not answered%s", rang, status)
	case OutcomeCancelled:
		what = "dialled, but the caller hung up before it rang" + status
		if o.RingingAt != nil {
			what = fmt.Sprintf("rang %.1f s until the caller hung up%s", rang, status)
		}
	case OutcomeBusy:
		what = "busy" + status
	case OutcomeFailed:
		what = "could not be reached" + status
	case OutcomeRinging:
		what = "dialled, not ringing yet"
		if o.RingingAt != nil {
			what = "ringing"
		}
	}
	return t.operatorWords(o.Channel) + "; " + what
}

// statusWords says why the call got its status.
func statusWords(r *Call) string {
	var rang, dialled []string // operators whose phones rang and stopped unanswered; dial statuses
	var busyOrFailed []string
	for i := range r.Offers {
		o := &r.Offers[i]
		switch {
		case o.Outcome == OutcomeBusy || o.Outcome == OutcomeFailed:
			busyOrFailed = append(busyOrFailed, strings.TrimSpace(o.Operator+" "+o.DialStatus))
		case !o.Rang():
		case o.Outcome == OutcomeCancelled:
			if !slices.Contains(rang, o.Operator) {
				rang = append(rang, o.Operator)
			}
		case o.Outcome == OutcomeNoAnswer && o.DialStatus != "" && !slices.Contains(dialled, o.DialStatus):
			dialled = append(dialled, o.DialStatus)
		}
	}
	switch r.Status {
	case StatusAnswered:
		by := ""
		if r.AnsweredBy != nil {
			by = *r.AnsweredBy
		}
		s := "answered: " + by + " answered"
		if r.RingSeconds > 0 {
			s += fmt.Sprintf(" after ringing %.1f s", r.RingSeconds)
		}
		if len(r.TalkedTo) > 1 {
			s += ", then the caller was put through to " + strings.Join(r.TalkedTo[1:], ", then ")
		}
		return s
	case StatusMissed:
		if len(dialled) == 0 {
			return fmt.Sprintf("missed: phones rang %.1f s and stopped ringing before the caller hung up", r.RingSeconds)
		}
		return fmt.Sprintf("missed: phones rang %.1f s and Dial ended %s before the caller hung up", r.RingSeconds, strings.Join(dialled, ", "))
	case StatusAbandoned:
		switch {
		case len(rang) > 0:
			return fmt.Sprintf("abandoned: the caller hung up while %s rang, after waiting %.1f s", strings.Join(rang, " and "), r.WaitSeconds)
		case len(r.Offers) > 0:
			return fmt.Sprintf("abandoned: phones were dialled but none rang before the caller hung up, after waiting %.1f s", r.WaitSeconds)
		}
		return fmt.Sprintf("abandoned: no operator's phone was dialled before the call ended after %.1f s: the caller hung up while waiting (in a queue, an IVR) or the dialplan sent them away", r.WaitSeconds)
	case StatusBusy:
		return "busy: every operator's phone dialled was busy (" + strings.Join(busyOrFailed, ", ") + ") and none rang"
	case StatusFailed:
		return "failed: no operator's phone could be reached (" + strings.Join(busyOrFailed, ", ") + ")"
	}
	return string(r.Status)
}

func (t *Tracker) classifyOutbound(c *call, r *Call) []string {
	o := c.out
	name := c.opener.ch.Name
	number := c.rec.Caller
	if e := c.number.E164; e != "" && e != number {
		number += " (" + e + ")"
	}
	words := []string{
		fmt.Sprintf("outbound: operator %s's phone, channel %s, dialled %s in outbound context %s", o.operator, name, number, c.openContext),
		t.operatorWords(name),
	}
	if r == nil {
		return words
	}
	switch r.Status {
	case StatusAnswered:
		s := "answered: the client picked up"
		if r.RingSeconds > 0 {
			s += fmt.Sprintf(" after ringing %.1f s", r.RingSeconds)
		}
		words = append(words, s)
	case StatusMissed:
		words = append(words, fmt.Sprintf("missed: the client's phone rang %.1f s and nobody picked up", r.RingSeconds))
	case StatusBusy:
		words = append(words, "busy: the client's number was busy")
	case StatusFailed:
		words = append(words, "failed: the client's number could not be reached")
	}
	if r.CloseReason != "" {
		words = append(words, "closed by screenpop: "+r.CloseReason)
	}
	return words
}

// list gives the patterns as configured, comma-separated.
func (ep EndpointPatterns) list() string {
	s := make([]string, len(ep.patterns))
	for i, p := range ep.patterns {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func (p endpointPattern) String() string { return p.prefix + "{ext}" + p.suffix }

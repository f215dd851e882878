package screenpop

import (
	"slices"
	"time"
)

// record decides the call's outcome from its offers.
func (t *Tracker) record(c *call) Call {
	if c.out != nil {
		return t.recordOutbound(c)
	}
	r := c.rec
	r.Offers = make([]Offer, len(c.offers))
	for i, o := range c.offers {
		r.Offers[i] = *o
	}
	// By Asterisk's timestamps, not arrival: ring-all dials arrive in any order.
	slices.SortStableFunc(r.Offers, func(a, b Offer) int { return a.DialedAt.Compare(b.DialedAt) })
	r.DID = t.did(c)
	num := t.caller(c)
	r.Withheld = num.Withheld
	if c.ev.prohibited {
		r.Caller, r.CallerName = t.withheldCaller(c)
	}
	if num.E164 != "" {
		e := num.E164
		r.CallerE164 = &e
	}
	if r.EndedAt.IsZero() {
		r.EndedAt = c.lastEvent
	}
	var firstRing, lastRingEnd time.Time
	r.OfferedTo = []string{}
	for i := range r.Offers {
		o := &r.Offers[i]
		if o.Outcome == OutcomeRinging {
			end := r.EndedAt
			o.EndedAt = &end
			o.Outcome = OutcomeCancelled
		}
		// Asterisk may deliver a CANCEL before the ANSWER it was caused by.
		if o.Outcome == OutcomeCancelled && r.AnsweredAt != nil && !o.EndedAt.Before(*r.AnsweredAt) {
			o.Outcome = OutcomeAnsweredElsewhere
		}
		if !o.Rang() {
			continue
		}
		if !slices.Contains(r.OfferedTo, o.Operator) {
			r.OfferedTo = append(r.OfferedTo, o.Operator)
		}
		start := o.RingingAt
		if start == nil {
			start = o.AnsweredAt
		}
		if firstRing.IsZero() || start.Before(firstRing) {
			firstRing = *start
		}
		if o.EndedAt != nil && o.EndedAt.After(lastRingEnd) {
			lastRingEnd = *o.EndedAt
		}
	}
	if r.TalkedTo == nil {
		r.TalkedTo = []string{}
	}
	if r.AnsweredAt != nil {
		if !firstRing.IsZero() {
			r.RingSeconds = seconds(firstRing, *r.AnsweredAt)
		}
		r.WaitSeconds = seconds(r.StartedAt, *r.AnsweredAt)
		r.TalkSeconds = seconds(*r.AnsweredAt, r.EndedAt)
	} else {
		if !firstRing.IsZero() {
			if lastRingEnd.IsZero() {
				lastRingEnd = r.EndedAt
			}
			r.RingSeconds = seconds(firstRing, lastRingEnd)
		}
		r.WaitSeconds = seconds(r.StartedAt, r.EndedAt)
	}
	r.Status = t.status(c, &r)
	return r
}

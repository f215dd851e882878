package screenpop

import (
	"fmt"
	"slices"
	"time"
)

func (t *Tracker) destroyed(ch Channel, cause int, causeText string, at time.Time, reason string) {
	l := t.legs[ch.ID]
	if l == nil {
		if o := t.originating[ch.ID]; o != nil && o.answered {
			delete(t.originating, ch.ID) // picked up, and hung up without calling
		} else if o != nil {
			t.originateFailed(ch, o, "", cause, causeText, at)
		}
		if localHalf(ch.Name) != 0 {
			p := localPair(ch.Name)
			t.orphans[p] = slices.DeleteFunc(t.orphans[p], func(o orphan) bool { return o.ch.ID == ch.ID })
			if len(t.orphans[p]) == 0 {
				delete(t.orphans, p)
			}
		}
		return
	}
	if !l.alive {
		return
	}
	l.alive = false
	c := l.call
	c.lastEvent = at
	if o := l.offer; o != nil {
		if o.EndedAt == nil {
			end := at
			o.EndedAt = &end
		}
		if o.Outcome == OutcomeCancelled && cause == 26 && !c.ended && !c.hangupAsked {
			// Cancelled, then hung up as answered elsewhere, the caller
			// still there: app_dial hangs the other phones up so
			// (hanguptree) before it publishes the answer. (A caller who
			// hangs up first asked for it: Dial's c option gives those
			// phones cause 26 too.)
			o.Outcome = OutcomeAnsweredElsewhere
			t.offerEnded(c, o)
		}
		if o.Outcome == OutcomeRinging {
			if l.ringAcross {
				// It rang across a resync and no Dial said how it
				// ended: that Dial may have been among the events lost
				// (Asterisk sends one for every phone it dials).
				addGap(c, GapOffers)
			}
			switch {
			case c.rec.AnsweredBy != nil || cause == 26 && (!c.hangupAsked || t.answering(c, l)):
				// Cause 26 once the caller asked to hang up is Dial's c
				// option (the cancel is told as answered elsewhere), not
				// an answer, unless another phone is up and its ANSWER
				// still to come.
				o.Outcome = OutcomeAnsweredElsewhere
			case cause == 17:
				o.Outcome = OutcomeBusy
			case !o.Rang() && unreachableCause(cause):
				o.Outcome = OutcomeFailed
			case c.hangupAsked:
				o.Outcome = OutcomeCancelled
			default:
				o.Outcome = OutcomeNoAnswer
			}
			t.offerEnded(c, o)
		}
	}
	if !l.origin || c.ended {
		return
	}
	c.originAlive--
	if l == c.primary || c.rec.HangupCause == 0 {
		c.rec.HangupCause, c.rec.HangupCauseText = cause, causeText
	}
	if c.originAlive > 0 {
		return
	}
	c.ended = true
	c.rec.EndedAt = at
	c.rec.CloseReason = reason
	if reason != "" {
		addGap(c, GapEnd) // the tracker closed it: its end was not seen
	}
	t.ending = append(t.ending, c)
	t.cont.urgent = true // saved with the linger ahead of it: a crash now loses nothing
}

// forceEnd ends a call whose end was not seen, as of at.
func (t *Tracker) forceEnd(c *call, reason string, at time.Time) {
	if c.ended {
		return
	}
	t.settlePickup(c)
	for _, l := range c.legs {
		if l.alive && !l.origin {
			t.destroyed(l.ch, 0, "", at, reason)
		}
	}
	for _, l := range c.legs {
		if l.alive && l.origin {
			t.destroyed(l.ch, 0, "", at, reason)
		}
	}
	// The loop above queued c on ending; finish() takes it from there.
	t.ending = slices.DeleteFunc(t.ending, func(e *call) bool { return e == c })
}

// sweep closes calls with no event for StaleAfter, and forgets orphans as old.
func (t *Tracker) sweep() {
	limit := t.now.Add(-t.cfg.StaleAfter)
	for _, c := range t.calls {
		if !c.ended && c.lastEvent.Before(limit) {
			t.forceEnd(c, fmt.Sprintf(CloseStale, t.cfg.StaleAfter), c.lastEvent)
			t.finish(c)
		}
	}
	for id, o := range t.originating {
		// A failure is kept a minute for late events; a ringing phone as
		// long as a call.
		if o.failed && o.seen.Before(t.now.Add(-sweepEvery)) || o.seen.Before(limit) {
			delete(t.originating, id)
		}
	}
	for p, os := range t.orphans {
		os = slices.DeleteFunc(os, func(o orphan) bool { return o.seen.Before(limit) })
		if len(os) == 0 {
			delete(t.orphans, p)
		} else {
			t.orphans[p] = os
		}
	}
}

// finish builds the call's record, hands it to the call log, and forgets
// the call.
func (t *Tracker) finish(c *call) {
	if _, open := t.calls[c.rec.ID]; !open || t.calls[c.rec.ID] != c {
		return
	}
	delete(t.calls, c.rec.ID)
	for _, l := range c.legs {
		delete(t.legs, l.ch.ID)
		if l.ch.LinkedID != "" && t.linked[l.ch.LinkedID] == c {
			delete(t.linked, l.ch.LinkedID)
		}
		if localHalf(l.ch.Name) != 0 && t.pairs[localPair(l.ch.Name)] == c {
			delete(t.pairs, localPair(l.ch.Name))
		}
	}
	t.ending = slices.DeleteFunc(t.ending, func(e *call) bool { return e == c })
	t.unseenPhoneEnds(c)
	rec := t.record(c)
	rec.Classification = t.classify(c, &rec)
	t.keepRecent(rec)
	t.handOver(rec)
	n := t.notice(c, NoticeEnded)
	n.Call = &rec
	t.obs.Notice(n)
}

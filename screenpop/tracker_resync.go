package screenpop

import (
	"slices"
	"time"
)

// resync reconciles the tracker with the channels and bridges Asterisk
// has after a (re)connect, or after a restart that restored saved calls.
// What the events missed is rebuilt from them, and each part of a record
// that cannot be known exactly is flagged (Call.Gaps):
//   - a leg gone ended unseen: a call whose last inbound leg is gone ended
//     while the daemon was not listening (GapEnd, and GapAnswer if nobody
//     was seen to answer it, for it may have been answered unseen); a
//     phone gone whose offer had not ended is flagged (GapOffers), and
//     one of an answered call may have transferred it (GapAnswer);
//   - a call not answered when the view was lost, or whose caller their
//     operator had left, may have had phones ring unseen (GapOffers; for
//     the latter GapAnswer too); a phone still ringing may have lost its
//     Dial's end (ringAcross);
//   - an operator's phone of a call that rings now is an offer, and its
//     operator gets the pop; one that is Up, or bridged with the caller,
//     answered the call (GapAnswer: when is not known); a caller's channel
//     Up with no phone known to have answered may have been answered
//     (GapAnswer);
//   - a call first seen now starts at its inbound channel's creation time
//     (GapStart, GapOffers, and GapCaller if it has a caller name).
//
// Wait and talk are never measured from the resync without one of these.
func (t *Tracker) resync(channels []Channel, bridges map[string][]string, at time.Time) {
	t.cont.batch = true
	counts := ResyncCounts{Channels: len(channels)}
	restoredAt := t.cont.restoredAt
	defer func() {
		t.cont.batch = false
		t.cont.urgent = true
		for _, c := range t.calls {
			if !c.ended {
				counts.Open++
			}
		}
		if t.Resynced != nil {
			t.Resynced(counts)
		}
		t.unseenUntil(at, restoredAt, counts)
	}()
	reason, endAt := CloseDisconnected, at
	if !t.cont.restoredAt.IsZero() {
		// The first resync after a restart: the calls restored were last
		// known in progress when the state was saved.
		reason, endAt = CloseDaemonDown, t.cont.restoredAt
		t.cont.restoredAt = time.Time{}
	}
	present := make(map[string]Channel, len(channels))
	for _, ch := range channels {
		present[ch.ID] = ch
	}
	open := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		if !c.ended {
			open = append(open, c)
		}
	}
	slices.SortFunc(open, func(a, b *call) int { return a.rec.StartedAt.Compare(b.rec.StartedAt) })
	for _, c := range open {
		t.legsGone(c, present, reason, endAt)
		if c.ended {
			counts.Ended++
		}
	}
	// A call whose end was seen and that waits out its linger keeps the
	// legs Asterisk no longer has: an event the drop hid may still come
	// (it was sent before the channel list was taken); if none does, the
	// call is recorded with those phones' ends flagged (unseenPhoneEnds).
	t.forgetGone(present)
	t.rebuildBridges(present, bridges)

	// Channels we do not know: calls first, oldest first so a call's first
	// channel names it; then the channels that belong to them.
	sorted := slices.Clone(channels)
	slices.SortStableFunc(sorted, func(a, b Channel) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, ch := range sorted {
		if t.legs[ch.ID] != nil || t.callOf(ch) != nil {
			continue
		}
		var c *call
		switch {
		case t.enteredInbound(ch) && !t.child(ch):
			c = t.start(ch, at)
		case t.startOutbound(ch, at):
			c = t.legs[ch.ID].call
		default:
			continue
		}
		c.resynced, c.spanned = true, true
		addGap(c, GapStart)
		addGap(c, GapOffers)
		nameUnseen(c)
		counts.FirstSeen++
	}
	for _, ch := range sorted {
		if l := t.legs[ch.ID]; l != nil {
			t.legFound(l, ch, at)
			continue
		}
		c := t.callOf(ch)
		if c == nil {
			c = t.bridgedWith(ch)
		}
		if c == nil || c.ended {
			continue
		}
		l := t.join(c, ch, c.out == nil && t.enteredInbound(ch), at)
		if !l.origin {
			t.phoneFound(c, l, at)
		}
	}
	for _, c := range t.calls {
		t.answerUnseen(c, present)
	}
}

// answerUnseen flags the answer of an inbound call that no phone is known
// to have answered while its caller's channel is Up: a phone may have
// answered it, and hung up, while the events were missed (Asterisk
// answers the caller's channel when a phone answers it). A caller whose
// channels are not Up was answered by nobody.
func (t *Tracker) answerUnseen(c *call, present map[string]Channel) {
	if c.ended || c.out != nil || c.rec.AnsweredAt != nil {
		return
	}
	for _, l := range c.legs {
		if _, ok := present[l.ch.ID]; ok && l.alive && l.origin && l.ch.State == "Up" {
			addGap(c, GapAnswer)
			return
		}
	}
}

// enteredInbound reports whether ch entered the dialplan in an inbound
// context, as the events would have shown at its creation (entryOf). The
// caller's half of a Local pair that brought a call in has moved on (to
// caller,wait) by the time a resync lists it, but it was the call's first
// leg.
func (t *Tracker) enteredInbound(ch Channel) bool {
	_, ok := t.entryOf(ch)
	return ok
}

// ResyncCounts is what a resync found: Asterisk's channels, the calls in
// progress that had ended while the daemon was not listening, those it
// saw for the first time, and the calls in progress after it.
type ResyncCounts struct {
	Channels, Ended, FirstSeen, Open int
}

// legsGone ends the legs of c that Asterisk no longer has: they ended
// while the daemon was not listening.
func (t *Tracker) legsGone(c *call, present map[string]Channel, reason string, at time.Time) {
	answered := c.rec.AnsweredAt != nil // an outbound call's AnsweredBy is who placed it
	if c.out == nil && !answered {
		// Phones may have rung and stopped unseen.
		addGap(c, GapOffers)
	}
	ends := false
	for _, l := range c.legs {
		if _, ok := present[l.ch.ID]; l.alive && l.origin {
			ends = !ok
			if ok {
				break
			}
		}
	}
	if ends {
		// Flagged before the end is, so the record handed over says so.
		addGap(c, GapEnd)
		if c.out == nil && c.rec.Caller == "" {
			addGap(c, GapCaller) // the event that would have named the caller was lost
		}
		if !answered {
			// It may have been answered unseen: by a phone that rang
			// then, or one dialled after.
			addGap(c, GapAnswer)
		}
	}
	if c.out == nil && answered && !t.phoneUp(c) {
		// The caller was left alone when the view was lost: their
		// operator had hung up, and the dialplan goes on (a blind
		// transfer dials the next phone). Phones may have rung, answered
		// and hung up unseen.
		addGap(c, GapOffers)
		addGap(c, GapAnswer)
	}
	c.spanned = true
	for _, origin := range []bool{false, true} {
		for _, l := range c.legs {
			_, ok := present[l.ch.ID]
			if l.alive && ok && l.offer != nil && l.offer.Outcome == OutcomeRinging {
				l.ringAcross = true
			}
			if !l.alive || ok || l.origin != origin {
				continue
			}
			if o := l.offer; o != nil && (o.Outcome == OutcomeRinging || o.EndedAt == nil) {
				// How its ringing ended is not known, or, for a phone that
				// answered, when it hung up: it is ended at the resync.
				addGap(c, GapOffers)
			}
			if !origin && answered && t.cfg.Operators.Operator(l.ch.Name) != "" {
				// An operator's phone of an answered call hung up
				// unseen: it may have transferred the caller, and who
				// talked to them since is not known.
				addGap(c, GapAnswer)
			}
			t.destroyed(l.ch, 0, "", at, reason)
		}
	}
}

// phoneUp reports whether an operator's phone of c was still up as last
// seen.
func (t *Tracker) phoneUp(c *call) bool {
	for _, l := range c.legs {
		if l.alive && !l.origin && t.cfg.Operators.Operator(l.ch.Name) != "" {
			return true
		}
	}
	return false
}

// forgetGone drops the orphans and originates whose channels are gone:
// how they ended is not known, and they are no call yet.
func (t *Tracker) forgetGone(present map[string]Channel) {
	for p, os := range t.orphans {
		os = slices.DeleteFunc(os, func(o orphan) bool { _, ok := present[o.ch.ID]; return !ok })
		if len(os) == 0 {
			delete(t.orphans, p)
		} else {
			t.orphans[p] = os
		}
	}
	for id := range t.originating {
		if _, ok := present[id]; !ok {
			delete(t.originating, id)
		}
	}
}

// rebuildBridges replaces the bridges the events built with those
// Asterisk has now; without a bridge list, the known ones keep their
// members that are still there.
func (t *Tracker) rebuildBridges(present map[string]Channel, bridges map[string][]string) {
	if bridges == nil {
		for id, m := range t.bridges {
			for ch := range m {
				if _, ok := present[ch]; !ok {
					delete(m, ch)
				}
			}
			if len(m) == 0 {
				delete(t.bridges, id)
			}
		}
		return
	}
	t.bridges = make(map[string]map[string]Channel, len(bridges))
	for id, members := range bridges {
		m := make(map[string]Channel, len(members))
		for _, ch := range members {
			if c, ok := present[ch]; ok {
				m[ch] = c
			}
		}
		if len(m) > 0 {
			t.bridges[id] = m
		}
	}
}

// bridgedWith is the open call one of whose origin legs shares a bridge
// with ch, or nil: how a phone that answered unseen is tied to its call
// when the channels carry no linked ID.
func (t *Tracker) bridgedWith(ch Channel) *call {
	for _, m := range t.bridges {
		if _, ok := m[ch.ID]; !ok {
			continue
		}
		for id := range m {
			if l := t.legs[id]; l != nil && l.origin && !l.call.ended {
				return l.call
			}
		}
	}
	return nil
}

// legFound brings a leg the tracker knew up to what Asterisk shows now
// (ch): a dialled phone that rings is told to its operator, one that is
// Up answered the call while the events were missed; a phone whose dial
// was missed is found as phoneFound finds a new one.
func (t *Tracker) legFound(l *leg, ch Channel, at time.Time) {
	o, c := l.offer, l.call
	if o == nil && !l.origin && l.how == legDialled && c.out == nil && !c.ended &&
		(ch.State == "Ringing" || ch.State == "Ring" || phoneAnswered(ch, t.bridges)) {
		// A phone known by its linked ID whose Dial the drop hid (a
		// queue's first member rings before it is dialled): it is found
		// as if it were new, so that it becomes an offer and pops.
		l.ch = keepCreated(ch, l.ch)
		t.phoneFound(c, l, at)
		return
	}
	if c.out != nil && !l.origin && ch.State == "Up" && c.rec.AnsweredAt == nil && !c.ended {
		// The client answered an outbound call unseen: when is not known.
		addGap(c, GapAnswer)
		t.dialClient(c, Event{DialStatus: "ANSWER", At: at})
	}
	if o != nil && o.Outcome == OutcomeRinging && o.RingingAt == nil && ch.State == "Ringing" && !c.ended {
		addGap(c, GapOffers) // it began ringing unseen: since when is not known
	}
	t.updated(ch, at) // rings it
	if o == nil || o.Outcome != OutcomeRinging || c.ended || !phoneAnswered(l.ch, t.bridges) {
		return
	}
	addGap(c, GapAnswer)
	addGap(c, GapOffers) // its ringing, if any, was not seen to end
	t.answered(l, at)
}

// phoneFound makes a channel of c that the tracker did not know, found
// at a resync, an offer if it is an operator's phone that rings, or the
// operator who answered if it is Up.
func (t *Tracker) phoneFound(c *call, l *leg, at time.Time) {
	ch := l.ch
	if localHalf(ch.Name) == 2 {
		return // the phone's own half: the ;1 half is the one dialled
	}
	if c.out != nil {
		if !c.resynced || ch.State != "Up" || c.rec.AnsweredAt != nil {
			return
		}
		// The client answered before we were listening: when is not known.
		addGap(c, GapAnswer)
		t.dialClient(c, Event{DialStatus: "ANSWER", At: at})
		return
	}
	op := t.cfg.Operators.Operator(ch.Name)
	if op == "" {
		return
	}
	addGap(c, GapOffers)
	switch {
	case phoneAnswered(ch, t.bridges):
		addGap(c, GapAnswer)
		if c.rec.AnsweredBy == nil && !c.resynced {
			// Dialled and answered unseen: an offer of the call.
			l.offer = &Offer{Operator: op, Channel: ch.Name, DialedAt: ch.CreatedAt, Outcome: OutcomeRinging}
			c.offers = append(c.offers, l.offer)
			t.answered(l, at)
			return
		}
		l.how = legResynced
		t.talkedTo(c, op, at)
	case ch.State == "Ringing" || ch.State == "Ring":
		l.offer = &Offer{Operator: op, Channel: ch.Name, DialedAt: ch.CreatedAt, Outcome: OutcomeRinging}
		c.offers = append(c.offers, l.offer)
		t.announce(c)
		t.ringing(l, at)
	}
}

// phoneAnswered reports whether an operator's phone has answered: it is
// Up, or it is in a bridge (with the caller: the bridges kept are those
// of our calls' channels).
func phoneAnswered(ch Channel, bridges map[string]map[string]Channel) bool {
	if ch.State == "Up" {
		return true
	}
	for _, m := range bridges {
		if _, ok := m[ch.ID]; ok && len(m) > 1 {
			return true
		}
	}
	return false
}

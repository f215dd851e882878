package screenpop

import "time"

func (t *Tracker) dial(ev Event) {
	if ev.Channel.ID == "" && t.legs[ev.Peer.ID] == nil {
		t.originateDial(ev)
		return
	}
	if ev.Channel.ID != "" && t.legs[ev.Channel.ID] == nil {
		switch {
		case t.isInbound(ev.Channel) && !t.child(ev.Channel):
			// The caller's ChannelCreated is late: its snapshot is in the Dial.
			t.created(ev.Channel, ev.At)
			t.openedMidDial(ev)
		case t.callOf(ev.Channel) == nil:
			// An originated phone is sent to the outbound context when it
			// answers; its first event there may be its dial of the client.
			t.startOutbound(ev.Channel, ev.At)
		}
	}
	peer := t.legs[ev.Peer.ID]
	if peer == nil {
		caller := t.legs[ev.Channel.ID]
		if caller == nil || caller.call.ended {
			return
		}
		peer = t.join(caller.call, ev.Peer, false, ev.At)
	} else {
		peer.ch = keepCreated(ev.Peer, peer.ch)
	}
	c := peer.call
	c.lastEvent = ev.At
	if c.out != nil {
		if caller := t.legs[ev.Channel.ID]; caller != nil && caller.call == c && caller != peer {
			t.dialClient(c, ev)
		}
		return
	}
	if peer.offer == nil {
		// Only a dial from one of the call's legs offers the call; the
		// peer may already be a leg through its linked ID.
		if t.legs[ev.Channel.ID] == nil || t.legs[ev.Channel.ID].call != c {
			return
		}
		op := t.cfg.Operators.Operator(ev.Peer.Name)
		if op == "" {
			peer.how = legNoOperator
			return
		}
		peer.offer = &Offer{Operator: op, Channel: ev.Peer.Name, DialedAt: ev.At, Outcome: OutcomeRinging}
		c.offers = append(c.offers, peer.offer)
		if ev.DialStatus != "" && c.spanned {
			// Past its begin: the Dial's begin, and so when the phone
			// was dialled, was lost with events of the call.
			addGap(c, GapOffers)
		}
		t.announce(c)
	}
	o := peer.offer
	switch ev.DialStatus {
	case "", "PROGRESS":
	case "RINGING":
		t.ringing(peer, ev.At)
	case "ANSWER":
		t.answered(peer, ev.At)
	default:
		if o.Outcome != OutcomeRinging {
			return // CANCEL comes twice; the first word stands
		}
		o.DialStatus = ev.DialStatus
		at := ev.At
		o.EndedAt = &at
		switch ev.DialStatus {
		case "BUSY":
			o.Outcome = OutcomeBusy
		case "NOANSWER":
			o.Outcome = OutcomeNoAnswer
		case "CANCEL":
			o.Outcome = OutcomeCancelled
			if c.rec.AnsweredBy != nil || t.answering(c, peer) {
				o.Outcome = OutcomeAnsweredElsewhere
			}
		default: // CONGESTION, CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS
			o.Outcome = OutcomeFailed
		}
		t.offerEnded(c, o)
	}
}

// answering reports whether a phone of c other than except has answered
// at the phone (its channel is Up) while its Dial's ANSWER is still to
// come. app_dial cancels the other phones the moment one answers, and
// publishes that one's ANSWER only after the Dial's options ran (an
// announcement to the operator, a pre-bridge subroutine: milliseconds to
// seconds later; apps/app_dial.c wait_for_answer, then dial_exec_full).
func (t *Tracker) answering(c *call, except *leg) bool {
	for _, l := range c.legs {
		if l != except && l.alive && !l.origin && l.offer != nil && l.offer.Outcome == OutcomeRinging && l.ch.State == "Up" {
			return true
		}
	}
	return false
}

// openedMidDial flags a call that a Dial past its begin (ringing, or its
// end) has just opened: the Dial's begin was not seen, so neither was
// what came before it. That is a call whose caller was created while the
// view was lost (an ARI drop, a restart) and that ended before the
// reconnect's channel list, so that no resync has it: the events read
// between the websocket's connect and that list come after the resync
// and name it first. Its start and end are the channels' own times, but
// its offers (this phone's dial and ringing, any phone before) are not
// known, nor whether a phone answered it unseen, unless this Dial is the
// answer.
func (t *Tracker) openedMidDial(ev Event) {
	l := t.legs[ev.Channel.ID]
	if l == nil || l.call.opener != l || len(l.call.offers) > 0 {
		return // not the call this Dial opened
	}
	if ev.DialStatus == "" {
		// The Dial's begin: the offers are seen from here, unless the
		// caller was created before the last resync and is first heard of
		// now: it lived while the view was lost, and may have been
		// offered to phones then.
		if created := ev.Channel.CreatedAt; !t.unseen.resynced.IsZero() && !created.IsZero() && !created.After(t.unseen.resynced) {
			addGap(l.call, GapOffers)
			nameUnseen(l.call)
		}
		return
	}
	addGap(l.call, GapOffers)
	nameUnseen(l.call)
	switch ev.DialStatus {
	case "RINGING", "PROGRESS", "ANSWER":
	default:
		addGap(l.call, GapAnswer)
	}
}

// nameUnseen flags the caller of a call whose beginning was not seen
// when its first channel seen has a caller name: the carrier's name
// comes with the call, a name set after (by screenpop in Stasis mode, or
// the dialplan) is not the carrier's, and which one this is cannot be
// told.
func nameUnseen(c *call) {
	if c.rec.CallerName != "" {
		addGap(c, GapCaller)
	}
}

func (t *Tracker) ringing(l *leg, at time.Time) {
	o := l.offer
	if o.RingingAt != nil || o.Outcome != OutcomeRinging {
		return
	}
	o.RingingAt = &at
	n := t.notice(l.call, NoticeRinging)
	n.Operator = o.Operator
	t.obs.Notice(n)
	if t.RingNotified != nil {
		t.RingNotified(time.Since(l.call.seen))
	}
}

func (t *Tracker) answered(l *leg, at time.Time) {
	o, c := l.offer, l.call
	if o.AnsweredAt != nil {
		return
	}
	o.AnsweredAt = &at
	o.Outcome = OutcomeAnswered
	o.DialStatus = "ANSWER"
	t.talkedTo(c, o.Operator, at)
}

// talkedTo records that the caller was connected to operator.
func (t *Tracker) talkedTo(c *call, operator string, at time.Time) {
	first := c.rec.AnsweredBy == nil
	if first {
		op := operator
		c.rec.AnsweredBy = &op
		c.rec.AnsweredAt = &at
	}
	var from string
	if n := len(c.rec.TalkedTo); n > 0 {
		if from = c.rec.TalkedTo[n-1]; from == operator {
			return
		}
	}
	c.rec.TalkedTo = append(c.rec.TalkedTo, operator)
	n := t.notice(c, NoticeAnswered)
	n.Operator, n.From = operator, from
	t.obs.Notice(n)
}

func (t *Tracker) offerEnded(c *call, o *Offer) {
	n := t.notice(c, NoticeOfferEnded)
	n.Operator, n.Outcome = o.Operator, o.Outcome
	t.obs.Notice(n)
}

// bridgeEntered notices operators who join the caller in a bridge without
// being dialled by the call: the target of an attended transfer.
func (t *Tracker) bridgeEntered(ch Channel, bridge string, at time.Time) {
	m := t.bridges[bridge]
	if m == nil {
		m = map[string]Channel{}
		t.bridges[bridge] = m
	}
	m[ch.ID] = ch
	var c *call
	for id := range m {
		if l := t.legs[id]; l != nil && l.origin && !l.call.ended {
			c = l.call
			break
		}
	}
	if c == nil {
		return
	}
	for id, member := range m {
		l := t.legs[id]
		if l != nil && l.call != c {
			continue
		}
		if l == nil {
			t.bridgedOperator(c, member, at)
		}
	}
}

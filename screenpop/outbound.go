package screenpop

import (
	"cmp"
	"time"
)

// Outbound calls: an operator calling a client, from their phone or by
// click-to-dial. The tracker starts one when an operator's phone that is
// no call's leg shows itself in an outbound context at a phone number, and
// follows the originates that ring operators' phones for click-to-dial
// until they answer, to tell when one does not.

// originating is an operator's phone that Asterisk rings for an
// originate, before it is any call's leg.
type originating struct {
	operator string
	seen     time.Time
	// answered: the phone picked up, and Asterisk is sending it to the
	// extension; its outbound call starts when it shows itself there.
	answered bool
	failed   bool // NoticeCalloutFailed sent; kept a while so a late event does not send another
}

// dialOut is how an outbound call's dial of the client goes; nil for an
// inbound call.
type dialOut struct {
	operator string
	// ringingAt is when the client's phone started ringing (or the network
	// reported progress); ringEnd when a dial ended unanswered.
	ringingAt, ringEnd time.Time
	rang, busy         bool
}

// startOutbound opens an outbound call if ch, which is no call's leg, is
// an operator's phone calling a client, and reports whether it did.
func (t *Tracker) startOutbound(ch Channel, at time.Time) bool {
	// A Local channel's ;2 half runs someone else's dial; a channel linked
	// to another is a leg of another call, not the start of one.
	if !t.outbound[ch.Context] || localHalf(ch.Name) == 2 || ch.LinkedID != "" && ch.LinkedID != ch.ID {
		return false
	}
	op := t.cfg.Operators.Operator(ch.Name)
	if op == "" {
		return false
	}
	num, ok := dialledNumber(ch.Exten, t.cfg.Region)
	if !ok {
		return false // an internal call, a feature code, "s"
	}
	if ch.CreatedAt.IsZero() {
		ch.CreatedAt = at
	}
	delete(t.originating, ch.ID)
	c := t.open(ch, at, &dialOut{operator: op})
	c.rec.Caller, c.number = ch.Exten, num
	return true
}

// originated reports whether ch is a leg of a call that an originate
// placed from an operator's phone: a click-to-dial call about to show
// itself. Such a leg (the client's, on a trunk whose context is an inbound
// one) is not an inbound call.
func (t *Tracker) originated(ch Channel) bool {
	o := t.originating[ch.LinkedID]
	return ch.LinkedID != ch.ID && o != nil && o.answered
}

// dialledNumber reads a dialplan extension as a client's phone number:
// digits (and a leading +), at least 7 of them. Shorter ones are
// extensions and service numbers, as for callers.
func dialledNumber(exten, region string) (Number, bool) {
	digits := 0
	for i, r := range exten {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		default:
			return Number{}, false
		}
	}
	if digits < 7 {
		return Number{}, false
	}
	return ParseNumber(exten, region), true
}

// dialClient applies a Dial of an outbound call: the operator's phone
// dialling the client.
func (t *Tracker) dialClient(c *call, ev Event) {
	o := c.out
	switch ev.DialStatus {
	case "":
	case "RINGING", "PROGRESS":
		// Carriers often send progress with early media instead of ringing.
		o.rang = true
		if o.ringingAt.IsZero() || ev.At.Before(o.ringingAt) {
			o.ringingAt = ev.At
		}
	case "ANSWER":
		if c.rec.AnsweredAt == nil {
			at := ev.At
			c.rec.AnsweredAt = &at
			c.rec.TalkedTo = append(c.rec.TalkedTo, o.operator)
		}
	default:
		switch ev.DialStatus {
		case "NOANSWER":
			o.rang = true // the dial timed out: the client did not pick up
		case "BUSY":
			o.busy = true
		}
		if o.ringEnd.IsZero() {
			o.ringEnd = ev.At
		}
	}
}

// originateDial follows Asterisk ringing an operator's phone for an
// originate (click-to-dial): if the phone does not answer, whoever placed
// the call is told why.
func (t *Tracker) originateDial(ev Event) {
	id := ev.Peer.ID
	op := t.cfg.Operators.Operator(ev.Peer.Name)
	if op == "" || localHalf(ev.Peer.Name) == 2 {
		return
	}
	o := t.originating[id]
	if o == nil {
		o = &originating{operator: op, seen: ev.At}
		t.originating[id] = o
	}
	switch ev.DialStatus {
	case "", "PROGRESS", "RINGING":
	case "ANSWER":
		o.answered = true
	default:
		t.originateFailed(ev.Peer, o, ev.DialStatus, 0, "", ev.At)
	}
}

// originateFailed tells observers, once, that an originate never reached
// the operator.
func (t *Tracker) originateFailed(ch Channel, o *originating, dialStatus string, cause int, causeText string, at time.Time) {
	if o.failed || o.answered {
		return
	}
	o.failed, o.seen = true, at
	t.obs.Notice(Notice{Kind: NoticeCalloutFailed, At: at, CallID: cmp.Or(ch.LinkedID, ch.ID), ChannelID: ch.ID,
		Operator: o.operator, DialStatus: dialStatus, Cause: cause, CauseText: causeText})
}

// recordOutbound decides an outbound call's outcome from its dials of the
// client.
func (t *Tracker) recordOutbound(c *call) Call {
	r, o := c.rec, c.out
	r.Offers, r.OfferedTo = []Offer{}, []string{}
	if r.TalkedTo == nil {
		r.TalkedTo = []string{}
	}
	if e := c.number.E164; e != "" {
		r.CallerE164 = &e
	}
	if r.EndedAt.IsZero() {
		r.EndedAt = c.lastEvent
	}
	switch {
	case r.AnsweredAt != nil:
		r.Status = StatusAnswered
	case o.rang:
		r.Status = StatusMissed
	case o.busy:
		r.Status = StatusBusy
	default:
		r.Status = StatusFailed
	}
	if r.AnsweredAt != nil {
		if !o.ringingAt.IsZero() {
			r.RingSeconds = seconds(o.ringingAt, *r.AnsweredAt)
		}
		r.WaitSeconds = seconds(r.StartedAt, *r.AnsweredAt)
		r.TalkSeconds = seconds(*r.AnsweredAt, r.EndedAt)
		return r
	}
	if !o.ringingAt.IsZero() {
		end := o.ringEnd
		if end.IsZero() || end.Before(o.ringingAt) {
			end = r.EndedAt
		}
		r.RingSeconds = seconds(o.ringingAt, end)
	}
	r.WaitSeconds = seconds(r.StartedAt, r.EndedAt)
	return r
}

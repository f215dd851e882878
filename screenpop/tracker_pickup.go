package screenpop

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Call pickup. An operator answers, from their own phone, a call ringing
// on a colleague's: by group pickup (*8, Pickup()) or directed pickup
// (BLF, **103, Pickup(103@...), PickupChan(PJSIP/103)). Asterisk answers
// the picker's channel and masquerades it into the ringing channel's
// place in the Dial (or Queue). In ARI the two channel IDs keep their
// names; what the call's events show (ari/arisim/pickup.go follows each
// step in Asterisk 22's source) is, from the dialling channel:
//
//  1. Dial CANCEL for the ringing channel (103's), with its dialstring,
//     and a snapshot that is no longer the dialled channel's: the
//     picker's dialplan position (*8, **103) and creation time;
//  2. at once, Dial begin for the picker's channel (104's), with the same
//     dialstring: the Dial now holds it;
//  3. Dial CANCEL for any other phone the Dial rang, then Dial ANSWER for
//     the picker's channel, which is bridged with the caller.
//
// 103's channel is destroyed (cause 16 or 26) as a channel of no one.
//
// The tracker reads 1 as a possible pickup when the CANCEL's snapshot
// shows the channel moved (another dialplan position or creation time)
// and nobody has answered nor has the caller asked to hang up: it does
// not end the offer yet, so that 103's pop is not shown as missed. 2
// confirms it: 103's offer ends answered_elsewhere (a colleague took it,
// as when another phone of a ring-all answers), and 104's channel, now
// dialled by the call, gets an offer of its own, answered by 3. The
// record says answered_by 104, offers 103 answered_elsewhere and 104
// answered (without ringing), ring time from 103's ringing to the pickup;
// 104's page gets the call as answered, 103's pop is withdrawn as taken.
// If the next Dial event from that channel is anything else, the CANCEL
// is what it said; a pickup whose CANCEL did not look moved is still
// recognised by 2, and 103's offer corrected. A ring group's phone is
// dialled by a Local channel's ;2 half: the pickup is in that inner Dial,
// and the ANSWER of the Local channel's ;1 that follows in the call's own
// Dial is the picker's, not a second answer.
//
// A known limit: a pickup by a phone that matches no operator pattern
// answers for no operator (as any Dial answered by such a phone does): the
// record has no answered_by; the classification names the channel.

// pickupCandidate is a Dial CANCEL that may be a pickup's, until the
// dialling channel's next Dial event says.
type pickupCandidate struct {
	offer      *Offer
	caller     string // the dialling channel's ID
	dialstring string
	at         time.Time
	// held: the offer's end is not told yet (the CANCEL looked like a
	// masquerade's).
	held bool
}

// pickupRecord is one pickup, for the classification.
type pickupRecord struct {
	from    string // the operator whose phone rang
	by      string // the operator who picked up, "" if no operator's phone
	channel string // the picker's channel
	// pair is the Local pair whose ;2 half dialled the phone picked up
	// (a ring group's), "" if the call's own channel did.
	pair string
}

// pickupDial reads a Dial event for a pickup, before dial does. It
// reports whether it took the event: a CANCEL held as a pickup's, or a
// phone Dial cancels as it takes the picker's answer, which dial then
// must not read.
func (t *Tracker) pickupDial(ev Event) bool {
	l := t.legs[ev.Channel.ID]
	if ev.Channel.ID == "" || l == nil || l.call.ended || l.call.out != nil {
		return false
	}
	c := l.call
	if cand := c.pickup; cand != nil && cand.caller == ev.Channel.ID {
		c.pickup = nil
		switch {
		case ev.DialStatus == "" && ev.DialString == cand.dialstring && t.legs[ev.Peer.ID] == nil && !surrogate(ev.Peer.Name):
			t.pickedUp(c, cand, ev)
		case cand.held:
			// Another phone's ANSWER: that is why Dial cancelled.
			t.cancelled(c, cand.offer, cand.at, ev.DialStatus == "ANSWER")
		}
	}
	if ev.DialStatus == "ANSWER" {
		return t.answeredThroughPickup(c, ev)
	}
	if ev.DialStatus != "CANCEL" || c.hangupAsked {
		return false
	}
	peer := t.legs[ev.Peer.ID]
	if peer == nil || peer.call != c || peer.offer == nil || peer.offer.Outcome != OutcomeRinging || c.rec.AnsweredBy != nil {
		return false
	}
	if t.picking(c) {
		// Dial read the picker's answer and cancels the other phones
		// it rang (app_dial.c publish_dial_end_event): answered
		// elsewhere, though its ANSWER comes after.
		o := peer.offer
		o.Outcome, o.DialStatus = OutcomeAnsweredElsewhere, ev.DialStatus
		at := ev.At
		o.EndedAt = &at
		c.lastEvent = ev.At
		t.offerEnded(c, o)
		return true
	}
	if ev.DialString == "" {
		return false
	}
	held := masqueraded(peer.ch, ev.Peer)
	c.pickup = &pickupCandidate{offer: peer.offer, caller: ev.Channel.ID, dialstring: ev.DialString, at: ev.At, held: held}
	if held {
		c.lastEvent = ev.At
	}
	return held
}

// masqueraded reports whether a channel's new snapshot is of another struct
// than its last: a masquerade moved the channel's ID onto the struct of
// the channel that took its place, whose dialplan position and creation
// time it shows.
func masqueraded(last, now Channel) bool {
	if now.Context != last.Context || now.Exten != last.Exten {
		return true
	}
	return !now.CreatedAt.IsZero() && !last.CreatedAt.IsZero() && !now.CreatedAt.Equal(last.CreatedAt)
}

// surrogate reports whether a channel is one Asterisk made to take a
// channel out of where it was (main/channel.c ast_channel_yank: an AMI
// Redirect or a Bridge() of a channel no dialplan runs). Yanking a ringing
// phone's channel out of a Dial sends the same CANCEL and begin as a
// pickup (main/stasis_channels.c dial_masquerade_fixup), the begin for
// "Surrogate/PJSIP/103-...": nobody picked the call up.
func surrogate(name string) bool { return strings.HasPrefix(name, "Surrogate/") }

// pickedUp ends the offer of the phone picked up: a colleague took the
// call, whose channel the Dial now holds.
func (t *Tracker) pickedUp(c *call, cand *pickupCandidate, ev Event) {
	o := cand.offer
	// A CANCEL that did not look like a pickup's was read as the caller
	// giving up, and told so: it is corrected.
	if o.Outcome == OutcomeRinging || o.Outcome == OutcomeCancelled && o.DialStatus == "CANCEL" {
		o.Outcome, o.DialStatus = OutcomeAnsweredElsewhere, "CANCEL"
		at := cand.at
		o.EndedAt = &at
		t.offerEnded(c, o)
	}
	c.picker = ev.Peer.ID
	rec := pickupRecord{from: o.Operator, by: t.cfg.Operators.Operator(ev.Peer.Name), channel: ev.Peer.Name}
	if localHalf(ev.Channel.Name) == 2 {
		rec.pair = localPair(ev.Channel.Name)
	}
	c.pickups = append(c.pickups, rec)
}

// answeredThroughPickup reads the ANSWER of a Local channel whose other
// half's Dial was picked up (a ring group dialling Local/103@..., whose
// ;2 dials PJSIP/103): when the Local channel is an operator's phone too,
// its answer is the picker's, already counted, and its offer ended
// answered elsewhere. It reports whether it took the event.
func (t *Tracker) answeredThroughPickup(c *call, ev Event) bool {
	peer := t.legs[ev.Peer.ID]
	if peer == nil || peer.call != c || peer.offer == nil || localHalf(ev.Peer.Name) != 1 {
		return false
	}
	pair := localPair(ev.Peer.Name)
	if !slices.ContainsFunc(c.pickups, func(p pickupRecord) bool { return p.pair == pair }) {
		return false
	}
	peer.ch = keepCreated(ev.Peer, peer.ch)
	c.lastEvent = ev.At
	if o := peer.offer; o.Outcome == OutcomeRinging {
		o.Outcome, o.DialStatus = OutcomeAnsweredElsewhere, ev.DialStatus
		at := ev.At
		o.EndedAt = &at
		t.offerEnded(c, o)
	}
	return true
}

// picking reports whether a pickup of the call waits for the Dial to
// take the picker's answer.
func (t *Tracker) picking(c *call) bool {
	l := t.legs[c.picker]
	return c.picker != "" && l != nil && l.call == c && l.alive
}

// cancelled ends an offer as a Dial CANCEL does (dial); elsewhere says
// another phone answered.
func (t *Tracker) cancelled(c *call, o *Offer, at time.Time, elsewhere bool) {
	if o.Outcome != OutcomeRinging {
		return
	}
	o.DialStatus = "CANCEL"
	o.EndedAt = &at
	o.Outcome = OutcomeCancelled
	if elsewhere || c.rec.AnsweredBy != nil {
		o.Outcome = OutcomeAnsweredElsewhere
	}
	t.offerEnded(c, o)
}

// settlePickup ends a held CANCEL as what it said, when the call goes on
// otherwise than by a pickup: the caller hangs up, the call is closed.
func (t *Tracker) settlePickup(c *call) {
	cand := c.pickup
	if cand == nil {
		return
	}
	c.pickup = nil
	if cand.held {
		t.cancelled(c, cand.offer, cand.at, false)
	}
}

// settlePickupOf settles the pickup candidate of the call whose origin
// leg ch is, as it hangs up.
func (t *Tracker) settlePickupOf(ch Channel) {
	if l := t.legs[ch.ID]; l != nil && l.origin && l.call.pickup != nil {
		t.settlePickup(l.call)
	}
}

// pickupWords says who picked the call up from whose phone, for the
// classification.
func pickupWords(c *call) []string {
	words := make([]string, 0, len(c.pickups))
	for _, p := range c.pickups {
		by := "operator " + p.by
		if p.by == "" {
			by = "channel " + p.channel + ", no operator's phone,"
		}
		words = append(words, fmt.Sprintf("pickup: %s picked the call up from operator %s's ringing phone (Asterisk moved the call to %s)", by, p.from, p.channel))
	}
	return words
}

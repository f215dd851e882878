package screenpop

import (
	"strings"
	"time"
)

type orphan struct {
	ch   Channel
	seen time.Time
}

type leg struct {
	ch   Channel
	call *call
	// origin legs are the side that placed the call (an inbound call's
	// legs in inbound contexts, an outbound call's operator phone): the
	// call lasts while one of them is alive.
	origin bool
	alive  bool
	offer  *Offer // this leg is an operator's phone being dialled
	// how an operator's leg that was not dialled came into the call (a
	// transfer, a resync), or that a dialled leg is no operator's phone:
	// for the classification.
	how legHow
	// ringAcross: its offer was still ringing at a resync, so the Dial
	// event that ended the ringing may have been lost before it
	// (destroyed flags the offers if no Dial end comes).
	ringAcross bool
	// entry is where an origin leg entered the dialplan, if in an inbound
	// context: the dialled number when no variable says it (did).
	entry dialplanPlace
}

// dialplanPlace is a context and extension.
type dialplanPlace struct {
	Context string `json:"context"`
	Exten   string `json:"exten"`
}

// entryOf is where ch entered the dialplan, if in an inbound context: its
// place now, or, for a half of a Local channel, the place its name gives
// (Local/exten@context-0000003c;1), where both halves begin.
func (t *Tracker) entryOf(ch Channel) (dialplanPlace, bool) {
	if t.isInbound(ch) {
		return dialplanPlace{ch.Context, ch.Exten}, true
	}
	if localHalf(ch.Name) == 0 {
		// A call's first channel (its own linked ID) that carries the
		// dialled-number variable was given it in an inbound context,
		// which it has left since (a blind transfer sends the caller to
		// another); where is not known.
		return dialplanPlace{}, ch.DID != "" && ch.LinkedID == ch.ID
	}
	pair := localPair(ch.Name)
	at := strings.IndexByte(pair, '@')
	dash := strings.LastIndexByte(pair, '-')
	if at <= 0 || dash <= at || !t.inbound[pair[at+1:dash]] {
		return dialplanPlace{}, false
	}
	return dialplanPlace{pair[at+1 : dash], pair[len("Local/"):at]}, true
}

func (t *Tracker) isInbound(ch Channel) bool { return t.inbound[ch.Context] }

// callOf finds the open call a channel belongs to, by linked ID or by its
// Local pair.
func (t *Tracker) callOf(ch Channel) *call {
	if ch.LinkedID != "" {
		if c := t.linked[ch.LinkedID]; c != nil {
			return c
		}
	}
	if localHalf(ch.Name) != 0 {
		return t.pairs[localPair(ch.Name)]
	}
	return nil
}

// child reports whether ch, seen in an inbound context only after its
// creation, is an outgoing leg of another call (its linked ID is not its
// own) rather than a call of its own.
func (t *Tracker) child(ch Channel) bool {
	return ch.LinkedID != "" && ch.LinkedID != ch.ID && t.linked[ch.LinkedID] == nil && localHalf(ch.Name) == 0
}

func (t *Tracker) created(ch Channel, at time.Time) {
	if l := t.legs[ch.ID]; l != nil {
		if l.alive || !l.call.ended {
			t.updated(ch, at)
			return
		}
		// The ID is reused by a new channel: the old call is over.
		t.finish(l.call)
	}
	if ch.CreatedAt.IsZero() {
		ch.CreatedAt = at
	}
	c := t.callOf(ch)
	switch {
	case c != nil && !c.ended:
		t.join(c, ch, c.out == nil && t.isInbound(ch), at)
	case c != nil:
		// A late channel of a call already over: nothing to add.
	case t.isInbound(ch) && !t.originated(ch):
		t.openedLate(t.start(ch, at), ch)
	case t.startOutbound(ch, at):
	case localHalf(ch.Name) != 0:
		p := localPair(ch.Name)
		t.orphans[p] = append(t.orphans[p], orphan{ch, at})
	}
}

// openedLate flags a call that ch has just opened when ch was created
// before the last resync, is first heard of after it, and is not the
// call's first channel: that one was lost with the view, and with it when
// the call began and, since it is no leg of the call, when it ended.
func (t *Tracker) openedLate(c *call, ch Channel) {
	if r := t.unseen.resynced; !r.IsZero() && !ch.CreatedAt.IsZero() && !ch.CreatedAt.After(r) && laterLeg(ch) {
		addGap(c, GapStart)
		addGap(c, GapEnd)
		nameUnseen(c)
	}
}

// laterLeg reports whether ch is known not to be its call's first
// channel: its linked ID names another, or it is the ;2 half of a Local
// channel, created with the ;1.
func laterLeg(ch Channel) bool {
	if ch.LinkedID != "" {
		return ch.LinkedID != ch.ID
	}
	return localHalf(ch.Name) == 2
}

// start opens an inbound call whose first inbound leg is ch.
func (t *Tracker) start(ch Channel, at time.Time) *call { return t.open(ch, at, nil) }

// open opens a call whose first origin leg is ch: an inbound call, or an
// outbound one when out is set.
func (t *Tracker) open(ch Channel, at time.Time, out *dialOut) *call {
	id := ch.LinkedID
	if id == "" {
		id = ch.ID
	}
	if old := t.calls[id]; old != nil {
		// A new call reusing an ID still lingering: record the old one now.
		t.finish(old)
	}
	c := &call{rec: Call{ID: id, Direction: Inbound, StartedAt: ch.CreatedAt}, lastEvent: at, out: out, seen: time.Now()}
	if out != nil {
		c.rec.Direction = Outbound
		op := out.operator
		c.rec.AnsweredBy = &op
	}
	if c.rec.StartedAt.IsZero() || c.rec.StartedAt.After(at) {
		c.rec.StartedAt = at
	}
	t.calls[id] = c
	t.cont.urgent = true
	if ch.LinkedID != "" {
		t.linked[ch.LinkedID] = c
	}
	c.opener, c.openContext = t.join(c, ch, true, at), ch.Context
	return c
}

// join makes ch a leg of c, with its Local partner if one is waiting.
func (t *Tracker) join(c *call, ch Channel, origin bool, at time.Time) *leg {
	l := &leg{ch: ch, call: c, origin: origin, alive: true}
	if origin {
		l.entry, _ = t.entryOf(ch)
	}
	t.legs[ch.ID] = l
	c.legs = append(c.legs, l)
	c.lastEvent = at
	if origin {
		c.originAlive++
		if c.primary == nil || earlier(ch, c.primary.ch) {
			c.primary = l
			// Without a linked ID the call is named after its first
			// channel, so that it gets the same ID as with one.
			if ch.LinkedID == "" {
				t.rename(c, ch.ID)
			}
		}
		if ch.CreatedAt.Before(c.rec.StartedAt) {
			c.rec.StartedAt = ch.CreatedAt
		}
		t.callerSeen(c, l)
	}
	if localHalf(ch.Name) != 0 {
		p := localPair(ch.Name)
		t.pairs[p] = c
		waiting := t.orphans[p]
		delete(t.orphans, p)
		for _, o := range waiting {
			if t.legs[o.ch.ID] == nil {
				t.join(c, o.ch, origin && t.isInbound(o.ch), o.seen)
			}
		}
	}
	return l
}

// earlier reports whether a was created before b; of the two halves of a
// Local channel created in the same millisecond, ;1 comes first.
func earlier(a, b Channel) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return localPair(a.Name) == localPair(b.Name) && localHalf(a.Name) == 1 && localHalf(b.Name) == 2
}

func (t *Tracker) rename(c *call, id string) {
	if other := t.calls[id]; other != nil && other != c {
		return
	}
	delete(t.calls, c.rec.ID)
	c.rec.ID = id
	t.calls[id] = c
}

func (t *Tracker) updated(ch Channel, at time.Time) {
	l := t.legs[ch.ID]
	if l == nil && t.callOf(ch) == nil && t.startOutbound(ch, at) {
		return
	}
	if l == nil {
		if localHalf(ch.Name) != 0 {
			p := localPair(ch.Name)
			for i := range t.orphans[p] {
				if t.orphans[p][i].ch.ID == ch.ID {
					t.orphans[p][i].ch = keepCreated(ch, t.orphans[p][i].ch)
				}
			}
		}
		return
	}
	l.ch = keepCreated(ch, l.ch)
	l.call.lastEvent = at
	if l.origin {
		t.callerSeen(l.call, l)
	}
	if l.offer != nil && ch.State == "Ringing" {
		t.ringing(l, at)
	}
}

// keepCreated keeps what a later snapshot may lack.
func keepCreated(ch, old Channel) Channel {
	if ch.CreatedAt.IsZero() {
		ch.CreatedAt = old.CreatedAt
	}
	if ch.LinkedID == "" {
		ch.LinkedID = old.LinkedID
	}
	if ch.DID == "" {
		ch.DID = old.DID
	}
	return ch
}

// callerSeen takes the caller and the dialled number from an inbound leg
// and announces the call once its caller is known.
func (t *Tracker) callerSeen(c *call, l *leg) {
	if c.out != nil {
		return // the client is the number dialled, not the phone's caller ID
	}
	if l.ch.Prohibited() && !c.ev.prohibited {
		c.ev.prohibited, c.ev.presentation, c.ev.presLeg = true, l.ch.Presentation, l.ch.Name
	}
	if c.rec.Caller == "" && l.ch.CallerNumber != "" {
		c.rec.Caller = l.ch.CallerNumber
		c.number = ParseNumber(c.rec.Caller, t.cfg.Region)
		c.callerLeg = l
		// The carrier's name comes with its number; a name that appears
		// later was set on the PBX (by screenpop in Stasis mode).
		c.rec.CallerName = l.ch.CallerName
	} else if l == c.callerLeg && l.ch.CallerName != "" && l.ch.CallerName != c.rec.CallerName {
		if c.ev.inStasis {
			c.rec.LookupName = l.ch.CallerName // set by the Stasis handler
		} else if c.rec.CallerName == "" {
			c.rec.CallerName = l.ch.CallerName
		}
	}
	if l.ch.DID != "" && c.rec.DID == "" {
		c.rec.DID, c.didFrom = l.ch.DID, didVariable
	}
	if c.rec.Caller != "" {
		t.announce(c)
	}
}

// announce tells observers about the call, once.
func (t *Tracker) announce(c *call) {
	if c.started {
		return
	}
	c.started = true
	t.obs.Notice(t.notice(c, NoticeStarted))
}

func (t *Tracker) notice(c *call, kind NoticeKind) Notice {
	n := Notice{
		Kind: kind, At: t.now, CallID: c.rec.ID, Caller: t.caller(c),
		CallerName: c.rec.CallerName, DID: t.did(c),
	}
	if c.ev.prohibited {
		n.CallerName = ""
	}
	return n
}

// caller is the call's parsed number; a call whose caller never showed a
// number is withheld.
func (t *Tracker) caller(c *call) Number {
	if c.rec.Caller == "" || c.ev.prohibited {
		return Number{Withheld: true}
	}
	return c.number
}

// did is the dialled number: the configured variable, else where the
// first inbound leg entered the dialplan.
func (t *Tracker) did(c *call) string {
	if c.out != nil {
		return ""
	}
	if c.rec.DID != "" {
		return c.rec.DID
	}
	if l := t.didLeg(c); l != nil {
		return l.entry.Exten
	}
	return ""
}

// didLeg is the inbound leg whose extension, where it entered the
// dialplan, is the dialled number when no variable or Stasis argument
// gave it, or nil.
func (t *Tracker) didLeg(c *call) *leg {
	for _, l := range c.legs {
		if l.origin && t.inbound[l.entry.Context] && l.entry.Exten != "" {
			return l
		}
	}
	return nil
}

func (t *Tracker) stasis(ev Event) {
	l := t.legs[ev.Channel.ID]
	if l == nil {
		// Stasis mode without subscribeAll: entering our app is how the
		// call first shows itself.
		c := t.callOf(ev.Channel)
		switch {
		case c == nil:
			c = t.start(ev.Channel, ev.At)
			c.stasis = true
			t.openedLate(c, ev.Channel)
			l = t.legs[ev.Channel.ID]
		case c.ended:
			// A channel of a call already over, its StasisStart late (a
			// resync ended the call): no new call, but the Stasis
			// handler is told, as of a channel it does not know.
			t.obs.Notice(Notice{Kind: NoticeStasis, At: ev.At, ChannelID: ev.Channel.ID})
			return
		default:
			l = t.join(c, ev.Channel, true, ev.At)
		}
	}
	l.call.ev.inStasis = true
	t.updated(ev.Channel, ev.At)
	c := l.call
	if len(ev.Args) >= 2 && ev.Args[0] == "inbound" && c.rec.DID == "" {
		c.rec.DID, c.didFrom = ev.Args[1], didStasisArgs
	}
	t.announce(c)
	n := t.notice(c, NoticeStasis)
	n.ChannelID = ev.Channel.ID
	t.obs.Notice(n)
}

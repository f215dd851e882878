package screenpop

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// TrackerConfig says how to recognise calls on this PBX.
type TrackerConfig struct {
	// InboundContexts: a channel created in one of these dialplan contexts
	// is a call into the call centre.
	InboundContexts []string
	// Operators recognise operators' phones among dialled channels.
	Operators EndpointPatterns
	// Region is the country whose national number forms callers use.
	Region string
	// StaleAfter closes a call that has had no event for this long: its
	// end was lost. Calls have no events while they talk, so this is long.
	StaleAfter time.Duration
	// Linger is how long a call is held after its last inbound leg is gone,
	// for events Asterisk delivers late from other legs.
	Linger time.Duration
	// OutboundContexts: an operator's phone that is no call's leg, seen in
	// one of these contexts at a phone number (7 digits or more), is that
	// operator calling the number: an outbound call. A phone's own call
	// is created there; click-to-dial's is sent there by the originate
	// once the operator picks up.
	OutboundContexts []string
	// DIDVariable names the channel variable the dialled number comes in
	// (FROM_DID), for the classification's words only.
	DIDVariable string
	// KeepWithheldNumbers keeps in the call log the number of a caller
	// who asked for it to be withheld (presentation prohibited), for the
	// company's own use; it is never shown on a pop nor looked up. By
	// default the log does not keep it.
	KeepWithheldNumbers bool
}

// DefaultStaleAfter and DefaultLinger are used when the config leaves them zero.
const (
	DefaultStaleAfter = 6 * time.Hour
	DefaultLinger     = time.Second
	// clockJump is how far from the tracker's clock, back or ahead, an
	// event's time may be before the tracker takes it for a suspect time:
	// a new timeline only once a second event confirms it.
	clockJump = time.Minute
	// sweepEvery is how often stale calls are looked for.
	sweepEvery = time.Minute
)

// Close reasons recorded on calls whose end was not seen.
const (
	CloseStale        = "end never seen: no event for %s"
	CloseDisconnected = "ended while the ARI connection was down"
	CloseShutdown     = "still in progress when the daemon stopped"
	CloseEndOfInput   = "still in progress when the events ended"
)

// Tracker folds ARI events into calls. It is not safe for concurrent use:
// one goroutine (Run, or a test) owns it; Snapshot asks that goroutine.
type Tracker struct {
	// RingNotified, if set, is told each time an operator's phone starts
	// ringing, once the observers have been told (the popper has pushed
	// the pop to the operator's pages), how long after the tracker took
	// the call's first event: the pop latency, for metrics. Set it before
	// Run.
	RingNotified func(sinceFirstEvent time.Duration)
	// Resynced, if set, is told what each resync found, for the admin's
	// log. Set it before Run.
	Resynced func(ResyncCounts)

	cfg      TrackerConfig
	inbound  map[string]bool
	outbound map[string]bool
	log      CallLog
	obs      Observer

	calls  map[string]*call // by call ID
	legs   map[string]*leg  // by channel ID, every leg of every open call
	linked map[string]*call // by CHANNEL(linkedid)
	pairs  map[string]*call // by Local pair name: the other half joins
	// orphans are Local channel halves seen before we knew whether their
	// call is ours (the ;2 half is created before the Dial names the ;1).
	orphans map[string][]orphan
	bridges map[string]map[string]Channel // bridge ID -> members
	ending  []*call                       // ended, waiting out Linger, by end time
	// originating are operators' phones Asterisk rings for an originate
	// (click-to-dial), by channel ID, until they answer or give up.
	originating map[string]*originating

	now       time.Time // the latest event time: the tracker's clock
	lastSweep time.Time

	// recent are the last calls recorded, for the admin page: a ring,
	// recent[(nrecent-1)%keepRecentCalls] the newest.
	recent  []Call
	nrecent int
	// snaps carries Snapshot's requests to Run; stopped is closed when
	// Run returns.
	snaps   chan chan TrackerSnapshot
	stopped chan struct{}
	// cont is what keeps the records true across ARI drops, clock jumps
	// and restarts (tracker_continuity.go).
	cont continuity
}

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
}

type call struct {
	rec         Call
	offers      []*Offer // in dial order; copied into rec at the end
	primary     *leg
	legs        []*leg
	originAlive int
	started     bool // NoticeStarted sent
	ended       bool
	lastEvent   time.Time
	hangupAsked bool   // an inbound leg had a hangup request
	number      Number // rec.Caller parsed, once
	resynced    bool   // joined in progress
	out         *dialOut
	// ev is what Asterisk said about why nobody answered (status.go);
	// transfers the operators' transfers of it (tracker_transfer.go).
	ev        evidence
	transfers []transferRecord

	// For the classification: whether the call showed itself by entering
	// our Stasis app, where its caller and DID came from, and when (wall
	// clock) the tracker took its first event.
	stasis    bool
	opener    *leg // the leg that opened the call
	callerLeg *leg
	didFrom   didSource
	seen      time.Time
	// openContext is the opener's dialplan context then: it moves on.
	openContext string
}

// NewTracker returns a tracker writing finished calls to log and telling
// obs (may be nil) about calls as they happen.
func NewTracker(cfg TrackerConfig, log CallLog, obs Observer) *Tracker {
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if obs == nil {
		obs = Observers(nil)
	}
	t := &Tracker{
		cfg: cfg, inbound: map[string]bool{}, outbound: map[string]bool{}, log: log, obs: obs,
		calls: map[string]*call{}, legs: map[string]*leg{}, linked: map[string]*call{},
		pairs: map[string]*call{}, orphans: map[string][]orphan{}, bridges: map[string]map[string]Channel{},
		originating: map[string]*originating{},
		snaps:       make(chan chan TrackerSnapshot), stopped: make(chan struct{}),
	}
	for _, c := range cfg.InboundContexts {
		t.inbound[c] = true
	}
	for _, c := range cfg.OutboundContexts {
		t.outbound[c] = true
	}
	return t
}

// Observe adds an observer. It must be called before Run, by the goroutine
// that made the tracker.
func (t *Tracker) Observe(obs Observer) {
	t.obs = Observers{t.obs, obs}
}

// Run handles events until ctx is done or events is closed, then records
// the calls still open (with CloseShutdown or CloseEndOfInput) so nothing
// is lost. It also closes stale calls on its own clock, and answers
// Snapshot. It is called once.
func (t *Tracker) Run(ctx context.Context, events <-chan Event) error {
	defer close(t.stopped)
	defer t.endSaving()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	// A restored state sets the clock before any event: the ticks move it
	// on by the wall time since Run began.
	lastWall := time.Now()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Close(CloseEndOfInput)
				return nil
			}
			t.Handle(ev)
			t.saveNow()
			lastWall = time.Now()
		case now := <-tick.C:
			// Asterisk's clock drives the tracker; between events, advance
			// it by the wall time since the last one.
			if !t.now.IsZero() {
				t.Advance(t.now.Add(now.Sub(lastWall)))
				lastWall = now
			}
			t.checkpoint(now)
		case reply := <-t.snaps:
			reply <- t.snapshot()
		case <-ctx.Done():
			// Drain what the intake already handed over, then record
			// the calls still open.
			for {
				select {
				case ev, ok := <-events:
					if ok {
						t.Handle(ev)
						continue
					}
				default:
				}
				break
			}
			t.stop()
			return nil
		}
	}
}

// Open is the number of calls in progress (or waiting out Linger).
func (t *Tracker) Open() int { return len(t.calls) }

// Handle applies one event.
func (t *Tracker) Handle(ev Event) {
	t.clock(ev)
	switch ev.Kind {
	case EventChannelCreated:
		t.created(ev.Channel, ev.At)
	case EventChannelUpdated, EventStasisEnd:
		t.updated(ev.Channel, ev.At)
	case EventHangupRequest:
		t.updated(ev.Channel, ev.At)
		if l := t.legs[ev.Channel.ID]; l != nil && l.origin {
			l.call.hangupAsked = true
			l.call.ev.hangupRequested(l, ev)
		}
	case EventVariable:
		if l := t.legs[ev.Channel.ID]; l != nil && l.origin {
			l.call.lastEvent = ev.At
			l.call.ev.variable(ev)
		}
	case EventTransfer:
		t.transfer(ev)
	case EventChannelDestroyed:
		t.destroyed(ev.Channel, ev.Cause, ev.CauseText, ev.At, "")
	case EventDial:
		t.dial(ev)
	case EventBridgeEntered:
		t.bridgeEntered(ev.Channel, ev.BridgeID, ev.At)
	case EventBridgeLeft:
		if m := t.bridges[ev.BridgeID]; m != nil {
			delete(m, ev.Channel.ID)
			if len(m) == 0 {
				delete(t.bridges, ev.BridgeID)
			}
		}
	case EventStasisStart:
		t.stasis(ev)
	case EventResync:
		t.resync(ev.Channels, ev.Bridges, ev.At)
		t.waitingInStasis(ev.Waiting, ev.At)
	}
}

// Advance moves the tracker's clock to now: calls that have lingered long
// enough are recorded, and stale ones closed.
func (t *Tracker) Advance(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	for len(t.ending) > 0 && !t.ending[0].rec.EndedAt.Add(t.cfg.Linger).After(t.now) {
		c := t.ending[0]
		t.ending = t.ending[1:]
		t.finish(c)
	}
	// Stale calls are hours old: looking once a minute is plenty, and
	// keeps the cost per event independent of how many calls are open.
	if t.now.Sub(t.lastSweep) >= sweepEvery {
		t.lastSweep = t.now
		t.sweep()
	}
}

// Close records every open call now, as when the daemon stops or a trace
// ends; calls whose end was not seen get reason.
func (t *Tracker) Close(reason string) {
	ending := t.ending
	t.ending = nil
	for _, c := range ending {
		t.finish(c)
	}
	open := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		open = append(open, c)
	}
	slices.SortFunc(open, func(a, b *call) int { return a.rec.StartedAt.Compare(b.rec.StartedAt) })
	for _, c := range open {
		t.forceEnd(c, reason, c.lastEvent)
		t.finish(c)
	}
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
		t.start(ch, at)
	case t.startOutbound(ch, at):
	case localHalf(ch.Name) != 0:
		p := localPair(ch.Name)
		t.orphans[p] = append(t.orphans[p], orphan{ch, at})
	}
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
		return l.ch.Exten
	}
	return ""
}

// didLeg is the inbound leg whose extension is the dialled number when no
// variable or Stasis argument gave it, or nil.
func (t *Tracker) didLeg(c *call) *leg {
	for _, l := range c.legs {
		if l.origin && t.isInbound(l.ch) && l.ch.Exten != "" {
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
		if c == nil || c.ended {
			c = t.start(ev.Channel, ev.At)
			c.stasis = true
			l = t.legs[ev.Channel.ID]
		} else {
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
			if c.rec.AnsweredBy != nil {
				o.Outcome = OutcomeAnsweredElsewhere
			}
		default: // CONGESTION, CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS
			o.Outcome = OutcomeFailed
		}
		t.offerEnded(c, o)
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
		if o.Outcome == OutcomeRinging {
			switch {
			case cause == 26 || c.rec.AnsweredBy != nil:
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
	rec := t.record(c)
	rec.Classification = t.classify(c, &rec)
	t.keepRecent(rec)
	t.handOver(rec)
	n := t.notice(c, NoticeEnded)
	n.Call = &rec
	t.obs.Notice(n)
}

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

package screenpop

import (
	"context"
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
	// Unseen, if set, is told of each period the events were not seen
	// (unseen.go), as the CallLog is if it is an UnseenLog. Set it before
	// Run.
	Unseen func(UnseenPeriod)

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
	// unseen is when the events were last all seen (unseen.go).
	unseen unseenWatch

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
	// fold is what Follow keeps of the log it reads (tracker_log.go).
	fold followState
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
	// spanned: the call was in progress at a resync, so events of it
	// may have been lost.
	spanned bool
	out     *dialOut
	// ev is what Asterisk said about why nobody answered (status.go);
	// transfers the operators' transfers of it (tracker_transfer.go).
	ev        evidence
	transfers []transferRecord
	// pickup is a Dial CANCEL that may be a pickup's; picker the channel
	// that picked the call up, pickups the pickups (tracker_pickup.go).
	pickup  *pickupCandidate
	picker  string
	pickups []pickupRecord

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

	// saved is the call's copy in the last state saved, and changed says
	// the call changed since (tracker_state.go): only the calls that
	// changed are copied and encoded again.
	saved   *savedCall
	changed bool
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
				t.Handle(Event{Kind: EventTick, At: t.now.Add(now.Sub(lastWall))})
				lastWall = now
			}
			t.checkpoint(now)
		case <-t.saverFree():
			t.saveFreed()
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
	if ev.Kind == EventTick {
		// The reader's clock between events (tracker_log.go): no new
		// timeline, no suspect time; a clock not yet set stays unset.
		if !t.now.IsZero() {
			t.Advance(ev.At)
			if ev.Heard && ev.At.After(t.unseen.seen) {
				// Everything Asterisk sent before it is applied: an
				// unseen period after a crash begins no earlier.
				t.unseen.seen = ev.At
				t.cont.dirty = true
			}
		}
		return
	}
	t.clock(ev)
	t.unseen.saw(ev)
	// The calls the event may change, before (a leg it ends) and after
	// (a leg it adds).
	t.changedBy(ev)
	switch ev.Kind {
	case EventChannelCreated:
		t.created(ev.Channel, ev.At)
	case EventChannelUpdated, EventStasisEnd:
		t.updated(ev.Channel, ev.At)
	case EventHangupRequest:
		t.settlePickupOf(ev.Channel)
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
		t.settlePickupOf(ev.Channel)
		t.destroyed(ev.Channel, ev.Cause, ev.CauseText, ev.At, "")
	case EventDial:
		if !t.pickupDial(ev) {
			t.dial(ev)
		}
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
	t.changedBy(ev)
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

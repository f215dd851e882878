package screenpop

import (
	"fmt"
	"slices"
	"time"
)

// TrackerState is the calls in progress, and those that ended and wait
// out the linger, saved so that a restart carries them on: the next start
// restores them, records the ended ones, and the first ARI resync
// reconciles the others with the channels Asterisk has then.
type TrackerState struct {
	// Version is stateVersion; a state of another version is refused.
	Version int `json:"version"`
	// SavedAt is the tracker's clock when it was saved: the last moment
	// its calls were known to be in progress.
	SavedAt time.Time `json:"saved_at"`
	// Seen is the time of the last event applied before it was saved.
	// SavedAt may be later (the clock moves on between events), and
	// events of a time before SavedAt may still have been on their way
	// or queued, lost by a crash: an unseen period after a restart starts
	// here. Zero in a state saved by a daemon before it was kept.
	Seen time.Time `json:"seen,omitzero"`
	// Calls are shared with the tracker (and with the states saved
	// before, when a call did not change): nothing changes one once made.
	Calls []*savedCall `json:"calls"`
	// Handed are records handed to the call log as this was saved: the
	// next start hands them over again, in case the crash came first.
	Handed []Call `json:"handed,omitempty"`
	// Stopped says it was saved at a stop: the daemon did not crash
	// (unseen.go tells the two apart).
	Stopped bool `json:"stopped,omitempty"`
}

const stateVersion = 1

// savedCall is one call in progress; legs point at offers by index.
type savedCall struct {
	Rec         Call       `json:"rec"`
	Offers      []Offer    `json:"offers"`
	Legs        []savedLeg `json:"legs"`
	Primary     int        `json:"primary"`
	Opener      int        `json:"opener"`
	CallerLeg   int        `json:"caller_leg"`
	Started     bool       `json:"started"`
	LastEvent   time.Time  `json:"last_event"`
	HangupAsked bool       `json:"hangup_asked"`
	Resynced    bool       `json:"resynced"`
	Ended       bool       `json:"ended"`
	Stasis      bool       `json:"stasis"`
	DIDFrom     didSource  `json:"did_from"`
	OpenContext string     `json:"open_context"`
	Out         *savedOut  `json:"out,omitempty"`
	// Evidence is what Asterisk said of the call that its record reads
	// beyond the legs and offers: whether the caller withheld their
	// number, gave up, or what Dial and Queue said (status.go). Without
	// it, a call restored after a restart would show a withheld number.
	Evidence *savedEvidence `json:"evidence,omitempty"`

	// copy numbers the tracker's copies of its calls (State): a call
	// with the same number as in the last state encoded did not change,
	// and its JSON then is written again. Zero (a state read back, or
	// made by hand): not known to be unchanged.
	copy uint64
}

type savedLeg struct {
	Channel Channel `json:"channel"`
	Origin  bool    `json:"origin"`
	Alive   bool    `json:"alive"`
	Offer   int     `json:"offer"` // index in Offers, -1: none
	How     legHow  `json:"how"`
	// Entry is where an origin leg entered the dialplan; absent in states
	// saved before it was kept (then its channel's place is taken).
	Entry *dialplanPlace `json:"entry,omitempty"`
}

type savedEvidence struct {
	GaveUp       *savedHangup  `json:"gave_up,omitempty"`
	Results      []savedResult `json:"results,omitempty"`
	Prohibited   bool          `json:"prohibited,omitempty"`
	Presentation string        `json:"presentation,omitempty"`
	PresLeg      string        `json:"pres_leg,omitempty"`
	InStasis     bool          `json:"in_stasis,omitempty"`
}

type savedHangup struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	Cause   int       `json:"cause"`
	Soft    bool      `json:"soft,omitempty"`
}

type savedResult struct {
	Variable string    `json:"variable"`
	Value    string    `json:"value"`
	At       time.Time `json:"at"`
}

// saveEvidence is e as the state keeps it; nil when Asterisk said
// nothing of note.
func saveEvidence(e evidence) *savedEvidence {
	se := savedEvidence{Prohibited: e.prohibited, Presentation: e.presentation, PresLeg: e.presLeg, InStasis: e.inStasis}
	if g := e.gaveUp; g != nil {
		se.GaveUp = &savedHangup{At: g.at, Channel: g.channel, Cause: g.cause, Soft: g.soft}
	}
	for _, r := range e.results {
		se.Results = append(se.Results, savedResult{Variable: r.variable, Value: r.value, At: r.at})
	}
	if se.GaveUp == nil && se.Results == nil && !se.Prohibited && se.Presentation == "" && se.PresLeg == "" && !se.InStasis {
		return nil
	}
	return &se
}

// restoreEvidence is the evidence a state kept.
func restoreEvidence(se *savedEvidence) evidence {
	if se == nil {
		return evidence{}
	}
	e := evidence{prohibited: se.Prohibited, presentation: se.Presentation, presLeg: se.PresLeg, inStasis: se.InStasis}
	if g := se.GaveUp; g != nil {
		e.gaveUp = &callerHangup{at: g.At, channel: g.Channel, cause: g.Cause, soft: g.Soft}
	}
	for _, r := range se.Results {
		e.results = append(e.results, dialResult{variable: r.Variable, value: r.Value, at: r.At})
	}
	return e
}

type savedOut struct {
	Operator  string    `json:"operator"`
	RingingAt time.Time `json:"ringing_at"`
	RingEnd   time.Time `json:"ring_end"`
	Rang      bool      `json:"rang"`
	Busy      bool      `json:"busy"`
}

// State returns the calls in progress. It is called on the tracker's
// goroutine (KeepState's save is). A call that did not change since the
// last State is not copied again: its copy then is shared, and nothing
// changes a copy once made.
func (t *Tracker) State() TrackerState {
	s := TrackerState{Version: stateVersion, SavedAt: t.now, Seen: t.unseen.seen, Calls: make([]*savedCall, 0, len(t.calls)), Stopped: t.unseen.stopping}
	for _, h := range t.cont.handed {
		s.Handed = append(s.Handed, h.rec)
	}
	for _, c := range t.calls {
		if c.saved == nil || c.changed {
			sc := saveCall(c)
			t.cont.copies++
			sc.copy = t.cont.copies
			c.saved, c.changed = &sc, false
		}
		s.Calls = append(s.Calls, c.saved)
	}
	slices.SortFunc(s.Calls, func(a, b *savedCall) int { return a.Rec.StartedAt.Compare(b.Rec.StartedAt) })
	return s
}

// changedBy marks the calls an event may change: those its channels are
// legs of, or would join (by linked ID or Local pair), and for a bridge
// those of the bridge's members. A resync or a transfer may change any
// call: all are marked.
func (t *Tracker) changedBy(ev Event) {
	switch ev.Kind {
	case EventResync, EventTransfer:
		for _, c := range t.calls {
			c.changed = true
		}
		return
	case EventBridgeEntered, EventBridgeLeft:
		for id := range t.bridges[ev.BridgeID] {
			if l := t.legs[id]; l != nil {
				l.call.changed = true
			}
		}
	}
	for _, ch := range [...]Channel{ev.Channel, ev.Peer} {
		if ch.ID == "" {
			continue
		}
		if l := t.legs[ch.ID]; l != nil {
			l.call.changed = true
		}
		if c := t.callOf(ch); c != nil {
			c.changed = true
		}
	}
}

func saveCall(c *call) savedCall {
	sc := savedCall{
		Rec: c.rec, Primary: -1, Opener: -1, CallerLeg: -1, Started: c.started, LastEvent: c.lastEvent,
		HangupAsked: c.hangupAsked, Resynced: c.resynced, Ended: c.ended, Stasis: c.stasis, DIDFrom: c.didFrom, OpenContext: c.openContext,
		Evidence: saveEvidence(c.ev),
	}
	sc.Rec.Classification = nil
	for _, o := range c.offers {
		sc.Offers = append(sc.Offers, *o)
	}
	for i, l := range c.legs {
		sl := savedLeg{Channel: l.ch, Origin: l.origin, Alive: l.alive, Offer: slices.Index(c.offers, l.offer), How: l.how}
		if l.entry != (dialplanPlace{}) {
			e := l.entry
			sl.Entry = &e
		}
		sc.Legs = append(sc.Legs, sl)
		if l == c.primary {
			sc.Primary = i
		}
		if l == c.opener {
			sc.Opener = i
		}
		if l == c.callerLeg {
			sc.CallerLeg = i
		}
	}
	if o := c.out; o != nil {
		sc.Out = &savedOut{Operator: o.operator, RingingAt: o.ringingAt, RingEnd: o.ringEnd, Rang: o.rang, Busy: o.busy}
	}
	return sc
}

// Restore takes back the calls of a saved state, before Run. Those that
// had ended are recorded as the clock passes their linger; the first
// resync reconciles the others with Asterisk: a call whose channels are
// gone ended while the daemon was down (CloseDaemonDown, GapEnd, ended
// at SavedAt); one still there goes on, its record exact if nothing was
// missed, flagged otherwise.
func (t *Tracker) Restore(s TrackerState) error {
	if s.Version != stateVersion {
		return fmt.Errorf("restore calls in progress: state version %d, this daemon reads %d", s.Version, stateVersion)
	}
	for _, sc := range s.Calls {
		if sc == nil {
			return fmt.Errorf("restore calls in progress: a call is null")
		}
		if sc.Rec.ID == "" || len(sc.Legs) == 0 || t.calls[sc.Rec.ID] != nil {
			return fmt.Errorf("restore calls in progress: call %q has no legs or comes twice", sc.Rec.ID)
		}
	}
	for _, sc := range s.Calls {
		t.restoreCall(sc)
	}
	for _, rec := range s.Handed {
		// Perhaps in the call log already: the same record, kept once.
		t.log.Record(rec)
	}
	if s.SavedAt.After(t.now) {
		t.now = s.SavedAt
	}
	t.cont.restoredAt = s.SavedAt
	t.unseen.restoredFrom(s)
	return nil
}

func (t *Tracker) restoreCall(sc *savedCall) {
	c := &call{
		rec: sc.Rec, started: sc.Started, lastEvent: sc.LastEvent, hangupAsked: sc.HangupAsked,
		resynced: sc.Resynced, ended: sc.Ended, stasis: sc.Stasis, didFrom: sc.DIDFrom, openContext: sc.OpenContext, seen: time.Now(),
		ev: restoreEvidence(sc.Evidence),
	}
	for i := range sc.Offers {
		o := sc.Offers[i]
		c.offers = append(c.offers, &o)
	}
	if o := sc.Out; o != nil {
		c.out = &dialOut{operator: o.Operator, ringingAt: o.RingingAt, ringEnd: o.RingEnd, rang: o.Rang, busy: o.Busy}
	}
	at := func(i int) *leg {
		if i < 0 || i >= len(c.legs) {
			return nil
		}
		return c.legs[i]
	}
	for _, sl := range sc.Legs {
		l := &leg{ch: sl.Channel, call: c, origin: sl.Origin, alive: sl.Alive, how: sl.How}
		switch {
		case sl.Entry != nil:
			l.entry = *sl.Entry
		case l.origin:
			l.entry, _ = t.entryOf(l.ch)
		}
		if sl.Offer >= 0 && sl.Offer < len(c.offers) {
			l.offer = c.offers[sl.Offer]
		}
		c.legs = append(c.legs, l)
		t.legs[l.ch.ID] = l
		if l.ch.LinkedID != "" {
			t.linked[l.ch.LinkedID] = c
		}
		if localHalf(l.ch.Name) != 0 {
			t.pairs[localPair(l.ch.Name)] = c
		}
		if l.origin && l.alive {
			c.originAlive++
		}
	}
	c.primary, c.opener, c.callerLeg = at(sc.Primary), at(sc.Opener), at(sc.CallerLeg)
	if c.opener == nil {
		c.opener = c.legs[0]
	}
	switch {
	case c.out != nil:
		c.number, _ = dialledNumber(c.rec.Caller, t.cfg.Region)
	case c.rec.Caller != "":
		c.number = ParseNumber(c.rec.Caller, t.cfg.Region)
	}
	t.calls[c.rec.ID] = c
	if c.ended {
		// Its end was seen: it is recorded once the clock has passed
		// its linger, as it would have been.
		i, _ := slices.BinarySearchFunc(t.ending, c.rec.EndedAt, func(e *call, at time.Time) int { return e.rec.EndedAt.Compare(at) })
		t.ending = slices.Insert(t.ending, i, c)
	}
}

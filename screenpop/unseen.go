package screenpop

import (
	"slices"
	"time"
)

// An unseen period is a time during which the daemon did not see a box's
// events: an ARI connection down, the daemon stopped, killed or crashed.
// The resync that follows rebuilds the calls still in progress then
// (tracker_resync.go), but a call that began and ended within the period
// left nothing to rebuild from, and Asterisk keeps no list of past calls:
// the call log cannot hold it. The period is recorded so that whoever
// reads the call log knows it has a hole there, and how long.

// UnseenReason says why the daemon did not see a box's events.
type UnseenReason string

// The reasons.
const (
	// UnseenARIDrop: the ARI connection was down (or Asterisk restarted),
	// the daemon running.
	UnseenARIDrop UnseenReason = "ari_drop"
	// UnseenStopped: the daemon was stopped, then started again.
	UnseenStopped UnseenReason = "stopped"
	// UnseenCrashed: the daemon was killed or crashed (it did not save its
	// state at a stop), then started again.
	UnseenCrashed UnseenReason = "crashed"
)

// Describe is the reason in an analyst's words.
func (r UnseenReason) Describe() string {
	switch r {
	case UnseenARIDrop:
		return "ARI drop"
	case UnseenStopped:
		return "daemon stopped"
	case UnseenCrashed:
		return "daemon killed or crashed"
	}
	return string(r)
}

// UnseenPeriod is one period during which a box's events were not seen.
// (PBX, From) is its key: the same period recorded again (a replay of the
// spool, a restart from the same saved state) is kept once.
type UnseenPeriod struct {
	// PBX is the box (asterisk.boxes[].name), "" for the single box.
	PBX string `json:"pbx,omitempty"`
	// From is the last moment the daemon is known to have seen everything:
	// the last event before an ARI drop; after a crash, the last event
	// applied when the state it restored was saved (events of a later
	// time may have been queued or on their way, and died with it); after
	// a stop, when it saved its state, having applied every event read.
	// Every call that began and ended between From and To is missing from
	// the call log.
	From time.Time `json:"from"`
	// To is the resync that followed: from then on the events were seen.
	To     time.Time    `json:"to"`
	Reason UnseenReason `json:"reason"`
	// CallsInProgress are the calls in progress after the resync;
	// CallsEndedUnseen those in progress at From that had ended by To
	// (recorded, with their end flagged: GapEnd).
	CallsInProgress  int `json:"calls_in_progress"`
	CallsEndedUnseen int `json:"calls_ended_unseen"`
}

// Duration is how long the period lasted.
func (p UnseenPeriod) Duration() time.Duration { return p.To.Sub(p.From) }

// UnseenLog is a call log that also keeps unseen periods. The tracker
// tells its CallLog of each period if it is one.
type UnseenLog interface {
	RecordUnseen(UnseenPeriod)
}

// unseenWatch is what the tracker knows of when it last saw everything.
type unseenWatch struct {
	// seen is the time of the last event, or of the last resync: the
	// events were seen up to it.
	seen time.Time
	// restored is the reason of the first resync after a Restore, with
	// continuity.restoredAt as From, or restoredSeen (the restored
	// state's Seen) if earlier; "" otherwise.
	restored     UnseenReason
	restoredSeen time.Time
	// stopping is set by the stop, so that the state saved then says the
	// daemon stopped rather than crashed.
	stopping bool
	// resynced is the time of the last resync: a channel created before
	// it that the tracker first hears of after it lived while the view
	// was being rebuilt, and may have done unseen what it did then.
	resynced time.Time
}

// saw notes an event: the events were seen until its time.
func (w *unseenWatch) saw(ev Event) {
	if ev.Kind != EventResync && ev.At.After(w.seen) {
		w.seen = ev.At
	}
}

// restoredFrom notes, at a Restore, how the run that saved s ended.
func (w *unseenWatch) restoredFrom(s TrackerState) {
	if s.Seen.After(w.seen) {
		w.seen = s.Seen
	}
	w.restored = UnseenCrashed
	w.restoredSeen = s.Seen
	if s.Stopped {
		// A stop applied every event read before it saved: the period
		// begins at the save, not at the last event (hours before, after
		// a quiet night).
		w.restored = UnseenStopped
		w.restoredSeen = time.Time{}
	}
}

// unseenUntil is told of each resync at at, with what it found, and
// restoredAt the time of the state restored if this is the first resync
// after a Restore (else zero). It records the period the events were not
// seen, if there was one: none at the first connection of a daemon that
// restored nothing (it knows of no time before), and none when the view
// was never lost.
func (t *Tracker) unseenUntil(at, restoredAt time.Time, counts ResyncCounts) {
	w := &t.unseen
	p := UnseenPeriod{To: at, Reason: UnseenARIDrop, CallsInProgress: counts.Open, CallsEndedUnseen: counts.Ended}
	switch {
	case !restoredAt.IsZero():
		p.From, p.Reason = restoredAt, w.restored
		if !w.restoredSeen.IsZero() && w.restoredSeen.Before(p.From) {
			p.From = w.restoredSeen
		}
		w.restoredSeen = time.Time{}
		if p.Reason == "" {
			p.Reason = UnseenCrashed
		}
		w.restored = ""
	default:
		p.From = w.seen
	}
	if at.After(w.seen) {
		w.seen = at
	}
	w.resynced = at
	if p.From.IsZero() || !p.To.After(p.From) {
		return
	}
	if l, ok := t.log.(UnseenLog); ok {
		l.RecordUnseen(p)
	}
	if t.Unseen != nil {
		t.Unseen(p)
	}
}

// UnseenTotal is how much of [from, to) the periods cover, each moment
// counted once however many periods overlap on it, per box: the periods
// of two boxes add up (a box's hole is its own).
func UnseenTotal(periods []UnseenPeriod, from, to time.Time) time.Duration {
	byBox := map[string][][2]time.Time{}
	for _, p := range periods {
		a, b := p.From, p.To
		if !from.IsZero() && a.Before(from) {
			a = from
		}
		if !to.IsZero() && b.After(to) {
			b = to
		}
		if b.After(a) {
			byBox[p.PBX] = append(byBox[p.PBX], [2]time.Time{a, b})
		}
	}
	var total time.Duration
	for _, spans := range byBox {
		slices.SortFunc(spans, func(x, y [2]time.Time) int { return x[0].Compare(y[0]) })
		var end time.Time
		for _, s := range spans {
			if s[0].Before(end) {
				s[0] = end
			}
			if s[1].After(s[0]) {
				total += s[1].Sub(s[0])
				end = s[1]
			}
		}
	}
	return total
}

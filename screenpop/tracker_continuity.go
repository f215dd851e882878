package screenpop

import "time"

// What keeps call records true when the tracker's view of Asterisk is
// interrupted: an event dated far from the clock does not move it alone;
// the calls in progress, and those that ended and wait out the linger,
// are saved as each call starts or ends, every tick while they change,
// and at a graceful stop, so that the next start (even after kill -9)
// restores them (tracker_state.go); the ARI resync rebuilds what was
// missed and flags what cannot be known (tracker_resync.go).

// CloseDaemonDown is the close reason of a call open when the daemon
// stopped (or crashed) and gone when it started again.
const CloseDaemonDown = "ended while the daemon was down"

// continuity is the tracker's state for the above.
type continuity struct {
	// suspect is an event time more than clockJump away from the clock,
	// not yet confirmed by a second event near it; zero: none.
	suspect time.Time
	// jumped, if set, is told of each suspect event time.
	jumped func(eventAt, clock time.Time)
	// keep, if set, saves the calls in progress; dirty says they changed
	// since the last save, urgent that a call started or ended (a crash
	// now would lose or double it).
	keep          func(TrackerState) error
	keepFailed    func(error)
	dirty, urgent bool
	// restoredAt is when the restored state was saved, until the first
	// resync reconciles the restored calls with Asterisk.
	restoredAt time.Time
	// batch holds urgent saves while many calls change at once (a
	// resync, a stop): one save at the end does.
	batch bool
	// pending carries states to the saver goroutine, which closes
	// saverDone when it ends (endSaving, when Run returns).
	pending   chan saveReq
	saverDone chan struct{}
	// handed are records being handed to the call log: saved with the
	// state, so that a crash cannot lose them.
	handed []Call
}

// OnClockJump has f told of every event whose time is more than a minute
// away from the tracker's clock and not (yet) confirmed by a second event
// near it: such an event does not move the clock, so one event dated in
// 2099 cannot make the stale sweep close every call. f runs on the
// tracker's goroutine and must not block. Call it before Run.
func (t *Tracker) OnClockJump(f func(eventAt, clock time.Time)) { t.cont.jumped = f }

// KeepState has save called with the calls in progress whenever a call
// starts or ends, at most every tick (250 ms) while they change, and when
// Run stops; failed (may be nil) hears of a save that failed. At a stop,
// a save that works carries the calls in progress to the next start
// (Restore) instead of recording them cut short. While Run runs, save
// runs on a goroutine of the tracker's own, one call at a time, so that
// call tracking never waits on the disk; at the stop, on Run's. Call it
// before Run.
func (t *Tracker) KeepState(save func(TrackerState) error, failed func(error)) {
	t.cont.keep, t.cont.keepFailed = save, failed
}

// clock moves the tracker's clock for an event. An event within
// clockJump of the clock moves it forward (never back). One further
// away, ahead or behind, is suspect: it is applied at its own time but
// moves the clock only once a second event confirms the new timeline (a
// replayed second capture, Asterisk's clock stepped). A resync is stamped
// by the daemon's own clock and always moves it.
func (t *Tracker) clock(ev Event) {
	t.cont.dirty = true
	at := ev.At
	d := at.Sub(t.now)
	switch {
	case t.now.IsZero() || ev.Kind == EventResync || d >= -clockJump && d <= clockJump:
		t.cont.suspect = time.Time{}
		if d > 0 {
			t.Advance(at)
		}
	case !t.cont.suspect.IsZero() && absDuration(at.Sub(t.cont.suspect)) <= clockJump:
		t.cont.suspect = time.Time{}
		if d > 0 {
			t.Advance(at)
			return
		}
		// A new timeline behind the old one: calls waiting out Linger
		// belong to the old one.
		ending := t.ending
		t.ending = nil
		for _, c := range ending {
			t.finish(c)
		}
		t.now = at
	default:
		t.cont.suspect = at
		if t.cont.jumped != nil {
			t.cont.jumped(at, t.now)
		}
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// addGap flags part of c's record as not seen exactly.
func addGap(c *call, g Gap) {
	if !c.rec.Uncertain(g) {
		c.rec.Gaps = append(c.rec.Gaps, g)
	}
}

// saveNow saves the calls in progress, and waits for the disk, if a call
// started or ended since the last save: a crash right after must not
// lose it.
func (t *Tracker) saveNow() {
	if t.cont.urgent && !t.cont.batch {
		_ = t.saveSync() // a failure is told to keepFailed; the next save tries again
	}
}

// checkpoint saves the calls in progress if they changed since the last
// save: every tick.
func (t *Tracker) checkpoint(time.Time) {
	if t.cont.dirty && !t.cont.batch {
		t.saveAsync()
	}
}

// saveReq is a state for the saver to write; done, if set, hears how it
// went.
type saveReq struct {
	s    TrackerState
	done chan error
}

// request hands a state to the saver goroutine, in order, replacing one
// it has not begun to write: that one is older. The state is a copy;
// nothing in it is changed after.
func (t *Tracker) request(r saveReq) {
	if t.cont.pending == nil {
		t.cont.pending, t.cont.saverDone = make(chan saveReq, 1), make(chan struct{})
		go t.saver(t.cont.pending, t.cont.saverDone)
	}
	select {
	case <-t.cont.pending: // superseded; never a synchronous one, whose sender waits
	default:
	}
	t.cont.pending <- r
	t.cont.dirty, t.cont.urgent = false, false
}

// saveAsync has the state saved without waiting: call tracking does not
// wait on the disk for a checkpoint.
func (t *Tracker) saveAsync() {
	if t.cont.keep != nil {
		t.request(saveReq{s: t.State()})
	}
}

// saveSync saves the state and waits for it to be written.
func (t *Tracker) saveSync() error {
	if t.cont.keep == nil {
		return nil
	}
	done := make(chan error, 1)
	t.request(saveReq{s: t.State(), done: done})
	return <-done
}

// saver writes the states handed to it until pending is closed.
func (t *Tracker) saver(pending <-chan saveReq, done chan<- struct{}) {
	defer close(done)
	for r := range pending {
		err := t.cont.keep(r.s)
		if err != nil && t.cont.keepFailed != nil {
			t.cont.keepFailed(err)
		}
		if r.done != nil {
			r.done <- err
		}
	}
}

// endSaving waits for the saver to write what it was handed, and ends it.
func (t *Tracker) endSaving() {
	if t.cont.pending != nil {
		close(t.cont.pending)
		<-t.cont.saverDone
		t.cont.pending = nil
	}
}

// handOver gives the call log a call's record. With a state kept, the
// record is first saved in it (the call gone from the calls in
// progress): a crash before the call log has it, or before the next
// save, makes the next start hand it over again, the same record, which
// the call log keeps once. So a record is neither lost nor followed by
// a different one.
func (t *Tracker) handOver(rec Call) {
	if t.cont.keep != nil && !t.cont.batch {
		saved := rec
		saved.Classification = nil
		t.cont.handed = append(t.cont.handed, saved)
		if err := t.saveSync(); err == nil {
			t.cont.handed = t.cont.handed[:0]
		}
		// On an error the record stays in the next save's handed list.
	}
	t.log.Record(rec)
}

// stop is Run's end: calls waiting out the linger are recorded; the
// calls in progress are saved for the next start, or, when they cannot
// be, recorded cut short (CloseShutdown) so nothing is lost.
func (t *Tracker) stop() {
	t.cont.batch = true
	ending := t.ending
	t.ending = nil
	for _, c := range ending {
		t.finish(c)
	}
	t.cont.batch = false
	if t.cont.keep != nil && t.saveSync() == nil {
		return
	}
	t.Close(CloseShutdown)
}

package screenpop

import (
	"slices"
	"sync/atomic"
	"time"
)

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
	// pending carries states to the saver goroutine, one at a time: it
	// puts a token in free when it can take the next, and closes
	// saverDone when it ends (endSaving, when Run returns).
	pending   chan saveReq
	free      chan struct{}
	saverDone chan struct{}
	// handed are records for the call log, in order, numbered: each is
	// saved with the state before the saver hands it over, and kept in
	// the states until it was (delivered, the number of the last one
	// handed over), so that a crash can neither lose one nor make it
	// differ.
	handed    []handedRecord
	seq       uint64
	delivered atomic.Uint64
	// copies counts the calls copied for a state (State).
	copies uint64
}

type handedRecord struct {
	seq uint64
	rec Call
}

// OnClockJump has f told of every event whose time is more than a minute
// away from the tracker's clock and not (yet) confirmed by a second event
// near it: such an event does not move the clock, so one event dated in
// 2099 cannot make the stale sweep close every call. f runs on the
// tracker's goroutine and must not block. Call it before Run.
func (t *Tracker) OnClockJump(f func(eventAt, clock time.Time)) { t.cont.jumped = f }

// KeepState has save called with the calls in progress whenever a call
// starts or ends and as each record is handed to the call log (the
// changes of saveInterval, 50 ms, sharing one save), at most every tick
// (250 ms) while they change otherwise, and when Run stops; failed (may
// be nil) hears of a save that failed. At a stop, a save that works
// carries the calls in progress to the next start (Restore) instead of
// recording them cut short. save runs on a goroutine of the tracker's
// own, one call at a time, so that call tracking never waits on the
// disk; that goroutine also hands the call log its records, each once it
// is saved (CallLog.Record is then called from it, not from Run's). Call
// it before Run.
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

// saveNow saves the calls in progress if a call started or ended since
// the last save, and the saver is free.
func (t *Tracker) saveNow() {
	if t.cont.urgent && !t.cont.batch {
		t.saveAsync()
	}
}

// checkpoint saves the calls in progress if they changed since the last
// save, and the saver is free: every tick.
func (t *Tracker) checkpoint(time.Time) {
	if t.cont.dirty && !t.cont.batch {
		t.saveAsync()
	}
}

// saveInterval is the least time from the start of one save to the start
// of the next: the calls of that while share a save (one copy, one
// encoding, one write), so that the cost of saving does not grow with
// the square of the rate. It bounds how late a record reaches the call
// log (the interval and a write); it is not a loss: a record is kept
// until it was saved and handed over.
const saveInterval = 50 * time.Millisecond

// saveReq is a state for the saver to write, with the numbers of the
// records it holds; done, if set, hears how the write went.
type saveReq struct {
	s    TrackerState
	seqs []uint64
	done chan error
}

// startSaver starts the saver goroutine, once.
func (t *Tracker) startSaver() {
	if t.cont.pending == nil {
		t.cont.pending, t.cont.free, t.cont.saverDone = make(chan saveReq, 1), make(chan struct{}, 1), make(chan struct{})
		go t.saver(t.cont.pending, t.cont.free, t.cont.saverDone)
	}
}

// saverFree is what Run waits on for the saver to be free when a save is
// due (a call started or ended) and it was busy; nil when none is due.
func (t *Tracker) saverFree() <-chan struct{} {
	if t.cont.keep == nil || t.cont.pending == nil || !t.cont.urgent || t.cont.batch {
		return nil
	}
	return t.cont.free
}

// request copies the state and hands it to the saver, which is free (its
// token was taken): the state is copied only when it will be written,
// never for a save a later one supersedes. The state is a copy; nothing
// in it is changed after.
func (t *Tracker) request(done chan error) {
	delivered := t.cont.delivered.Load()
	t.cont.handed = slices.DeleteFunc(t.cont.handed, func(h handedRecord) bool { return h.seq <= delivered })
	r := saveReq{s: t.State(), done: done}
	for _, h := range t.cont.handed {
		r.seqs = append(r.seqs, h.seq)
	}
	t.cont.pending <- r // never waits: the saver is free, and takes one at a time
	t.cont.dirty, t.cont.urgent = false, false
}

// saveAsync has the state saved without waiting if the saver is free;
// otherwise the save stays due (dirty, urgent), and Run makes it as the
// saver becomes free (urgent) or at the next tick. Call tracking never
// waits on the disk.
func (t *Tracker) saveAsync() {
	if t.cont.keep == nil {
		return
	}
	t.startSaver()
	select {
	case <-t.cont.free:
		t.request(nil)
	default:
	}
}

// saveFreed makes the save that was due when the saver was busy, now that
// it is free (its token was taken by Run's select).
func (t *Tracker) saveFreed() { t.request(nil) }

// saveSync saves the state and waits for it to be written (at a stop).
func (t *Tracker) saveSync() error {
	if t.cont.keep == nil {
		return nil
	}
	t.startSaver()
	<-t.cont.free
	done := make(chan error, 1)
	t.request(done)
	return <-done
}

// saver writes the states handed to it until pending is closed, and after
// each hands the call log the records it holds that it has not yet. A
// record is handed over even if the state could not be written: the call
// log must have it. It says it is free for the next state by putting a
// token in free, saveInterval after it began the last.
func (t *Tracker) saver(pending <-chan saveReq, free chan<- struct{}, done chan<- struct{}) {
	defer close(done)
	free <- struct{}{}
	var wait *time.Timer
	for r := range pending {
		began := time.Now()
		err := t.cont.keep(r.s)
		if err != nil && t.cont.keepFailed != nil {
			t.cont.keepFailed(err)
		}
		for i, seq := range r.seqs {
			if seq > t.cont.delivered.Load() {
				t.log.Record(r.s.Handed[i])
				t.cont.delivered.Store(seq)
			}
		}
		if r.done != nil {
			r.done <- err // a stop, which does not wait for the interval
		} else if d := saveInterval - time.Since(began); d > 0 {
			if wait == nil {
				wait = time.NewTimer(d)
			} else {
				wait.Reset(d)
			}
			<-wait.C
		}
		free <- struct{}{}
	}
}

// endSaving has the last changes saved (records handed over while the
// saver was busy, after a stop's save failed or the events ended), waits
// for the saver to write what it was handed, and ends it.
func (t *Tracker) endSaving() {
	if t.cont.pending != nil {
		if t.cont.urgent || len(t.cont.handed) > 0 && t.cont.handed[len(t.cont.handed)-1].seq > t.cont.delivered.Load() {
			<-t.cont.free
			t.request(nil)
		}
		close(t.cont.pending)
		<-t.cont.saverDone
		t.cont.pending = nil
	}
}

// handOver gives the call log a call's record. With a state kept, the
// saver does, once the record is saved with the state (the call gone from
// the calls in progress): a crash before the call log has it, or before
// the next save, makes the next start hand it over again, the same
// record, which the call log keeps once. So a record is neither lost nor
// followed by a different one, and call tracking does not wait.
func (t *Tracker) handOver(rec Call) {
	if t.cont.keep == nil {
		t.log.Record(rec)
		return
	}
	rec.Classification = nil // for the admin page only, which has it already
	t.cont.seq++
	t.cont.handed = append(t.cont.handed, handedRecord{seq: t.cont.seq, rec: rec})
	// Due until saved: if the saver is busy now, Run saves as it is free
	// (a record handed at a tick, with no event to follow, must not wait
	// for one).
	t.cont.urgent = true
	if !t.cont.batch {
		t.saveAsync()
	}
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
	t.unseen.stopping = true
	if t.cont.keep != nil && t.saveSync() == nil {
		return
	}
	t.Close(CloseShutdown)
}

// unseenPhoneEnds flags the offers of c, as it is recorded, when an
// operator's phone leg of it is still up: that phone's end (when it
// stopped ringing, or hung up) was never seen. Asterisk ends the phones
// with the caller, so a continuous view sees them go within the linger;
// one still up was lost with the view (an ARI drop, or a kill -9 after
// the call ended but before its last legs' ends were saved, restored
// so) or is later than the linger. Either way the record must not say
// the offer's end as if it were seen.
func (t *Tracker) unseenPhoneEnds(c *call) {
	for _, l := range c.legs {
		if l.alive && l.offer != nil && l.offer.EndedAt == nil {
			addGap(c, GapOffers)
			return
		}
	}
}

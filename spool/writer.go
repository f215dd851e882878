package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// Saver is the database as the Writer sees it. SaveCalls must store a batch
// in one transaction and skip calls already stored as completely: the
// Writer delivers a batch again when it cannot tell whether the last
// attempt committed. Refused says whether an error of SaveCalls or
// SaveUnseen is the database refusing the data (saving it again would fail
// again) rather than being away; RejectCall sets aside a record the
// database refused, keeping it once.
type Saver interface {
	SaveCalls(ctx context.Context, calls []screenpop.Call) error
	RejectCall(ctx context.Context, c screenpop.Call, reason error) error
	Refused(err error) bool
}

// UnseenSaver is a Saver that keeps unseen periods too (SaveUnseen: in one
// transaction, each once by its pbx and from). A Writer whose Saver is not
// one logs the periods it reads and drops them, counted in Dropped.
type UnseenSaver interface {
	SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error
}

// Rejection is the last record the database refused, for the admin page.
type Rejection struct {
	CallID string
	Reason string
	At     time.Time
}

// Writer is the call log the tracker records into (screenpop.CallLog).
// Record spools the call and returns; Run, in its own goroutine, writes
// spooled calls to the database in batches, and keeps them spooled, retrying,
// while the database is away. A record the database refuses (Saver.Refused) is
// found by splitting its batch, set aside with RejectCall and counted in
// Rejected; the rest of the batch is written.
type Writer struct {
	sp  *Spool
	db  Saver
	log *slog.Logger

	wake    chan struct{} // Record's nudge to Run; one pending nudge is enough
	urgent  chan struct{} // ends a group commit's wait: a Flush, or a full batch
	stopped chan struct{} // closed when Run returns
	running atomic.Bool

	written, failures, dropped, corrupt, rejected atomic.Uint64
	idle                                          atomic.Uint64 // times Run began to wait for a call, the spool written out

	mu       sync.Mutex
	progress chan struct{} // closed, and replaced, whenever records leave the spool
	// settled is the spool's acknowledged count as of the last progress:
	// the records out of the spool and already counted (Written, Corrupt).
	// Flush waits on it rather than on the spool's own count, which moves
	// first, so that whoever Flush returns to reads the counts that go
	// with it.
	settled     uint64
	lastRefused Rejection
	finishBy    time.Time // the last attempt's deadline, if sooner than finalTimeout

	// Tuning; tests shorten the waits.
	batchSize    int
	minBackoff   time.Duration
	maxBackoff   time.Duration
	finalTimeout time.Duration // for the last attempt once Run's ctx is done
	saveTimeout  time.Duration // for one batch: a database that hangs is one that failed
	// linger is the group commit: once a call wakes Run, the calls of the
	// next linger join its batch, so that a steady 100 calls/s costs ten
	// transactions, spool fsyncs and cursor writes a second, not a
	// hundred. A Flush or a full batch does not wait.
	linger time.Duration
}

var (
	_ screenpop.CallLog   = (*Writer)(nil)
	_ screenpop.UnseenLog = (*Writer)(nil)
)

// NewWriter returns a Writer that spools into sp and writes to db. Nothing
// reaches db until Run is called. A nil log discards.
func NewWriter(sp *Spool, db Saver, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, acked := sp.counts()
	return &Writer{
		sp:           sp,
		settled:      acked,
		db:           db,
		log:          log,
		wake:         make(chan struct{}, 1),
		urgent:       make(chan struct{}, 1),
		stopped:      make(chan struct{}),
		progress:     make(chan struct{}),
		batchSize:    500,
		minBackoff:   100 * time.Millisecond,
		maxBackoff:   5 * time.Second,
		finalTimeout: 5 * time.Second,
		saveTimeout:  30 * time.Second,
		linger:       DefaultLinger,
	}
}

// DefaultLinger is how long a call waits for others to share its
// transaction (see Writer). It is also how much longer a power failure
// (not a crash of the process) can lose the last calls of.
const DefaultLinger = 100 * time.Millisecond

// Record spools c for writing. It never waits on the database. If the spool
// cannot take the call (it is full: the database has been away long enough
// to fill it), the call is lost, counted in Dropped and logged.
func (w *Writer) Record(c screenpop.Call) {
	c.Classification = nil // for the admin page only; the store keeps none
	if err := w.sp.Append(c); err != nil {
		w.dropped.Add(1)
		w.log.Error("lost a call: it could not be spooled for the call log", "call_id", c.ID, "err", err)
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if w.sp.Depth() >= w.batchSize {
		w.hurry()
	}
}

// RecordUnseen spools an unseen period for writing, as Record a call: it
// reaches the database through the same spool, in order with the calls.
func (w *Writer) RecordUnseen(p screenpop.UnseenPeriod) {
	if err := w.sp.AppendUnseen(p); err != nil {
		w.dropped.Add(1)
		w.log.Error("lost an unseen period: it could not be spooled for the call log", "pbx", p.PBX, "from", p.From, "to", p.To, "err", err)
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// hurry ends a group commit's wait.
func (w *Writer) hurry() {
	select {
	case w.urgent <- struct{}{}:
	default:
	}
}

// Depth is the number of calls waiting in the spool.
func (w *Writer) Depth() int { return w.sp.Depth() }

// Written counts calls in batches the database accepted. A call delivered
// again after a crash counts again, though stored once.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Failures counts failed attempts to write a batch.
func (w *Writer) Failures() uint64 { return w.failures.Load() }

// Dropped counts calls lost because they could not be spooled. It should
// stay 0.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Corrupt counts spool records skipped because they were not calls (a line
// torn by a crash).
func (w *Writer) Corrupt() uint64 { return w.corrupt.Load() }

// Rejected counts records the database refused since the start, set aside
// in its rejected_calls; LastRejected is the last of them (zero if none).
func (w *Writer) Rejected() uint64 { return w.rejected.Load() }

// LastRejected: see Rejected.
func (w *Writer) LastRejected() Rejection {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastRefused
}

// FinishBy bounds Run's last attempt, once its context is done, to end by
// t: a daemon stopping within a bound does not wait on a database that
// hangs. What is not written by then stays in the spool for the next start.
func (w *Writer) FinishBy(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finishBy = t
}

// Run writes spooled calls to the database until ctx is done, then makes
// one last attempt, bounded in time, to write what is left. Calls it could
// not write stay in the spool for the next start; Run then says how many.
// Run must be called once.
func (w *Writer) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("call log writer: Run called twice")
	}
	defer close(w.stopped)

	var (
		backoff   time.Duration
		downSince time.Time // zero while the database is reachable
		attempts  int       // failed, since downSince
	)
	for {
		err := w.drain(ctx)
		if ctx.Err() != nil {
			return w.last(ctx)
		}
		if err == nil {
			if !downSince.IsZero() {
				w.log.Info("call log writes resumed", "after", time.Since(downSince).Round(time.Millisecond), "failed_attempts", attempts)
				downSince, attempts, backoff = time.Time{}, 0, 0
			}
			w.idle.Add(1)
			select {
			case <-w.wake:
			case <-ctx.Done():
				return w.last(ctx)
			}
			if !w.gather(ctx) {
				return w.last(ctx)
			}
			continue
		}
		// One log line per outage: a retry every few seconds for an hour
		// would bury everything else.
		if downSince.IsZero() {
			downSince = time.Now()
			w.log.Error("cannot write the call log; calls wait in the spool and writes are retried", "waiting", w.Depth(), "err", err)
		}
		attempts++
		backoff = min(max(2*backoff, w.minBackoff), w.maxBackoff)
		// Jitter, so that daemons restarted together do not retry in step.
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return w.last(ctx)
		}
	}
}

// gather waits for the calls of the next linger to join the batch, unless
// hurried; false when ctx is done.
func (w *Writer) gather(ctx context.Context) bool {
	if w.linger <= 0 || w.sp.Depth() >= w.batchSize {
		return true
	}
	t := time.NewTimer(w.linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.urgent:
	case <-ctx.Done():
		return false
	}
	return true
}

// last is Run's final attempt, on a context of its own since Run's is done.
func (w *Writer) last(ctx context.Context) error {
	deadline := time.Now().Add(w.finalTimeout)
	w.mu.Lock()
	if !w.finishBy.IsZero() && w.finishBy.Before(deadline) {
		deadline = w.finishBy
	}
	w.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if err := w.drain(ctx); err != nil {
		return fmt.Errorf("call log: %d calls left in the spool for the next start: %w", w.Depth(), err)
	}
	return nil
}

// drain writes batches until the spool is empty or an attempt fails.
func (w *Writer) drain(ctx context.Context) error {
	for {
		// Before each batch: the crash window is the time between two.
		if err := w.sp.sync(); err != nil {
			return err
		}
		b, err := w.sp.peek(w.batchSize)
		if err != nil {
			return err
		}
		if len(b.bad) > 0 {
			for _, r := range b.bad {
				w.log.Error("skipped a corrupt call log spool record", "segment", r.segment, "offset", r.offset, "err", r.err)
			}
			// Acknowledged in memory even if the cursor file could not
			// follow, as a batch written below.
			err := w.sp.ack(b.skip)
			w.corrupt.Add(uint64(len(b.bad)))
			w.signal()
			if err != nil {
				return err
			}
		}
		if len(b.calls) == 0 && len(b.unseen) == 0 {
			if len(b.bad) > 0 {
				continue
			}
			return nil
		}
		written, err := w.saveOrReject(ctx, b.calls)
		if err == nil {
			err = w.saveUnseen(ctx, b.unseen)
		}
		if err != nil {
			w.failures.Add(1)
			return err
		}
		// A crash here delivers the batch again at the next start:
		// SaveCalls skips what it already has. The batch is acknowledged
		// in memory even if the cursor file could not follow (ack's
		// error): it is counted, and a Flush told, either way.
		err = w.sp.ack(b.good)
		// Counted once out of the spool, so that Written and Depth
		// never both count a call.
		w.written.Add(uint64(written))
		w.signal()
		if err != nil {
			return err
		}
	}
}

// saveOrReject writes calls, setting aside those the database refuses: a
// refused batch is split in halves until the refused record is alone.
// Any other error stops it, and the whole batch stays in the spool: the
// halves already written are skipped when it is delivered again.
func (w *Writer) saveOrReject(ctx context.Context, calls []screenpop.Call) (written int, err error) {
	err = w.save(ctx, calls)
	switch {
	case err == nil:
		return len(calls), nil
	case !w.db.Refused(err):
		return 0, err
	case len(calls) > 1:
		half := len(calls) / 2
		first, err := w.saveOrReject(ctx, calls[:half])
		if err != nil {
			return 0, err
		}
		second, err := w.saveOrReject(ctx, calls[half:])
		return first + second, err
	}
	c := calls[0]
	rctx, cancel := context.WithTimeout(ctx, w.saveTimeout)
	defer cancel()
	if rerr := w.db.RejectCall(rctx, c, err); rerr != nil {
		return 0, rerr
	}
	w.rejected.Add(1)
	w.mu.Lock()
	w.lastRefused = Rejection{CallID: c.ID, Reason: err.Error(), At: time.Now().UTC()}
	w.mu.Unlock()
	w.log.Error("the database refused a call record; it is set aside in rejected_calls (screenpopd calls --rejected) and the others are written",
		"call_id", c.ID, "err", err)
	return 0, nil
}

// saveUnseen writes the unseen periods of a batch, after its calls. They
// are the daemon's own, never a caller's text: one the database refuses
// is logged and dropped (counted in Dropped) rather than held forever.
func (w *Writer) saveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error {
	if len(periods) == 0 {
		return nil
	}
	us, ok := w.db.(UnseenSaver)
	var err error
	if ok {
		ctx, cancel := context.WithTimeout(ctx, w.saveTimeout)
		defer cancel()
		err = us.SaveUnseen(ctx, periods)
	}
	switch {
	case ok && err == nil:
		return nil
	case ok && !w.db.Refused(err):
		return err
	case !ok:
		err = errors.New("this store keeps no unseen periods")
	}
	w.dropped.Add(uint64(len(periods)))
	for _, p := range periods {
		w.log.Error("lost an unseen period: the database did not keep it", "pbx", p.PBX, "from", p.From, "to", p.To, "reason", p.Reason, "err", err)
	}
	return nil
}

func (w *Writer) save(ctx context.Context, calls []screenpop.Call) error {
	ctx, cancel := context.WithTimeout(ctx, w.saveTimeout)
	defer cancel()
	return w.db.SaveCalls(ctx, calls)
}

// signal wakes every Flush waiting for records to leave the spool, once
// they are counted. Only Run acknowledges records, and it signals after
// each acknowledgement, so the spool's count is the one settled.
func (w *Writer) signal() {
	_, acked := w.sp.counts()
	w.mu.Lock()
	w.settled = acked
	close(w.progress)
	w.progress = make(chan struct{})
	w.mu.Unlock()
}

// Flush waits until every call recorded before it was called has been
// written to the database (or skipped as corrupt). It needs Run to be
// running; it returns early if ctx ends or Run returns.
func (w *Writer) Flush(ctx context.Context) error {
	target, _ := w.sp.counts()
	for {
		w.mu.Lock()
		progress, settled := w.progress, w.settled
		w.mu.Unlock()
		if settled >= target {
			return nil
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
		w.hurry()
		select {
		case <-progress:
		case <-w.stopped:
			w.mu.Lock()
			settled := w.settled
			w.mu.Unlock()
			if settled >= target {
				return nil
			}
			return fmt.Errorf("flush call log: the writer has stopped with %d calls in the spool", w.Depth())
		case <-ctx.Done():
			return fmt.Errorf("flush call log: %d calls still in the spool: %w", w.Depth(), ctx.Err())
		}
	}
}

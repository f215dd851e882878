package screenpop

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// The seams between call tracking and where its events come from and its
// outputs go, so that one core runs in a single process (today's daemon)
// and in a cluster of replicas (natsbus). In a cluster, one replica per
// box holds a lease and reads Asterisk; every event it reads goes into the
// box's log first, and every replica's tracker folds that log: the same
// log gives every tracker the same calls, so a standby is as far as the
// holder and a takeover replays nothing. Only the holder acts on what the
// tracker finds (pops, Stasis, records): its output duty.

// LogEntry is one event of a box's log, with the epoch of the lease under
// which it was read (the lease's fencing number) and its position in the
// log.
type LogEntry struct {
	Epoch uint64
	Seq   uint64
	Event Event
}

// EventLog is where a box's reader puts each event before it is tracked.
type EventLog interface {
	// Append adds ev, read under the lease's epoch, to the log.
	Append(ctx context.Context, epoch uint64, ev Event) error
}

// Lease says whether this process holds its box's lease: may read
// Asterisk and act on calls. Epoch is the lease's fencing number, higher
// for each new holder; 0 when it is not held.
type Lease interface {
	Epoch() uint64
}

// Held is the lease of a single process: always held, epoch 1.
type Held struct{}

// Epoch is always 1.
func (Held) Epoch() uint64 { return 1 }

// ChannelLog is the event log of a single process: the channel call
// tracking reads (Tracker.Run). Append blocks while the channel is full,
// as the intake does.
type ChannelLog chan<- Event

// Append sends ev to the channel.
func (l ChannelLog) Append(ctx context.Context, _ uint64, ev Event) error {
	select {
	case l <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Follow folds a box's log until ctx is done or entries is closed. It
// reads no wall clock: the log's ticks move the tracker's clock, so that
// every replica following one log finishes every call at the same entry.
// An entry read under an older epoch than one already seen comes from a
// holder that lost its lease and had not yet noticed: it is ignored, by
// every follower alike. Calls still open at the end are left open (the
// next holder goes on with them), unless entries was closed: then they are
// recorded with CloseEndOfInput. Follow also answers Snapshot. It is used
// instead of Run. duty, if not nil, is told the epoch of each entry
// before it is applied (NewOutputDuty).
func (t *Tracker) Follow(ctx context.Context, entries <-chan LogEntry, duty *OutputDuty) error {
	defer close(t.stopped)
	if duty != nil {
		t.fold.duty = duty
		duty.clock = func() time.Time { return t.now }
	}
	for {
		select {
		case e, ok := <-entries:
			if !ok {
				t.Close(CloseEndOfInput)
				return nil
			}
			t.follow(e)
		case reply := <-t.snaps:
			reply <- t.snapshot()
		case <-ctx.Done():
			return nil
		}
	}
}

// follow applies one entry of the log.
func (t *Tracker) follow(e LogEntry) {
	if e.Epoch < t.fold.epoch {
		t.fold.fenced.Add(1)
		return
	}
	t.fold.epoch, t.fold.seq = e.Epoch, e.Seq
	if t.fold.duty != nil {
		t.fold.duty.entry(e.Epoch)
	}
	t.Handle(e.Event)
}

// followState is what Follow keeps: the highest epoch seen, the position
// of the last entry applied, how many entries were fenced off, and the
// output duty told of each entry.
type followState struct {
	epoch, seq uint64
	fenced     atomic.Uint64
	duty       *OutputDuty
}

// LogPosition is the epoch and position of the last entry Follow applied,
// and how many entries it ignored for an older epoch. It must be asked on
// the tracker's goroutine (an observer, a call log) or after Follow ends.
func (t *Tracker) LogPosition() (epoch, seq, fenced uint64) {
	return t.fold.epoch, t.fold.seq, t.fold.fenced.Load()
}

// Fenced is how many entries Follow ignored for an older epoch (a holder
// that lost its lease and had not yet noticed); it may be asked on any
// goroutine.
func (t *Tracker) Fenced() uint64 { return t.fold.fenced.Load() }

// recentRecords is how long the records of calls a replica tracked
// without the duty are kept, to be handed to the call log should it take
// the duty: longer than a holder may take to publish a record it made,
// shorter than the call log's de-duplication window.
const recentRecords = 2 * time.Minute

// OutputDuty passes the tracker's notices and records on only while this
// process holds the lease and the entry being tracked was read under it:
// the holder acts; standbys track, muted. When it takes the duty, the
// records it made while muted in the last two minutes go to the call log:
// the old holder may have died before writing them, and a call log that
// drops what it already has (by call) makes the rest harmless.
type OutputDuty struct {
	lease Lease
	on    bool
	logs  []*dutyLog
	clock func() time.Time
	// Changed, if set, is told each time the duty is taken or given up,
	// on the tracker's goroutine. Set it before Follow.
	Changed func(on bool, epoch uint64)
}

// NewOutputDuty returns the output duty of a tracker that follows a log
// under lease: wrap its call log and observers (CallLog, Observer), then
// pass it to Follow.
func NewOutputDuty(lease Lease) *OutputDuty {
	return &OutputDuty{lease: lease, clock: func() time.Time { return time.Time{} }}
}

// On reports whether the duty is held: on the tracker's goroutine only.
func (d *OutputDuty) On() bool { return d.on }

// entry is told the epoch of each entry before it is applied.
func (d *OutputDuty) entry(epoch uint64) {
	on := epoch != 0 && d.lease.Epoch() == epoch
	if on == d.on {
		return
	}
	d.on = on
	if on {
		for _, l := range d.logs {
			for _, r := range l.recent {
				l.log.Record(r)
			}
			l.recent = nil
			l.takeUnseen()
		}
	}
	if d.Changed != nil {
		d.Changed(on, epoch)
	}
}

// Observer returns obs, told of notices only while the duty is held.
func (d *OutputDuty) Observer(obs Observer) Observer { return dutyObserver{d, obs} }

// CallLog returns log, given records only while the duty is held; those
// made meanwhile are kept for recentRecords and given when it is taken.
func (d *OutputDuty) CallLog(log CallLog) CallLog {
	l := &dutyLog{d: d, log: log}
	d.logs = append(d.logs, l)
	return l
}

type dutyObserver struct {
	d   *OutputDuty
	obs Observer
}

func (o dutyObserver) Notice(n Notice) {
	if o.d.on {
		o.obs.Notice(n)
	}
}

type dutyLog struct {
	d      *OutputDuty
	log    CallLog
	recent []Call
	// recentUnseen are the unseen periods kept as recent is (duty_unseen.go).
	recentUnseen []UnseenPeriod
}

func (l *dutyLog) Record(c Call) {
	if l.d.on {
		l.log.Record(c)
		return
	}
	// Kept with the records of the last recentRecords, by the tracker's
	// clock.
	limit := l.d.clock().Add(-recentRecords)
	i := 0
	for i < len(l.recent) && l.recent[i].EndedAt.Before(limit) {
		i++
	}
	l.recent = append(l.recent[i:], c)
}

// Ringing is a ringing notice for each operator's phone that rings now
// for an open call, as the tracker gave it when the phone began to ring
// (At is when the call started). A replica that takes the output duty
// gives them to its popper again: pops the old holder had decided but not
// yet published died with it, and a hub that already shows the call
// ringing to the operator ignores the offer. It must be called on the
// tracker's goroutine (OutputDuty.Changed).
func (t *Tracker) Ringing() []Notice {
	var out []Notice
	for _, c := range t.calls {
		if c.ended {
			continue
		}
		for _, o := range c.offers {
			if o.Outcome != OutcomeRinging || o.RingingAt == nil {
				continue
			}
			n := t.notice(c, NoticeRinging)
			n.At = c.rec.StartedAt
			n.Operator = o.Operator
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Notice) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.CallID, b.CallID), strings.Compare(a.Operator, b.Operator))
	})
	return out
}

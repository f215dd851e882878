package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease is this replica's claim on one box: at most one replica holds it
// at a time; Epoch is its fencing number (the key's revision when it was
// taken), higher for every new holder, 0 while it is not held. It
// implements screenpop.Lease.
type Lease struct {
	b     *Bus
	pbx   string
	key   string
	epoch atomic.Uint64
	// superseded is told that the box's log has an entry of a newer
	// holder (Superseded).
	superseded chan struct{}
	// Takeovers counts the times this replica took the lease.
	Takeovers atomic.Uint64
	// released says the last take followed a holder's giving the lease
	// up (deleting it), not its expiry: a handover, which the old holder
	// may end by marking the log (HandedOver).
	released atomic.Bool
	// Yield, if set, is asked before each try to take the lease: true
	// (this replica holds its share of the boxes already) makes it wait a
	// TTL first, so that a replica holding fewer boxes takes the box; if
	// none does, this one takes it then. Set it before Run.
	Yield func() bool
}

// Released reports whether the lease held now was taken after the last
// holder gave it up (a handover), rather than after it expired or at the
// first start. It is meant for hold, which runs after it is set.
func (l *Lease) Released() bool { return l.released.Load() }

type leaseValue struct {
	Replica string    `json:"replica"`
	Since   time.Time `json:"since"`
}

// Lease returns this replica's lease on box pbx (not yet held: Run
// takes it).
func (b *Bus) Lease(pbx string) *Lease {
	return &Lease{b: b, pbx: pbx, key: "box." + kvToken(pbx), superseded: make(chan struct{}, 1)}
}

// Epoch is the fencing number under which this replica holds the lease,
// 0 when it does not.
func (l *Lease) Epoch() uint64 { return l.epoch.Load() }

// Superseded tells a holder handing the box over (Run's context ended)
// that the box's log has an entry of the replica that took it: it may
// stop reading Asterisk. It never blocks.
func (l *Lease) Superseded() {
	select {
	case l.superseded <- struct{}{}:
	default:
	}
}

// Holder says which replica holds the box now, as the bucket has it.
func (l *Lease) Holder(ctx context.Context) (replica string, epoch uint64, err error) {
	e, err := l.b.leases.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	var v leaseValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return "", 0, fmt.Errorf("read the lease of %s: %w", l.pbx, err)
	}
	return v.Replica, e.Revision(), nil
}

// Run takes the lease whenever it is free and holds it until ctx ends:
// each time it is taken, hold runs with a context that ends at once when
// the lease is lost (another replica's revision, or no renewal within the
// TTL); when ctx ends, the lease is given up (deleted) so that a standby
// takes it at once. hold must return when its context ends.
func (l *Lease) Run(ctx context.Context, hold func(ctx context.Context, epoch uint64)) error {
	w, err := l.b.leases.Watch(ctx, l.key, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch the lease of %s: %w", l.pbx, err)
	}
	defer w.Stop()
	ttl := l.b.cfg.LeaseTTL
	released := false
	for {
		if l.Yield != nil && l.Yield() && !sleep(ctx, ttl) {
			return nil
		}
		v, _ := json.Marshal(leaseValue{Replica: l.b.cfg.Replica, Since: time.Now().UTC()})
		cctx, cancel := context.WithTimeout(ctx, ttl/3)
		freed := l.freedByHolder(cctx)
		rev, err := l.b.leases.Create(cctx, l.key, v)
		cancel()
		if err == nil {
			l.released.Store(released || freed)
			l.hold(ctx, rev, v, hold)
		} else if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			l.b.log.Warn("take a box's lease", "pbx", l.pbx, "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		// Wait for the key to go (a holder stopping deletes it; an expiry
		// shows as no update) or a third of the TTL, with jitter so that
		// standbys do not all ask at once.
		wait := time.NewTimer(ttl/3 + rand.N(ttl/6))
		released = false
	waiting:
		for {
			select {
			case <-ctx.Done():
				wait.Stop()
				return nil
			case <-wait.C:
				break waiting
			case e := <-w.Updates():
				if e != nil && e.Operation() != jetstream.KeyValuePut {
					released = e.Operation() == jetstream.KeyValueDelete
					wait.Stop()
					break waiting
				}
			}
		}
	}
}

// freedByHolder reports whether the key's last entry is a holder's giving
// the lease up (its delete marker, kept for a TTL), not its expiry or no
// entry at all. The watch tells the same, but its update may come after
// the timer that makes Run try again: a standby whose try found the key
// just deleted took the box as after a crash, with a resync. A take that
// follows a delete it did not see is a handover all the same; one told
// so wrongly only waits for a mark that endsHandedOver checks strictly.
func (l *Lease) freedByHolder(ctx context.Context) bool {
	s, err := l.b.js.Stream(ctx, "KV_"+LeasesBucket)
	if err != nil {
		return false
	}
	m, err := s.GetLastMsgForSubject(ctx, "$KV."+LeasesBucket+"."+l.key)
	return err == nil && m.Header.Get("KV-Operation") == "DEL"
}

// hold keeps the lease taken at revision rev until it is lost or ctx
// ends.
func (l *Lease) hold(ctx context.Context, rev uint64, v []byte, hold func(context.Context, uint64)) {
	epoch := rev
	ttl := l.b.cfg.LeaseTTL
	// hold's context ends only when this replica stops acting on the box
	// (lost), not with ctx: a handover keeps reading while the next holder
	// starts.
	hctx, lost := context.WithCancel(context.WithoutCancel(ctx))
	defer lost()
	select {
	case <-l.superseded: // from an earlier hold
	default:
	}
	l.epoch.Store(epoch)
	l.Takeovers.Add(1)
	l.b.log.Info("took a box's lease", "pbx", l.pbx, "epoch", epoch)
	done := make(chan struct{})
	go func() { defer close(done); hold(hctx, epoch) }()
	renewed := time.Now()
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// Handed over (make before break): the key is freed first, so
			// that a standby takes the box while this replica still reads
			// Asterisk and acts on what it read; it stops once the log has
			// an entry of the new holder (Superseded), Asterisk gave the
			// application to it (hold returns), or a TTL passed. Entries it
			// appends after the new holder's first are fenced off by every
			// tracker; the new holder's resync covers them.
			dctx, cancel := context.WithTimeout(context.Background(), ttl)
			err := l.b.leases.Delete(dctx, l.key, jetstream.LastRevision(rev))
			cancel()
			if err != nil {
				l.b.log.Warn("give a box's lease up", "pbx", l.pbx, "err", err)
			} else {
				grace := time.NewTimer(ttl)
				select {
				case <-done:
				case <-l.superseded:
				case <-grace.C:
				}
				grace.Stop()
			}
			l.epoch.Store(0)
			lost()
			<-done
			return
		case <-done:
			// The holder stopped on its own (Asterisk said another app
			// took over): give the lease up.
			l.epoch.Store(0)
			dctx, cancel := context.WithTimeout(context.Background(), ttl)
			l.b.leases.Delete(dctx, l.key, jetstream.LastRevision(rev))
			cancel()
			return
		case <-tick.C:
			// A renewal must land before the TTL runs out since the last
			// one; past that, another replica may hold the box.
			left := ttl - time.Since(renewed)
			if left <= 0 {
				l.lose(epoch, "not renewed within the TTL", lost, done)
				return
			}
			// Not cut short by ctx: a renewal that lands after its caller
			// gave up would leave rev behind the key's, and the handover's
			// delete would then fail.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), left)
			start := time.Now()
			n, err := l.b.leases.Update(cctx, l.key, v, rev)
			cancel()
			switch {
			case err == nil:
				rev, renewed = n, start
			case ctx.Err() != nil:
			case isWrongRevision(err):
				l.lose(epoch, err.Error(), lost, done)
				return
			default:
				l.b.log.Warn("renew a box's lease", "pbx", l.pbx, "err", err)
				if time.Since(renewed) >= ttl {
					l.lose(epoch, "not renewed within the TTL", lost, done)
					return
				}
			}
		}
	}
}

func (l *Lease) lose(epoch uint64, why string, lost context.CancelFunc, done <-chan struct{}) {
	l.epoch.Store(0)
	lost()
	<-done
	l.b.log.Warn("lost a box's lease", "pbx", l.pbx, "epoch", epoch, "why", why)
}

// isWrongRevision reports a compare-and-set that failed: someone else
// wrote the key, or it expired.
func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		errors.Is(err, jetstream.ErrKeyNotFound)
}

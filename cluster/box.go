package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/screenpop"
)

// clusterBox is one box as a replica runs it: its lease, its log
// followed by its own call tracking, its output duty (pops, Stasis,
// records, unseen periods) acted on while this replica holds the lease,
// and its publishers of screen messages and records.
type clusterBox struct {
	pbx    string
	bus    *natsbus.Bus
	log    *slog.Logger
	ariCfg ari.Config
	am     *ari.Metrics
	rest   *ari.Client // REST calls only (Stasis continues, click-to-dial): never run
	// out is the box's side of Asterisk's outbound websocket when it
	// connects outbound (outbound.go), nil otherwise; commands
	// go over it, or over rest.
	out      *clusterOutbound
	commands clusterCommands
	lease    *natsbus.Lease
	duty     *screenpop.OutputDuty
	tracker  *screenpop.Tracker
	follower *natsbus.Follower
	records  *natsbus.CallLog
	screens  *natsbus.Screens
	producer *screenpop.Hub
	popper   *screenpop.Popper
	stasis   *screenpop.Stasis
	// repop is set when this replica takes the output duty, and served by
	// the resync its reader starts with (both on the tracker's
	// goroutine).
	repop bool
	// gapless is set by hold when it took the box over without a gap
	// (handover.go): no resync follows, the duty's taking repops.
	gapless atomic.Bool

	mu       sync.Mutex
	ingested *natsbus.Ingest
	// release hands the box over, for balance (runLease).
	release context.CancelFunc
}

// clusterBoxDeps is what every box of a replica shares.
type clusterBoxDeps struct {
	cfg Config
	bus *natsbus.Bus
	ids *ari.Identities
	dir screenpop.Directory
	// callLog is a box's call log, counted and logged as every box's,
	// given the publisher of its records.
	callLog func(pbx string, records screenpop.CallLog) screenpop.CallLog
	log     *slog.Logger
	// outbound takes Asterisk's outbound websockets for every box that
	// connects outbound.
	outbound *ari.OutboundServer
}

// newClusterBox builds box b's part of a replica.
func newClusterBox(ctx context.Context, d clusterBoxDeps, b Box) (*clusterBox, error) {
	cfg, pbx := d.cfg, b.Name
	log := d.log.With("pbx", pbx)
	cb := &clusterBox{pbx: pbx, bus: d.bus, log: log, am: ari.NewMetrics(b.Metrics)}
	cb.ariCfg = b.ARI
	cb.ariCfg.Identities = d.ids
	var err error
	cb.rest, err = ari.NewClient(cb.ariCfg, ari.NewIntake(ari.NewDecoder(cfg.DIDVariable), make(chan screenpop.Event), cb.am, log), cb.am, log)
	if err == nil {
		// With Asterisk's outbound websocket, Asterisk dials the
		// replicas and the holder's commands go over its websocket.
		cb.out, err = newClusterOutbound(cfg, b, cb.ariCfg, d.outbound, cb.am, log)
	}
	if err != nil {
		if pbx != "" {
			return nil, fmt.Errorf("box %q: %w", pbx, err)
		}
		return nil, err
	}
	cb.commands = cb.out.commands(cb.rest)

	// Screens: the holder's hub decides each message and gives it to the
	// stream; every replica's pages are served by a mirror of the stream.
	cb.screens = d.bus.Screens(pbx)
	cb.producer = screenpop.NewHub(0, 0)
	cb.producer.SendTo(cb.screens)
	cb.popper = screenpop.NewPopper(d.dir, cfg.Card, cb.producer, log)
	cb.stasis = screenpop.NewStasis(cb.commands, cb.popper, cfg.StasisDeadline, log)
	cb.stasis.Took = ari.StasisTimes(b.Metrics)

	cb.lease = d.bus.Lease(pbx)
	cb.duty = screenpop.NewOutputDuty(cb.lease)
	cb.records = d.bus.CallLog(pbx)
	cb.tracker = screenpop.NewTracker(cfg.Tracker,
		cb.duty.CallLog(d.callLog(pbx, cb.records)),
		cb.duty.Observer(screenpop.OnBox(pbx, screenpop.Observers{cb.stasis, cb.popper})))
	cb.follower = d.bus.Follower(pbx)
	cb.tracker.Resynced = cb.resynced
	cb.duty.Changed = func(on bool, epoch uint64) { cb.dutyChanged(ctx, on, epoch) }

	b.Metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_cluster_holder", Help: "1 while this replica holds its box's lease."},
			func() float64 { return b2f(cb.lease.Epoch() != 0) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_cluster_takeovers_total", Help: "Times this replica took its box's lease."},
			func() float64 { return float64(cb.lease.Takeovers.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_cluster_log_lag", Help: "Messages of the box's log this replica's tracker has yet to read."},
			func() float64 { return float64(cb.follower.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_cluster_records_waiting", Help: "Call records waiting to be published to the calls stream."},
			func() float64 { return float64(cb.records.Waiting()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_cluster_events_appended_total", Help: "Events this replica appended to the box's log in its current epoch."},
			func() float64 {
				cb.mu.Lock()
				defer cb.mu.Unlock()
				if cb.ingested == nil {
					return 0
				}
				return float64(cb.ingested.Appended.Load())
			}),
		// cluster2: the fencing seen at work.
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_cluster_log_fenced_total", Help: "Entries of the box's log this replica's tracker ignored for an older epoch (a holder that had lost its lease)."},
			func() float64 { return float64(cb.tracker.Fenced()) }),
	)
	return cb, nil
}

// resynced is told of each resync of the box's log, on the tracker's
// goroutine.
func (cb *clusterBox) resynced(n screenpop.ResyncCounts) {
	cb.log.Info("resynced with Asterisk", "channels", n.Channels, "calls_ended_unseen", n.Ended,
		"calls_first_seen", n.FirstSeen, "calls_in_progress", n.Open)
	if !cb.repop || !cb.duty.On() {
		return
	}
	cb.repop = false
	cb.popRinging()
}

// popRinging: pops the old holder decided but had not yet published died
// with it: every phone ringing now, as the resync (or the old holder's
// last entries) has it, gets its pop (the hub ignores an offer its
// screens already show ringing). On the tracker's goroutine.
func (cb *clusterBox) popRinging() {
	ringing := cb.tracker.Ringing()
	for _, r := range ringing {
		r.PBX = cb.pbx
		cb.popper.Notice(r)
	}
	cb.log.Info("gave the phones ringing at the takeover their pops", "phones_ringing", len(ringing))
}

// dutyChanged is told, on the tracker's goroutine, each time this
// replica takes or gives up the box's output duty.
func (cb *clusterBox) dutyChanged(ctx context.Context, on bool, epoch uint64) {
	if !on {
		cb.log.Info("gave up the output duty", "epoch", epoch)
		if epoch > cb.lease.Epoch() && cb.lease.Epoch() != 0 {
			cb.lease.Superseded() // cluster2: a handover's new holder is in the log
		}
		return
	}
	// Go on from the operators' screens as the old holder left them.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	n, err := cb.screens.Restore(rctx, cb.producer)
	cancel()
	if err != nil {
		cb.log.Error("read the operators' screens at takeover", "err", err)
	}
	if cb.gapless.Load() {
		cb.popRinging() // no resync comes: the old holder's entries are all applied
	} else {
		cb.repop = true // cluster2: see resynced
	}
	cb.log.Info("took the output duty", "epoch", epoch, "screens", n)
}

// hold reads Asterisk into the box's log while the lease is held, under
// epoch, until hctx ends (the lease lost or handed over); holding is told
// of the reader (nil once it stopped), for the admin page.
func (cb *clusterBox) hold(hctx context.Context, epoch uint64, didVariable string, queue int, holding func(*ari.Client, *ari.Intake)) {
	events := make(chan screenpop.Event, queue)
	intake := ari.NewIntake(ari.NewDecoder(didVariable), events, cb.am, cb.log)
	client, err := ari.NewClient(cb.ariCfg, intake, cb.am, cb.log)
	if err != nil {
		cb.log.Error("read Asterisk", "err", err)
		<-hctx.Done()
		return
	}
	cb.gapless.Store(false)
	holding(client, intake) // cluster operations: the admin page's ARI part
	defer holding(nil, nil)
	in := cb.ingestUnder(epoch)
	rctx, stop := context.WithCancel(hctx)
	readDone := make(chan error, 1)
	go func() { readDone <- client.Run(rctx) }()
	if cb.lease.Released() {
		// A handover: this connection made Asterisk give the old
		// holder's application to us; it appends what it read, then
		// its mark (natsbus/handover.go). Until then ours wait.
		if cb.bus.WaitHandedOver(rctx, cb.pbx, epoch, handoverWait) {
			in.SkipResync()
			cb.gapless.Store(true)
			cb.log.Info("took the box over without a gap: the old holder's events end where ours begin", "epoch", epoch)
		} else if rctx.Err() == nil {
			cb.log.Warn("the old holder did not mark the log within the wait; taking the box over with a resync", "epoch", epoch, "waited", handoverWait)
		}
	}
	if err := in.Run(rctx, events, intake.Replaced); err != nil && !errors.Is(err, context.Canceled) {
		cb.log.Warn("stopped reading the box", "epoch", epoch, "why", err)
	}
	stop()
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer fcancel()
	if intake.Replaced() {
		// Asterisk sends us nothing more (ApplicationReplaced is the
		// last it sends): what we read goes into the log at once, then
		// the mark, and the next holder's events follow ours without a
		// gap. The socket closes meanwhile.
		err := appendRest(fctx, in, epoch, events, intake)
		if err == nil {
			err = in.HandedOver(fctx)
		}
		if err != nil {
			cb.log.Warn("hand the box over without a gap; the next holder resyncs", "epoch", epoch, "err", err)
		}
		<-readDone
		return
	}
	<-readDone
	// What the reader handed over before it stopped goes into the log
	// under this epoch; should the lease be gone already, followers
	// ignore it.
	appendRest(fctx, in, epoch, events, intake)
}

func (cb *clusterBox) ingestUnder(epoch uint64) *natsbus.Ingest {
	in := cb.bus.Ingest(cb.pbx, epoch)
	cb.setIngested(in)
	return in
}

// setIngested makes in the appender the box's metrics count.
func (cb *clusterBox) setIngested(in *natsbus.Ingest) {
	cb.mu.Lock()
	cb.ingested = in
	cb.mu.Unlock()
}

// held counts the boxes whose lease this replica holds.
func held(boxes []*clusterBox) int {
	n := 0
	for _, cb := range boxes {
		if cb.lease.Epoch() != 0 {
			n++
		}
	}
	return n
}

// yieldWhenAtShare makes each box's lease wait before it is taken by a
// replica that already holds its share of the boxes: the boxes divided by
// the replicas whose heartbeat is seen, rounded up. A replica that dies
// leaves its boxes to the others; those holding fewer take them first, so
// that the boxes spread without any coordination beyond the heartbeats.
// A replica that holds more than its share hands boxes over (balancer).
func yieldWhenAtShare(boxes []*clusterBox, replicasSeen func() int) {
	for _, cb := range boxes {
		cb.lease.Yield = func() bool {
			r := max(replicasSeen(), 1)
			share := (len(boxes) + r - 1) / r
			return len(boxes) > 1 && held(boxes) >= share
		}
	}
}

// runLease takes and holds the box's lease until ctx ends, as
// natsbus.Lease.Run does; a box handed over for balance (handOver) is
// run again at once, yielding to the replica it was handed to, and a
// lease that could not be watched (NATS slow or away) is tried again,
// so that this replica never stops standing by for the box.
func (cb *clusterBox) runLease(ctx context.Context, hold func(context.Context, uint64)) error {
	for wait := time.Second; ; {
		rctx, release := context.WithCancel(ctx)
		cb.mu.Lock()
		cb.release = release
		cb.mu.Unlock()
		err := cb.lease.Run(rctx, hold)
		release()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			cb.log.Warn("stand by for the box; retrying", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, 10*time.Second)
		default:
			cb.log.Info("handed the box over, for balance")
		}
	}
}

// handOver gives the box up, as a replica stopping does: its lease is
// freed first, and this replica reads Asterisk until the next holder's
// first entry is in the log.
func (cb *clusterBox) handOver() {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.release != nil {
		cb.release()
	}
}

// balancer hands a box over when this replica holds more than its share
// and another holds less: a replica that started first, or stayed up
// while others restarted, took every box. It waits for the same view on
// two heartbeats in a row, and hands one box over at a time, so that the
// boxes move one by one, each with a handover's cost (a resync by the
// new holder), and never back and forth.
type balancer struct {
	boxes []*clusterBox
	self  string
	// over counts the views in a row that asked for a handover; last is
	// when the last one was made.
	over int
	last time.Time
}

// balanceEvery is the least time between two handovers for balance: the
// new holder's heartbeat must be seen before the next view is taken.
const balanceEvery = 3 * natsbus.ReplicaBeat

// look takes a view of the replicas alive and what they hold, and hands
// a box over if it is time.
func (b *balancer) look(seen []natsbus.ReplicaInfo) {
	if len(b.boxes) < 2 || len(seen) < 2 {
		b.over = 0
		return
	}
	share := (len(b.boxes) + len(seen) - 1) / len(seen)
	mine, fewest := held(b.boxes), len(b.boxes)
	for _, r := range seen {
		if r.Name != b.self {
			fewest = min(fewest, len(r.Boxes))
		}
	}
	if mine <= share || fewest >= share {
		b.over = 0
		return
	}
	if b.over++; b.over < 2 || time.Since(b.last) < balanceEvery {
		return
	}
	for i := len(b.boxes) - 1; i >= 0; i-- {
		// A box Asterisk connects to outbound stays where Asterisk's
		// connection is.
		if cb := b.boxes[i]; cb.lease.Epoch() != 0 && cb.out == nil {
			cb.log.Info("handing the box over: this replica holds more than its share", "held", mine, "share", share, "replicas", len(seen))
			cb.handOver()
			b.over, b.last = 0, time.Now()
			return
		}
	}
}

package cluster

// A replica with Asterisk's outbound websockets (ari.connect: outbound).
//
// Asterisk dials one URI (websocket_client.conf uri), a load balancer in
// front of the replicas; every replica listens at /ari/events. The box's
// lease (natsbus.Lease, with its fencing epoch) decides which replica may
// keep the connection, and in outbound mode it follows the connection
// rather than the other way round:
//
//   - The holder takes Asterisk's connection: a reconnection of its own
//     box, handed to the client of its epoch, which knows whether the
//     events Asterisk queued meanwhile are the whole story (then no
//     resync, records exact) or not.
//   - A replica that does not hold the lease takes it when it is free
//     (no key: given up, or expired) and then the connection: it becomes
//     the holder under a new epoch, and appends to the box's log what
//     Asterisk sends, first the events Asterisk queued while no replica
//     was connected, then a resync (a new holder's client has no past to
//     trust), then the live events. Standbys never take the lease on
//     their own: a holder without Asterisk's connection would have
//     nothing to read.
//   - While another replica holds the lease, the upgrade is turned away
//     with 503 Service Unavailable, naming the holder. Asterisk counts a
//     failed attempt and dials again after its reconnect_interval; the
//     load balancer sends that attempt to the next replica. When the
//     holder was killed, its lease runs out after cluster.lease_ttl, and
//     the next replica Asterisk reaches takes the box.
//   - A holder whose connection ended keeps the lease for outboundGrace,
//     so that Asterisk's next attempt may come back to it (with nothing
//     to resync if Asterisk closed the connection itself); past that it
//     gives the lease up and the next replica Asterisk reaches takes it.
//   - A holder that stops (SIGTERM) or gives up closes the websocket
//     first, appends to the log what Asterisk wrote before it read the
//     close, and only then gives the lease up: nothing Asterisk sent is
//     lost between two replicas, and Asterisk queues the rest for the
//     next one.
//
// Nothing is applied twice: every event is in the log once, under the
// epoch of the replica that read it, and an event of an older epoch
// than one already in the log is ignored by every replica's tracker
// alike (a holder paused past its lease). What can be lost is what
// Asterisk wrote into a socket whose replica died (kill -9) before
// appending it; the next holder's resync then says what it does not
// know, in the records' gaps.

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

// outboundGrace is how long a holder keeps the lease after Asterisk's
// websocket to it ended: a few of Asterisk's reconnect_interval, so that
// through a round-robin load balancer its next attempts may come back.
const outboundGrace = 2 * time.Second

// admitWithin bounds the decision on a connection (the lease read and
// taken): Asterisk waits connection_timeout for the upgrade (500 ms by
// default; the README recommends 2000).
const admitWithin = 1500 * time.Millisecond

// clusterOutbound is a replica's side of one box's outbound websocket:
// it admits Asterisk's connections against the box's lease and reads
// the box into the log while it holds it.
type clusterOutbound struct {
	pbx     string
	replica string
	ariCfg  ari.Config
	did     string
	queue   int // the intake's: Config.EventQueue
	am      *ari.Metrics
	log     *slog.Logger
	server  *ari.OutboundServer
	ttl     time.Duration

	mu     sync.Mutex
	deps   *outboundDeps   // set by run
	base   context.Context // run's, without its cancellation
	ending bool
	last   *outboundHold // the latest attempt, until its lease is given up
	// cur is the epoch this replica holds, set under mu; the commands
	// read it without waiting for an admission.
	cur atomic.Pointer[outboundHold]
}

// outboundDeps is what holding the box needs of the rest of the replica.
type outboundDeps struct {
	bus   *natsbus.Bus
	lease *natsbus.Lease
	// holding tells the admin page which client reads the box (nil, nil
	// when none); ingest which appender counts the events.
	holding func(*ari.Client, *ari.Intake)
	ingest  func(*natsbus.Ingest)
}

// outboundHold is one attempt at the lease, and the epoch held if it
// succeeded.
type outboundHold struct {
	ready  chan *ari.Client // the epoch's client, once the lease is taken
	client *ari.Client
	epoch  uint64
	// quit asks the hold to hand the box over (shutting down); cancel
	// ends the attempt: Lease.Run returns, and gives the lease up.
	quit     context.Context
	stopQuit context.CancelFunc
	cancel   context.CancelFunc
	ending   chan struct{} // closed when the hold winds down
	done     chan struct{} // closed when Lease.Run returned
	err      error         // why Lease.Run failed, once done
	endOnce  sync.Once
}

// newClusterOutbound returns the box's outbound side, or nil when the
// box connects inbound (then nothing changes). The replica's boxes that
// connect outbound share server (one path, told apart by their
// credentials).
func newClusterOutbound(cfg Config, b Box, ariCfg ari.Config, server *ari.OutboundServer, am *ari.Metrics, log *slog.Logger) (*clusterOutbound, error) {
	if !b.Outbound {
		return nil, nil
	}
	ttl := cfg.Bus.LeaseTTL
	if ttl <= 0 {
		ttl = natsbus.DefaultLeaseTTL
	}
	o := &clusterOutbound{pbx: b.Name, replica: cfg.Bus.Replica, ariCfg: ariCfg, did: cfg.DIDVariable, queue: cfg.EventQueue, am: am, log: log,
		server: server, ttl: ttl}
	if err := o.server.AddGated(o.pbx, ariCfg.Username, ariCfg.Password, o.admit); err != nil {
		return nil, err
	}
	b.Metrics.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_outbound_turned_away_total",
			Help: "Asterisk's outbound websockets this replica turned away (503) because another replica held the box, or this one was starting or stopping."},
			func() float64 { return float64(o.server.TurnedAway()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_outbound_refused_total",
			Help: "Asterisk's outbound websockets refused for their credentials or protocol."},
			func() float64 { return float64(o.server.Refused()) }))
	return o, nil
}

// run holds the box whenever Asterisk's connection brings it here, until
// ctx ends; then it hands the box over and returns once the lease is
// given up.
func (o *clusterOutbound) run(ctx context.Context, d outboundDeps) error {
	o.mu.Lock()
	o.deps, o.base = &d, context.WithoutCancel(ctx)
	o.mu.Unlock()
	o.log.Info("waiting for Asterisk's outbound websocket", "pbx", o.pbx, "path", ari.OutboundPath, "user", o.ariCfg.Username)
	<-ctx.Done()
	o.mu.Lock()
	o.ending = true
	cur, last := o.cur.Load(), o.last
	o.mu.Unlock()
	if cur != nil {
		cur.stopQuit()
	}
	if last != nil {
		<-last.done
	}
	return nil
}

// admit picks the client that takes Asterisk's connection: this
// replica's, taking the lease if it is free; an error turns the
// connection away (503) so that Asterisk dials again, elsewhere.
func (o *clusterOutbound) admit(ctx context.Context) (*ari.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deps == nil || o.ending {
		return nil, fmt.Errorf("replica %s is starting or stopping", o.replica)
	}
	ctx, cancel := context.WithTimeout(ctx, admitWithin)
	defer cancel()
	if h := o.cur.Load(); h != nil && !isClosed(h.ending) {
		return h.client, nil // a reconnection: this replica holds the box
	}
	if h := o.last; h != nil {
		// The last attempt's lease must be given up before the next one:
		// one Lease.Run at a time.
		select {
		case <-h.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("replica %s is still giving box %s up", o.replica, BoxName(o.pbx))
		}
	}
	replica, epoch, err := o.deps.lease.Holder(ctx)
	if err != nil {
		return nil, fmt.Errorf("replica %s cannot read box %s's lease: %w", o.replica, BoxName(o.pbx), err)
	}
	if replica != "" {
		return nil, fmt.Errorf("replica %s holds box %s (epoch %d): Asterisk's connection belongs there until it gives the lease up or the lease runs out (%s after its last renewal)",
			replica, BoxName(o.pbx), epoch, o.ttl)
	}
	h := &outboundHold{ready: make(chan *ari.Client), ending: make(chan struct{}), done: make(chan struct{})}
	h.quit, h.stopQuit = context.WithCancel(context.Background())
	actx, acancel := context.WithCancel(o.base)
	h.cancel = acancel
	o.last = h
	lease := o.deps.lease
	go func() {
		defer close(h.done)
		defer acancel()
		defer h.stopQuit()
		h.err = lease.Run(actx, func(hctx context.Context, epoch uint64) { o.hold(actx, hctx, epoch, h) })
		o.cur.CompareAndSwap(h, nil)
	}()
	select {
	case c := <-h.ready:
		o.cur.Store(h)
		return c, nil
	case <-h.done:
		if h.err != nil {
			return nil, fmt.Errorf("replica %s could not take box %s's lease: %w", o.replica, BoxName(o.pbx), h.err)
		}
		return nil, fmt.Errorf("replica %s could not start reading box %s", o.replica, BoxName(o.pbx))
	case <-ctx.Done():
		acancel()
		return nil, fmt.Errorf("replica %s did not get box %s's lease within %s (another replica took it first, or NATS is slow)", o.replica, BoxName(o.pbx), admitWithin)
	}
}

// hold reads the box into its log under epoch while this replica holds
// the lease (hctx) and Asterisk's connection is here or may come back
// (outboundGrace); it ends the attempt (actx) when it returns, so that
// the lease is given up and not taken again without a connection.
func (o *clusterOutbound) hold(actx, hctx context.Context, epoch uint64, h *outboundHold) {
	defer h.cancel()
	log := o.log.With("pbx", o.pbx, "epoch", epoch)
	events := make(chan screenpop.Event, o.queue)
	intake := ari.NewIntake(ari.NewDecoder(o.did), events, o.am, log)
	client, err := ari.NewClient(o.ariCfg, intake, o.am, log)
	if err != nil {
		log.Error("read Asterisk's outbound websocket", "err", err)
		return
	}
	h.client, h.epoch = client, epoch
	select {
	case h.ready <- client:
	case <-actx.Done():
		return // the connection's admission gave up waiting
	}
	defer h.endOnce.Do(func() { close(h.ending) })
	d := o.deps
	d.holding(client, intake)
	defer d.holding(nil, nil)
	in := d.bus.Ingest(o.pbx, epoch)
	d.ingest(in)

	// The client winds down first (it reads what Asterisk wrote before
	// our close), then the log gets everything it handed on: logged
	// carries events from the intake to the appender and is closed
	// once both are drained.
	cctx, stopClient := context.WithCancel(hctx)
	defer stopClient()
	clientDone := make(chan struct{})
	go func() { defer close(clientDone); _ = client.Run(cctx) }()
	logged := make(chan screenpop.Event, o.queue)
	forwarded := make(chan struct{})
	go func() { defer close(forwarded); forwardEvents(hctx, events, logged, intake, clientDone) }()
	ingestDone := make(chan error, 1)
	go func() { ingestDone <- in.Run(hctx, logged, intake.Replaced) }()

	why, ingestEnded := o.watch(hctx, h, client, ingestDone)
	h.endOnce.Do(func() { close(h.ending) })
	log.Info("giving box up", "why", why)
	stopClient()
	<-clientDone
	if !ingestEnded {
		if err := <-ingestDone; err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("stopped appending the box's events", "err", err)
		}
	}
	<-forwarded
	if hctx.Err() == nil {
		return
	}
	// The lease was lost: what was read and not yet appended goes into
	// the log under this epoch; should a newer holder have appended
	// already, every tracker ignores it.
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, ch := range []chan screenpop.Event{logged, events} {
	draining:
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					break draining
				}
				if err := in.Append(fctx, epoch, ev); err != nil {
					return
				}
			default:
				break draining
			}
		}
	}
}

// watch waits until the hold must end and says why: the lease lost, the
// replica stopping, the appender stopped, or Asterisk's connection gone
// for outboundGrace. ingestEnded says the appender's result was read.
func (o *clusterOutbound) watch(hctx context.Context, h *outboundHold, c *ari.Client, ingestDone <-chan error) (why string, ingestEnded bool) {
	t := time.NewTicker(outboundGrace / 20)
	defer t.Stop()
	up := time.Now() // the connection admitted is on its way
	for {
		select {
		case <-hctx.Done():
			return "the lease was lost", false
		case <-h.quit.Done():
			return "the replica is stopping", false
		case err := <-ingestDone:
			return fmt.Sprintf("appending to the log stopped: %v", err), true
		case now := <-t.C:
			if c.OutboundUp() {
				up = now
			} else if now.Sub(up) >= outboundGrace {
				return fmt.Sprintf("Asterisk's websocket has been gone for %s: the replica it reaches next takes the box", outboundGrace), false
			}
		}
	}
}

// forwardEvents carries the intake's events to the appender in order
// until the client ended and everything it handed on was carried; then
// it closes out. It stops early when ctx ends (the lease lost).
func forwardEvents(ctx context.Context, in <-chan screenpop.Event, out chan<- screenpop.Event, intake *ari.Intake, clientDone <-chan struct{}) {
	defer close(out)
	send := func(ev screenpop.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case ev := <-in:
			if !send(ev) {
				return
			}
		case <-clientDone:
			// The intake's backlog, if any, is still being handed on.
			for deadline := time.Now().Add(2 * time.Second); ; {
				select {
				case ev := <-in:
					if !send(ev) {
						return
					}
					continue
				default:
				}
				if intake.Backlog() == 0 || time.Now().After(deadline) {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// commands sends the commands (Stasis continues, click-to-dial) over the
// websocket of the epoch this replica holds; a replica that does not
// hold the box uses rest, which reaches Asterisk only with ari.rest:
// http (ari.url).
func (o *clusterOutbound) commands(rest *ari.Client) clusterCommands {
	if o == nil {
		return rest
	}
	return outboundCommands{o: o, rest: rest}
}

// clusterCommands is what a replica asks of Asterisk.
type clusterCommands interface {
	screenpop.PBX
	screenpop.Originator
}

type outboundCommands struct {
	o    *clusterOutbound
	rest *ari.Client
}

// via is the client to send a command through, and what to say should
// it fail for want of a connection.
func (c outboundCommands) via() (*ari.Client, func(error) error) {
	if h := c.o.cur.Load(); h != nil && !isClosed(h.ending) {
		return h.client, func(err error) error { return err }
	}
	return c.rest, func(err error) error {
		if errors.Is(err, ari.ErrNotConnected) {
			return fmt.Errorf("this replica does not hold box %s, whose commands go over Asterisk's outbound websocket to the replica that does; set ari.rest: http with ari.url so that every replica can send them: %w", BoxName(c.o.pbx), err)
		}
		return err
	}
}

func (c outboundCommands) SetVariable(ctx context.Context, channelID, name, value string) error {
	client, wrap := c.via()
	return wrap(client.SetVariable(ctx, channelID, name, value))
}

func (c outboundCommands) Continue(ctx context.Context, channelID string) error {
	client, wrap := c.via()
	return wrap(client.Continue(ctx, channelID))
}

func (c outboundCommands) Originate(ctx context.Context, req screenpop.OriginateRequest) error {
	client, wrap := c.via()
	return wrap(client.Originate(ctx, req))
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

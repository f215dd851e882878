package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// Config is what a replica is told of the cluster and its boxes.
type Config struct {
	Bus   natsbus.Config
	Boxes []Box
	// DIDVariable is the channel variable that carries the number dialled.
	DIDVariable    string
	Card           screenpop.CardRules
	StasisDeadline time.Duration
	Tracker        screenpop.TrackerConfig
	// Callout is click-to-dial's, placed through the first box.
	Callout screenpop.CalloutConfig
	// Addr is where this replica serves its pages, in its heartbeat.
	Addr string
	// EventQueue is how many events a box's intake may hand on ahead of
	// its appender.
	EventQueue int
}

// Box is one Asterisk of the cluster.
type Box struct {
	// Name is the box's pbx, as its lease, log and records name it.
	Name string
	// ARI is its client's config; the replica binds its Identities in
	// NATS.
	ARI ari.Config
	// Outbound says Asterisk dials the replicas (ari.connect: outbound).
	Outbound bool
	// Metrics is where the box's metrics go.
	Metrics prometheus.Registerer
}

// Deps is what the replica's boxes need of the rest of the daemon.
type Deps struct {
	Dir    screenpop.Directory
	Leads  screenpop.Leads
	Served screenpop.ServedLog // who was shown which client, for access after a restart
	// CallLog is box pbx's call log, given the publisher of its records
	// to the calls stream.
	CallLog func(pbx string, records screenpop.CallLog) screenpop.CallLog
}

// Replica is this daemon as one replica of a cluster (see the package
// doc). It is made in steps, so that the daemon can mount its pages
// between them: Connect, Build, PrepareOps, then Run, and Close.
type Replica struct {
	cfg Config
	reg *prometheus.Registry
	log *slog.Logger
	bus *natsbus.Bus

	outbound *ari.OutboundServer
	boxes    []*clusterBox
	// The calls' own work (lookups, Stasis) runs on base, which ends
	// with call tracking: none outlives the shutdown bound.
	base     context.Context
	stopBase context.CancelFunc
	hub      *screenpop.Hub
	access   *screenpop.Access
	callouts *screenpop.Callouts
	// calloutScreens carries click-to-dial's messages to the screens
	// stream.
	calloutScreens *natsbus.Screens
	writer         *natsbus.Writer
	ops            *clusterOps
}

// Connect connects to NATS and makes the cluster's streams.
func Connect(ctx context.Context, cfg Config, reg *prometheus.Registry, log *slog.Logger) (*Replica, error) {
	log.Info("connecting to NATS; making the cluster's streams", "boxes", boxNames(cfg.Boxes), "stream_replicas", cfg.Bus.Replicas)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	bus, err := natsbus.Connect(cctx, cfg.Bus, log)
	cancel()
	if err != nil {
		return nil, err
	}
	return &Replica{cfg: cfg, reg: reg, log: log, bus: bus}, nil
}

// Close ends the calls' own work, if Run did not, and closes the
// connection to NATS.
func (r *Replica) Close() {
	if r.stopBase != nil {
		r.stopBase()
	}
	r.bus.Close()
}

func boxNames(boxes []Box) []string {
	names := make([]string, len(boxes))
	for i, b := range boxes {
		names[i] = b.Name
	}
	return names
}

// Build makes each box's part of the replica (its lease, log, call
// tracking and output duty, box.go), the hub that mirrors the operators'
// screens from the stream, and click-to-dial.
func (r *Replica) Build(ctx context.Context, d Deps) error {
	// Each box's entity ID is bound for the whole cluster, in NATS: any
	// replica may come to read it.
	lookups := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "screenpop_lookup_seconds", Help: "Time to look a caller up in the client base.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 3},
	})
	r.reg.MustRegister(lookups)
	r.outbound = ari.NewOutboundServer(r.log)
	bd := clusterBoxDeps{cfg: r.cfg, bus: r.bus, ids: ari.NewSharedIdentities(r.bus.Bindings(), r.log), dir: d.Dir,
		callLog: d.CallLog, log: r.log, outbound: r.outbound}
	r.base, r.stopBase = context.WithCancel(context.WithoutCancel(ctx))
	for _, b := range r.cfg.Boxes {
		cb, err := newClusterBox(ctx, bd, b)
		if err != nil {
			return err
		}
		cb.popper.Base, cb.stasis.Base = r.base, r.base
		cb.popper.LookupDone = func(d time.Duration, _ error) { lookups.Observe(d.Seconds()) }
		r.boxes = append(r.boxes, cb)
	}
	first := r.boxes[0]
	r.hub = screenpop.NewMirrorHub(r.bus.Epoch(), 0, 0)

	r.access = screenpop.NewAccess()
	r.access.Log = d.Served
	for _, cb := range r.boxes {
		cb.popper.Leads = d.Leads
		cb.popper.Access = r.access
		cb.tracker.Observe(screenpop.OnBox(cb.pbx, r.access)) // every replica: an operator's request may come to any
	}
	// Click-to-dial, through the first box as in a single daemon: placed
	// by the replica the request came to; its failure reaches the
	// operator's pages through the stream.
	r.calloutScreens = r.bus.Screens(first.pbx)
	calloutHub := screenpop.NewHub(0, 0)
	calloutHub.SendTo(r.calloutScreens)
	r.callouts = screenpop.NewCallouts(first.commands, r.cfg.Callout, calloutHub, r.log)
	first.tracker.Observe(r.callouts)
	return nil
}

// Hub serves the operators' pages, with the pops of every box, from the
// screens stream.
func (r *Replica) Hub() *screenpop.Hub { return r.hub }

// Access is what each operator may open, on every box.
func (r *Replica) Access() *screenpop.Access { return r.access }

// Callouts is click-to-dial, through the first box.
func (r *Replica) Callouts() *screenpop.Callouts { return r.callouts }

// Refresh redraws the pops of every box when an operator changed what a
// card says.
func (r *Replica) Refresh(clientID int64) {
	for _, cb := range r.boxes {
		cb.popper.Refresh(clientID)
	}
}

// Tracked is a box, as its records name it, and this replica's call
// tracking of it.
type Tracked struct {
	PBX     string
	Tracker *screenpop.Tracker
}

// Tracked is every box's call tracking, the first box's first.
func (r *Replica) Tracked() []Tracked {
	ts := make([]Tracked, len(r.boxes))
	for i, cb := range r.boxes {
		ts[i] = Tracked{cb.pbx, cb.tracker}
	}
	return ts
}

// PrepareOps sends the operators' pages to reconnect should NATS be lost,
// registers the writer's metrics and makes the cluster operations
// (ops.go): the heartbeat, the admin page's cluster part, the balancer.
// sockets counts the operators' pages connected.
func (r *Replica) PrepareOps(ctx context.Context, sockets func() int) error {
	// cluster2: a replica that lost NATS hears no screen message: its
	// pages are closed (1013) and reconnect, to another replica.
	r.bus.OnConnection(func(up bool) {
		if !up {
			r.log.Warn("NATS lost: operator pages sent to reconnect", "pages", r.hub.DropSubscribers())
		}
	})
	writer := r.bus.Writer()
	r.writer = writer
	r.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_calls_written_total", Help: "Call records written to the database by this replica."},
			func() float64 { return float64(writer.Written.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_unseen_periods_written_total", Help: "Unseen periods written to the database by this replica."},
			func() float64 { return float64(writer.Unseen.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_call_log_failures_total", Help: "Failed attempts to write call records to the database."},
			func() float64 { return float64(writer.Failures.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_operator_sockets", Help: "Operator pages connected."},
			func() float64 { return float64(sockets()) }),
	)
	pubs := clusterPublishers{screens: []*natsbus.Screens{r.calloutScreens}}
	for _, cb := range r.boxes {
		pubs.screens = append(pubs.screens, cb.screens)
		pubs.records = append(pubs.records, cb.records)
	}
	ops, err := newClusterOps(ctx, r.bus, r.boxes, r.cfg.Addr, sockets, pubs, r.reg, r.log)
	if err != nil {
		return err
	}
	r.ops = ops
	return nil
}

// Pinger is the store as /readyz asks it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler serves /healthz, /readyz (NATS is connected, the store
// answers; says, for each box, whether this replica holds it and how far
// its tracker is behind the box's log), /metrics, Asterisk's outbound
// websockets when a box connects outbound, and the operators' page.
func (r *Replica) Handler(db Pinger, operators http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", operators)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		var problems []string
		if !r.bus.Connected() {
			problems = append(problems, "NATS")
		}
		if err := db.Ping(ctx); err != nil {
			problems = append(problems, "store")
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n", strings.Join(problems, ", "))
		} else {
			fmt.Fprintln(w, "ready")
		}
		for _, cb := range r.boxes {
			holds := "standby"
			if e := cb.lease.Epoch(); e != 0 {
				holds = fmt.Sprintf("holder (epoch %d)", e)
			}
			box := "box"
			if len(r.boxes) > 1 {
				box = "box " + cb.pbx
			}
			fmt.Fprintf(w, "%s: %s; log lag: %d messages\n", box, holds, cb.follower.Pending())
		}
		r.ops.readyz(w) // cluster operations: boxes held, the other replicas' lag
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg}))
	if slices.ContainsFunc(r.boxes, func(cb *clusterBox) bool { return cb.out != nil }) {
		mux.Handle(ari.OutboundPath, r.outbound) // Asterisk's outbound websockets (outbound.go)
	}
	return mux
}

// Serving is what Run serves and stops beside the replica's own parts.
type Serving struct {
	Server   *http.Server
	Listener net.Listener
	DB       *store.Lazy
	Store    store.Config
	// ClosePages closes the pages served beside the operators' (the
	// wallboard's), as the hub closes.
	ClosePages func()
	// Bound is how long an orderly stop may take in all.
	Bound time.Duration
}

// Run runs the replica until ctx is cancelled. Every replica follows
// each box's log and tracks its calls (box.go); the one holding a box's
// lease reads that Asterisk into the log and acts on its calls (pops,
// Stasis, records); different boxes may be held by different replicas.
// Every replica serves operators' pages, with the pops of every box, from
// the screens stream and writes records from the calls stream into
// PostgreSQL. It stops in order: the boxes handed over, call tracking,
// HTTP, the publishers, the writer, the database.
func (r *Replica) Run(ctx context.Context, s Serving) error {
	defer r.stopBase()
	cbs, first, log, db := r.boxes, r.boxes[0], r.log, s.DB
	log.Info("screenpopd serving as a cluster replica", "http", s.Listener.Addr().String(), "boxes", boxNames(r.cfg.Boxes), "nats", r.cfg.Bus.URL != "")
	for _, cb := range cbs[1:] {
		cb.tracker.RingNotified = first.tracker.RingNotified // the pop latency of every box
	}
	yieldWhenAtShare(cbs, r.ops.replicasSeen)
	var (
		wg                     sync.WaitGroup
		leaseCtx, stopLease    = context.WithCancel(context.WithoutCancel(ctx))
		trackCtx, stopTracking = context.WithCancel(context.WithoutCancel(ctx))
		pubCtx, stopPublishing = context.WithCancel(context.WithoutCancel(ctx))
		writeCtx, stopWriting  = context.WithCancel(context.WithoutCancel(ctx))
		dbCtx, stopOpening     = context.WithCancel(ctx)
		leaseDone, trackDone   = make(chan error, len(cbs)), make(chan error, 2*len(cbs))
		webErr, writeDone      = make(chan error, 1), make(chan error, 1)
		screensReady           = make(chan struct{})
	)
	defer stopLease()
	defer stopTracking()
	defer stopPublishing()
	defer stopWriting()
	defer stopOpening()
	wg.Add(1)
	go func() { defer wg.Done(); db.Open(dbCtx, s.Store, log) }()
	runs := []func(context.Context) error{r.calloutScreens.Run}
	for _, cb := range cbs {
		runs = append(runs, cb.screens.Run, cb.records.Run)
	}
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); run(pubCtx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.bus.FollowScreens(pubCtx, r.hub, screensReady); err != nil {
			log.Error("follow the operators' screens", "err", err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); r.ops.run(pubCtx) }() // cluster operations: heartbeat until the publishers stop
	go func() { writeDone <- r.writer.Run(writeCtx, db) }()
	for _, cb := range cbs {
		entries := make(chan screenpop.LogEntry, r.cfg.EventQueue)
		go func() { trackDone <- cb.follower.Run(trackCtx, entries) }()
		go func() { trackDone <- cb.tracker.Follow(trackCtx, entries, cb.duty) }()
		holding := func(c *ari.Client, in *ari.Intake) { r.ops.holding(cb.pbx, c, in) }
		if cb.out != nil {
			// The lease is taken when Asterisk's outbound websocket comes
			// (outbound.go).
			go func() {
				leaseDone <- cb.out.run(leaseCtx, outboundDeps{bus: r.bus, lease: cb.lease, holding: holding, ingest: cb.setIngested})
			}()
			continue
		}
		go func() {
			leaseDone <- cb.runLease(leaseCtx, func(hctx context.Context, epoch uint64) {
				cb.hold(hctx, epoch, r.cfg.DIDVariable, r.cfg.EventQueue, holding)
			})
		}()
	}
	go func() { webErr <- s.Server.Serve(s.Listener) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-webErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	deadline := time.Now().Add(s.Bound)
	// Hand the boxes over first: the standbys are as far as we are.
	stopLease()
	errs := []error{runErr}
	for range cbs {
		errs = append(errs, <-leaseDone)
	}
	stopTracking()
	for range 2 * len(cbs) {
		errs = append(errs, <-trackDone)
	}
	r.stopBase()
	for _, cb := range cbs {
		cb.stasis.Wait()
		cb.popper.Wait()
	}
	r.hub.Close() // pages reconnect to another replica and catch up there
	s.ClosePages()
	hctx, hcancel := context.WithDeadline(context.Background(), deadline)
	errs = append(errs, s.Server.Shutdown(hctx))
	hcancel()
	fctx, fcancel := context.WithDeadline(context.Background(), deadline.Add(-3*time.Second))
	for _, cb := range cbs {
		if err := cb.records.Flush(fctx); err != nil {
			cb.log.Error("call records not published; the other replicas hand them over", "err", err)
		}
	}
	fcancel()
	stopPublishing()
	stopWriting()
	errs = append(errs, <-writeDone)
	stopOpening()
	wg.Wait()
	errs = append(errs, db.CloseBy(deadline.Add(-time.Second), log))
	for i, err := range errs {
		if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// BoxName is box pbx as messages name it.
func BoxName(pbx string) string {
	if pbx == "" {
		return `"" (cluster.pbx empty)`
	}
	return pbx
}

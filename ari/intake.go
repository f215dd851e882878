package ari

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/screenpop/screenpop/screenpop"
)

// Metrics counts what comes in from Asterisk.
type Metrics struct {
	Events     *prometheus.CounterVec // by ARI type, every event read
	Skipped    prometheus.Counter     // known types call tracking does not use
	Unknown    prometheus.Counter     // types the ARI library does not know
	Malformed  prometheus.Counter     // not decodable
	Dropped    prometheus.Counter     // could not be handed on: the tracker was full
	Reconnects prometheus.Counter
	Connected  prometheus.Gauge
}

// StasisTimes registers on reg (nil: none) how long calls spend in each
// stage of the Stasis handler (screenpop.Stasis.Took), as
// screenpop_stasis_seconds{stage}, and returns what the handler tells.
func StasisTimes(reg prometheus.Registerer) func(stage string, d time.Duration) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "screenpop_stasis_seconds",
		Help:    "Time calls spend in each stage of the Stasis handler: lookup (waiting for the card), variables, continue, and handled (all of it, from the call reaching the handler to Asterisk answering the continue).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"stage"})
	if reg != nil {
		reg.MustRegister(h)
	}
	return func(stage string, d time.Duration) { h.WithLabelValues(stage).Observe(d.Seconds()) }
}

// NewMetrics creates the intake's metrics and registers them with reg
// (nil: not registered, as in replay and tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "screenpop_ari_events_total", Help: "ARI events received, by type.",
		}, []string{"type"}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "screenpop_ari_events_skipped_total", Help: "ARI events of known types that call tracking does not use.",
		}),
		Unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "screenpop_ari_events_unknown_total", Help: "ARI events of types the ARI library does not know; skipped.",
		}),
		Malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "screenpop_ari_events_malformed_total", Help: "ARI messages that could not be decoded; skipped.",
		}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "screenpop_ari_events_dropped_total", Help: "ARI events dropped because call tracking was too far behind. Should stay 0.",
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "screenpop_ari_reconnects_total", Help: "Times the ARI events websocket was reconnected.",
		}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "screenpop_ari_connected", Help: "1 while the ARI events websocket is connected and resynced.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Skipped, m.Unknown, m.Malformed, m.Dropped, m.Reconnects, m.Connected)
	}
	return m
}

// Intake decodes raw ARI events, counts them, and hands the useful ones to
// call tracking. It is the one event path shared by the websocket and by
// trace replay.
type Intake struct {
	dec *Decoder
	out chan<- screenpop.Event
	m   *Metrics
	log *slog.Logger
	// block makes Feed wait for room instead of dropping: right for a file,
	// wrong for a socket that must never wait on the tracker.
	block bool
	// replaced is set when Asterisk says another client took over our
	// application name: events for it go there now.
	replaced atomic.Bool
	// dialled, when set, hears of every channel a followed channel dials
	// (without subscribeAll they must be subscribed to); it must not block.
	dialled func(peerID string)
	// recent keeps the last events for the admin page (nil: not kept, as
	// in replay); errs, when set, is the client's error list.
	recent *eventRing
	errs   *diag
	// backlog holds, in order, what call tracking has no room for yet.
	backlog backlog
	// lastAt is the time (Asterisk's clock) of the last event handed on,
	// lastWall ours when it was read: Heard reckons Asterisk's clock from
	// them.
	lastAt, lastWall time.Time
	// batched makes Feed gather the events decoded from what one read of
	// the socket brought, and Flush hand them on together: call tracking
	// wakes once a read, not once an event (a dozen events come together
	// when a call changes). The reader flushes before each read that may
	// wait (hookConn), so no event waits on the network.
	batched bool
	pending []pendingEvent
}

// pendingEvent is an event Feed decoded and Flush hands on. The admin
// page's list has it already, in the order the events came, as used: seq
// is its place there, marked dropped if it cannot be handed on.
type pendingEvent struct {
	ev  screenpop.Event
	seq uint64
}

// maxPending bounds a batch: a read of 64 KiB brings about a hundred
// events.
const maxPending = 256

// NewIntake returns an intake that never blocks: when out is full the
// event waits in a backlog of up to DefaultBacklog events; beyond that it
// is dropped, counted, and Overrun says the connection must resync.
func NewIntake(dec *Decoder, out chan<- screenpop.Event, m *Metrics, log *slog.Logger) *Intake {
	return &Intake{dec: dec, out: out, m: m, log: log, recent: &eventRing{}, backlog: newBacklog(DefaultBacklog)}
}

// Feed takes one raw event. It never blocks, unless the intake reads a
// trace file. Calls must come from one goroutine at a time. It does not keep data.
func (in *Intake) Feed(ctx context.Context, data []byte) {
	ev, typ, err := in.dec.Decode(data)
	if typ != "" {
		in.m.Events.WithLabelValues(MetricType(typ)).Inc()
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrSkipped):
		in.m.Skipped.Inc()
		in.remember(typ, EventSkipped, "", "", "", data)
		return
	case errors.Is(err, ErrUnknownType):
		in.m.Unknown.Inc()
		in.remember(typ, EventUnknown, "", "", "", data)
		in.log.Debug("skipped ARI event of unknown type", "type", typ)
		return
	default:
		in.m.Malformed.Inc()
		in.remember(typ, EventMalformed, "", "", "", data)
		in.problem(ErrorMalformed, "skipped a malformed ARI event: "+err.Error())
		in.log.Warn("skipped malformed ARI event", "err", err, "bytes", len(data))
		return
	}
	if ev.Kind == screenpop.EventUnknown {
		in.remember(typ, EventUsed, "", "", "", data)
		if typ == "ApplicationReplaced" {
			// What came before it is handed on first: whoever sees
			// Replaced takes what was handed on as all there was.
			in.Flush(ctx)
			in.replaced.Store(true)
			in.problem(ErrorReplaced, "another client connected to Asterisk with the same ARI application name; no events come until the next connection")
			in.log.Error("another client connected to Asterisk with the same ARI application name; this daemon no longer receives events for it until it reconnects")
		}
		return
	}
	if in.dialled != nil && ev.Kind == screenpop.EventDial && ev.DialStatus == "" && ev.Channel.ID != "" {
		in.dialled(ev.Peer.ID)
	}
	if in.dialled != nil && ev.Kind == screenpop.EventBridgeEntered && ev.BridgeID != "" {
		// A followed channel's bridge: an attended transfer brings its
		// target in without dialling it.
		in.dialled("bridge:" + ev.BridgeID)
	}
	if !ev.At.IsZero() {
		in.lastAt, in.lastWall = ev.At, time.Now()
	}
	if in.batched {
		seq := in.remember(typ, EventUsed, ev.Channel.Name, ev.Peer.Name, detail(ev), nil)
		in.pending = append(in.pending, pendingEvent{ev, seq})
		if len(in.pending) >= maxPending {
			in.Flush(ctx)
		}
		return
	}
	result := EventUsed
	if !in.send(ctx, ev) {
		result = EventDropped
	}
	in.remember(typ, result, ev.Channel.Name, ev.Peer.Name, detail(ev), nil)
}

// Flush hands on, in order, the events Feed gathered; the goroutine that
// feeds calls it before it may wait for more. It is a no-op unless the
// intake is batched.
func (in *Intake) Flush(ctx context.Context) {
	for _, p := range in.pending {
		if !in.send(ctx, p.ev) && in.recent != nil {
			in.recent.mark(p.seq, EventDropped)
		}
	}
	clear(in.pending)
	in.pending = in.pending[:0]
}

// Heard tells call tracking, in order with the events, that Asterisk
// answered a ping sent at sent (our clock): everything it sent before it
// received the ping has been read and is queued ahead. Call tracking then
// knows it saw the box until then, though no call moved (an unseen period
// after a crash begins there, not at the last event, hours before after a
// quiet night). It is called from the goroutine that feeds events.
func (in *Intake) Heard(ctx context.Context, sent time.Time) {
	in.Flush(ctx)
	if in.lastAt.IsZero() || !sent.After(in.lastWall) {
		return // nothing to reckon from, or the last event says as much
	}
	in.send(ctx, screenpop.Event{Kind: screenpop.EventTick, Type: "Heard", At: in.lastAt.Add(sent.Sub(in.lastWall)), Heard: true})
}

// detail is what an event says of its channel, for the admin page.
func detail(ev screenpop.Event) string {
	switch ev.Kind {
	case screenpop.EventDial:
		return ev.DialStatus
	case screenpop.EventChannelDestroyed:
		return ev.CauseText
	case screenpop.EventChannelCreated, screenpop.EventChannelUpdated:
		return ev.Channel.State
	}
	return ""
}

// remember keeps the event for the admin page: decoded events by their
// channels' names, others by their first bytes.
func (in *Intake) remember(typ, result, channel, peer, detail string, raw []byte) (seq uint64) {
	if in.recent != nil {
		return in.recent.add(time.Now(), typ, result, channel, peer, detail, raw)
	}
	return 0
}

// problem adds an error to the client's list, if there is one.
func (in *Intake) problem(kind, text string) {
	if in.errs != nil {
		in.errs.record(time.Now(), kind, text)
	}
}

// send hands ev on and reports whether it was. A socket's intake never
// waits: when call tracking has no room the event joins the backlog, in
// order, and a pump hands it on; only past the backlog's bound is an event
// given up (counted, and the connection told to start over, so that the
// resync flags what the lost events would have said).
func (in *Intake) send(ctx context.Context, ev screenpop.Event) bool {
	if in.block {
		select {
		case in.out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return in.backlog.put(ctx, in, ev)
}

// SendResync hands call tracking a resync behind every event already read
// and never drops it: dropping it would leave calls that ended while we
// were away open. The socket reader queues meanwhile, so Asterisk never
// waits. It clears an overrun: what was lost before is now resynced.
func (in *Intake) SendResync(ctx context.Context, ev screenpop.Event) {
	in.Flush(ctx)
	in.replaced.Store(false)
	if !ev.At.IsZero() {
		// Heard reckons from it until an event comes.
		in.lastAt, in.lastWall = ev.At, time.Now()
	}
	in.backlog.resync(ctx, in, ev)
}

// Overrun is signalled when the backlog passed its bound and events were
// given up: the connection must start over and resync.
func (in *Intake) Overrun() <-chan struct{} { return in.backlog.overrun }

// Backlog is how many events wait for call tracking beyond its queue.
func (in *Intake) Backlog() int { return in.backlog.len() }

// Replaced reports whether another client took over our application name
// since the last resync.
func (in *Intake) Replaced() bool { return in.replaced.Load() }

// ReadTrace feeds a recorded event stream (one JSON event a line, as
// Asterisk sent them) through the same intake as the websocket, waiting
// for the tracker rather than dropping.
func ReadTrace(ctx context.Context, r io.Reader, dec *Decoder, out chan<- screenpop.Event, m *Metrics, log *slog.Logger) error {
	in := &Intake{dec: dec, out: out, m: m, log: log, block: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		in.Feed(ctx, b)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read trace after line %d: %w", line, err)
	}
	return nil
}

// Totals is what an intake has read, for a summary line.
type Totals struct {
	Events, Skipped, Unknown, Malformed, Dropped int
}

// Totals reads the counters back.
func (m *Metrics) Totals() Totals {
	var events int
	ch := make(chan prometheus.Metric, 64)
	go func() { m.Events.Collect(ch); close(ch) }()
	for c := range ch {
		events += counterValue(c)
	}
	return Totals{
		Events: events, Skipped: counterValue(m.Skipped), Unknown: counterValue(m.Unknown),
		Malformed: counterValue(m.Malformed), Dropped: counterValue(m.Dropped),
	}
}

func counterValue(c prometheus.Metric) int {
	var d dto.Metric
	if err := c.Write(&d); err != nil || d.Counter == nil {
		return 0
	}
	return int(d.Counter.GetValue())
}

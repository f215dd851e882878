package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/screenpop/web"
)

// clusterOps is what a replica tells about the cluster: its heartbeat in
// SP_REPLICAS, the replicas and lease holders it reads back, for
// /readyz, the admin page and /metrics.
type clusterOps struct {
	log     *slog.Logger
	bus     *natsbus.Bus
	reps    *natsbus.Replicas
	boxes   []*clusterBox
	addr    string
	started time.Time
	sockets func() int

	mu       sync.Mutex
	seen     []natsbus.ReplicaInfo
	holders  []natsbus.LeaseHolder
	readErr  error
	readAt   time.Time
	readers  map[string]*boxReader // by box
	balance  *balancer
	replicas prometheus.Gauge
	holderG  *prometheus.GaugeVec
	epochG   *prometheus.GaugeVec
	lagG     *prometheus.GaugeVec
}

// boxReader is this replica's reader of a box's Asterisk, while it
// holds the box, and the last one it had, for the admin page once lost.
type boxReader struct {
	client, last   *ari.Client
	intake, lastIn *ari.Intake
}

// clusterPublishers are the streams' publishers whose errors are counted.
type clusterPublishers struct {
	screens []*natsbus.Screens
	records []*natsbus.CallLog
}

// newClusterOps makes the replicas' bucket if needed and registers the
// cluster's metrics.
func newClusterOps(ctx context.Context, bus *natsbus.Bus, boxes []*clusterBox, addr string,
	sockets func() int, pubs clusterPublishers, reg *prometheus.Registry, log *slog.Logger) (*clusterOps, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	reps, err := bus.Replicas(rctx)
	cancel()
	if err != nil {
		return nil, err
	}
	o := &clusterOps{log: log, bus: bus, reps: reps, boxes: boxes, addr: addr,
		started: time.Now().UTC(), sockets: sockets, readers: map[string]*boxReader{},
		balance: &balancer{boxes: boxes, self: reps.Name()}}
	o.replicas = prometheus.NewGauge(prometheus.GaugeOpts{Name: "screenpop_cluster_replicas_seen",
		Help: "Replicas whose heartbeat is in SP_REPLICAS (this one included)."})
	o.holderG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "screenpop_cluster_lease_holder",
		Help: "1 for the replica that holds each box's lease, as the lease bucket says."}, []string{"pbx", "replica"})
	o.epochG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "screenpop_cluster_lease_epoch",
		Help: "The fencing epoch of each box's lease, as the lease bucket says."}, []string{"pbx"})
	o.lagG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "screenpop_cluster_replica_lag",
		Help: "Messages of the boxes' logs each replica's call tracking has yet to read, from its last heartbeat."}, []string{"replica"})
	reg.MustRegister(o.replicas, o.holderG, o.epochG, o.lagG,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_cluster_heartbeat_errors_total",
			Help: "Heartbeats this replica could not write to SP_REPLICAS."},
			func() float64 { return float64(reps.Errors.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_cluster_publish_errors_total",
			Help: "Failed (retried) publishes to the screens and calls streams by this replica."},
			func() float64 {
				var n uint64
				for _, r := range pubs.records {
					n += r.PublishErrors.Load()
				}
				for _, s := range pubs.screens {
					n += s.PublishErrors.Load()
				}
				return float64(n)
			}))
	return o, nil
}

// holding is called when this replica starts reading box pbx's Asterisk
// (nil when it stops).
func (o *clusterOps) holding(pbx string, c *ari.Client, in *ari.Intake) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.readers[pbx]
	if r == nil {
		r = &boxReader{}
		o.readers[pbx] = r
	}
	r.client, r.intake = c, in
	if c != nil {
		r.last, r.lastIn = c, in
	}
}

// replicasSeen is how many replicas beat, as last read (this one
// included once its first heartbeat is read).
func (o *clusterOps) replicasSeen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// heldBoxes are the boxes this replica holds, with their epochs.
func (o *clusterOps) heldBoxes() []natsbus.HeldBox {
	var hs []natsbus.HeldBox
	for _, cb := range o.boxes {
		if e := cb.lease.Epoch(); e != 0 {
			hs = append(hs, natsbus.HeldBox{PBX: cb.pbx, Epoch: e})
		}
	}
	return hs
}

func (o *clusterOps) info() natsbus.ReplicaInfo {
	ri := natsbus.ReplicaInfo{Addr: o.addr, Sockets: o.sockets(), Started: o.started, Boxes: o.heldBoxes()}
	for _, cb := range o.boxes {
		ri.Lag += cb.follower.Pending()
		ri.Takeovers += cb.lease.Takeovers.Load()
	}
	return ri
}

// heldText is boxes held as /readyz says them: "pbx1 (epoch 5), pbx2
// (epoch 9)".
func heldText(hs []natsbus.HeldBox) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s (epoch %d)", BoxName(h.PBX), h.Epoch)
	}
	return strings.Join(parts, ", ")
}

// run beats and reads the others back every natsbus.ReplicaBeat until
// ctx ends; then this replica leaves the list.
func (o *clusterOps) run(ctx context.Context) {
	beating := make(chan struct{})
	go func() { defer close(beating); o.reps.Run(ctx, o.info) }()
	defer func() { <-beating }()
	t := time.NewTicker(natsbus.ReplicaBeat)
	defer t.Stop()
	for {
		o.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *clusterOps) refresh(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, natsbus.ReplicaBeat)
	defer cancel()
	seen, err := o.reps.List(rctx)
	var holders []natsbus.LeaseHolder
	if err == nil {
		holders, err = o.bus.Holders(rctx)
	}
	if err == nil {
		o.balance.look(seen)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readErr = err
	if err != nil {
		return
	}
	o.seen, o.holders, o.readAt = seen, natsbus.WithEpochs(holders, seen), time.Now()
	o.replicas.Set(float64(len(seen)))
	o.holderG.Reset()
	o.epochG.Reset()
	for _, h := range holders {
		o.holderG.WithLabelValues(h.PBX, h.Replica).Set(1)
		o.epochG.WithLabelValues(h.PBX).Set(float64(h.Epoch))
	}
	o.lagG.Reset()
	for _, r := range seen {
		o.lagG.WithLabelValues(r.Name).Set(float64(r.Lag))
	}
}

// readyz writes the cluster's lines of /readyz: the boxes this replica
// holds, and each other replica with what it holds and how far behind
// the log it is.
func (o *clusterOps) readyz(w io.Writer) {
	if hs := o.heldBoxes(); len(hs) > 0 {
		fmt.Fprintf(w, "holds: %s\n", heldText(hs))
	} else {
		fmt.Fprintln(w, "holds: no box (standby)")
	}
	o.mu.Lock()
	seen, holders, err := o.seen, o.holders, o.readErr
	o.mu.Unlock()
	for _, h := range holders {
		fmt.Fprintf(w, "lease: box %s held by %s (%s)\n", BoxName(h.PBX), h.Replica, EpochText(h))
	}
	for _, r := range seen {
		if r.Name == o.reps.Name() {
			continue
		}
		role := "standby"
		if len(r.Boxes) > 0 {
			role = "holds " + heldText(r.Boxes)
		}
		fmt.Fprintf(w, "replica %s: %s, log lag %d messages, seen %s ago\n", r.Name, role, r.Lag, time.Since(r.Seen).Round(time.Second))
	}
	if err != nil {
		fmt.Fprintf(w, "replicas: cannot be read: %v\n", err)
	}
}

// status is the admin page's cluster part.
func (o *clusterOps) status() *web.ClusterStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := &web.ClusterStatus{Replica: o.reps.Name(), Replicas: []web.ClusterReplica{}, Leases: []web.ClusterLease{}}
	for _, r := range o.seen {
		cr := web.ClusterReplica{Name: r.Name, Addr: r.Addr, Lag: r.Lag, Takeovers: r.Takeovers, Sockets: r.Sockets,
			Started: r.Started, Seen: r.Seen, Boxes: []string{}}
		for _, b := range r.Boxes {
			cr.Boxes = append(cr.Boxes, fmt.Sprintf("%s (epoch %d)", BoxName(b.PBX), b.Epoch))
		}
		s.Replicas = append(s.Replicas, cr)
	}
	for _, h := range o.holders {
		s.Leases = append(s.Leases, web.ClusterLease{PBX: h.PBX, Holder: h.Replica, Epoch: h.Epoch, Since: h.Since})
	}
	return s
}

// AdminReader is the reader of Asterisk the admin page shows: this
// replica's reader of the first box it holds, or the last one it had, or
// else the first box's REST client (with an intake that read nothing).
func (r *Replica) AdminReader() (*ari.Client, *ari.Intake) {
	if client, intake := r.ops.adminReader(); client != nil {
		return client, intake
	}
	return r.boxes[0].rest, ari.NewIntake(nil, nil, nil, nil)
}

// AddAdminStatus adds the cluster's part to the admin page: each box
// this replica does not hold is said to be read by another replica, and
// the replicas and leases are listed.
func (r *Replica) AddAdminStatus(s *web.AdminStatus) {
	o := r.ops
	for _, cb := range o.boxes {
		if cb.lease.Epoch() != 0 {
			continue
		}
		who := "no replica"
		o.mu.Lock()
		for _, h := range o.holders {
			if h.PBX == cb.pbx {
				who = "replica " + h.Replica
			}
		}
		o.mu.Unlock()
		s.Problems = append(s.Problems, fmt.Sprintf("this replica (%s) is a standby: %s reads Asterisk for box %s; its admin page shows that connection",
			o.reps.Name(), who, BoxName(cb.pbx)))
	}
	s.Cluster = o.status()
}

// adminReader is the reader of Asterisk the admin page shows: that of
// the first box this replica reads now, or else the last it read.
func (o *clusterOps) adminReader() (*ari.Client, *ari.Intake) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, cb := range o.boxes {
		if r := o.readers[cb.pbx]; r != nil && r.client != nil {
			return r.client, r.intake
		}
	}
	for _, cb := range o.boxes {
		if r := o.readers[cb.pbx]; r != nil && r.last != nil {
			return r.last, r.lastIn
		}
	}
	return nil, nil
}

// EpochText is a holder's epoch, or that it is not known yet (the
// holder's first heartbeat not read).
func EpochText(h natsbus.LeaseHolder) string {
	if h.Epoch == 0 {
		return "epoch not known yet"
	}
	return fmt.Sprintf("epoch %d", h.Epoch)
}

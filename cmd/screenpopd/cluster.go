package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/viper"

	"github.com/screenpop/screenpop/cluster"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// ClusterConfig is the clustered mode's settings: with NATSURL empty the
// daemon runs alone and never dials NATS.
type ClusterConfig struct {
	NATSURL   string
	Replica   string
	PBX       string
	Replicas  int
	LeaseTTL  time.Duration
	CredsFile string
	User      string
	Password  Secret
	Token     Secret
	CAFile    string
	CertFile  string
	KeyFile   string
}

// loadCluster reads the cluster.* settings.
func loadCluster(v *viper.Viper, bad func(key, format string, args ...any), duration func(string) time.Duration) ClusterConfig {
	c := ClusterConfig{
		NATSURL:   strings.TrimSpace(v.GetString("cluster.nats_url")),
		Replica:   v.GetString("cluster.replica"),
		PBX:       v.GetString("cluster.pbx"),
		Replicas:  v.GetInt("cluster.replicas"),
		LeaseTTL:  duration("cluster.lease_ttl"),
		CredsFile: v.GetString("cluster.creds_file"),
		User:      v.GetString("cluster.user"),
		Password:  Secret(v.GetString("cluster.password")),
		Token:     Secret(v.GetString("cluster.token")),
		CAFile:    v.GetString("cluster.ca_file"),
		CertFile:  v.GetString("cluster.cert_file"),
		KeyFile:   v.GetString("cluster.key_file"),
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		bad("cluster.replicas", "want 1, 3 or 5, got %d", c.Replicas)
	}
	if c.LeaseTTL > 0 && c.LeaseTTL < time.Second {
		bad("cluster.lease_ttl", "must be at least 1s, got %s", c.LeaseTTL)
	}
	n := 0
	for _, set := range []bool{c.CredsFile != "", c.User != "", c.Token != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		bad("cluster.creds_file", "set one of cluster.creds_file, cluster.user (with cluster.password) or cluster.token")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("cluster.cert_file", "cluster.cert_file and cluster.key_file go together")
	}
	for key, f := range map[string]string{"cluster.creds_file": c.CredsFile, "cluster.ca_file": c.CAFile, "cluster.cert_file": c.CertFile, "cluster.key_file": c.KeyFile} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	if strings.ContainsAny(c.PBX, " \t\r\n") {
		bad("cluster.pbx", "must be a plain name such as pbx1, got %q", c.PBX)
	}
	return c
}

func (c ClusterConfig) bus() natsbus.Config {
	return natsbus.Config{
		URL: c.NATSURL, Replica: c.Replica, CredsFile: c.CredsFile, User: c.User, Password: string(c.Password),
		Token: string(c.Token), CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
		Replicas: c.Replicas, LeaseTTL: c.LeaseTTL,
	}
}

// clusterBoxes are the boxes of a cluster: asterisk.boxes, as a single
// daemon reads them, or the one box of cluster.pbx and ari.*.
func clusterBoxes(cfg Config) []Box {
	if len(cfg.Boxes) > 0 {
		return cfg.Boxes
	}
	b := cfg.boxes()[0]
	b.Name = cfg.Cluster.PBX
	return []Box{b}
}

// replicaConfig is the cluster package's config of this replica. A
// box's metrics are labelled with its pbx when the cluster has a list of
// boxes, as they are in a single daemon; unlabelled for the one box of
// cluster.pbx, as they always were.
func replicaConfig(cfg Config, reg *prometheus.Registry) cluster.Config {
	c := cluster.Config{
		Bus: cfg.Cluster.bus(), DIDVariable: cfg.DIDVariable, Card: cfg.Card, StasisDeadline: cfg.StasisDeadline,
		Tracker: cfg.trackerConfig(), Callout: screenpop.CalloutConfig{Endpoint: cfg.DialEndpoint, Context: cfg.DialContext, Region: cfg.Region},
		Addr: pageBase(cfg), EventQueue: eventQueue,
	}
	for _, b := range clusterBoxes(cfg) {
		var metrics prometheus.Registerer = reg
		if len(cfg.Boxes) > 0 {
			metrics = boxRegisterer(reg, b)
		}
		c.Boxes = append(c.Boxes, cluster.Box{Name: b.Name, ARI: boxARIConfig(cfg, b, nil), Outbound: b.Connect == connectOutbound, Metrics: metrics})
	}
	return c
}

// serveCluster runs the daemon as one replica of a cluster until ctx is
// cancelled (package cluster): it connects to NATS, builds the boxes'
// part, mounts the pages on it, and runs it.
func serveCluster(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.DSN == "" {
		return errors.New("clustered mode (cluster.nats_url) needs PostgreSQL (store.dsn): the embedded store serves one daemon")
	}
	cc := cfg.Cluster
	log = log.With("replica", cc.bus().Replica)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rc := replicaConfig(cfg, reg)
	r, err := cluster.Connect(ctx, rc, reg, log)
	if err != nil {
		return err
	}
	defer r.Close()
	db := store.NewLazy()
	dir, closeDir, err := clientDirectory(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	defer closeDir()
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "screenpop_calls_total", Help: "Calls recorded, by status."}, []string{"status"})
	reg.MustRegister(calls)
	counted := callLogs{countCalls{calls}, logCalls{log}, newCountUnseen(reg)}
	err = r.Build(ctx, cluster.Deps{Dir: dir, Leads: db, Served: db, CallLog: func(pbx string, records screenpop.CallLog) screenpop.CallLog {
		return tagPBX{pbx, callLogs{records, counted}}
	}})
	if err != nil {
		return err
	}

	routes := web.NotesRoutes(db, r, r.Access(), screenpop.Purposes{List: cfg.Purposes, Complaint: cfg.ComplaintPurpose}, log)
	routes = append(routes, web.CalloutRoutes(r.Callouts(), db, log)...)
	routes = append(routes, web.HistoryRoutes(db, r.Access())...)
	routes = append(routes, web.ShiftRoutes(db, db, dir, cfg.Region, log)...)
	operators := web.New(r.Hub(), db, log, routes...)
	keys := web.NewKeyGuard(func(err error) bool { return errors.Is(err, store.ErrNotFound) })
	operators.GuardKeys(keys)
	tracked := r.Tracked()
	deps := serveDeps{log: log, reg: reg, db: db, staff: keys.Staff(db), tracker: tracked[0].Tracker, web: operators, cfg: cfg}
	for _, t := range tracked {
		// The box as its records name it: the wallboard counts each call
		// once, whether call tracking or the call log told of it first.
		deps.boxes = append(deps.boxes, trackedBox{t.PBX, t.Tracker})
	}
	for _, mount := range []func(serveDeps) error{mountCalls, mountReports} {
		if err := mount(deps); err != nil {
			return err
		}
	}
	if err := r.PrepareOps(ctx, operators.OpenSockets); err != nil {
		return err
	}
	// The admin page: its ARI part is this replica's reader of Asterisk,
	// its calls this replica's call tracking of the first box (the same
	// on every replica), with the cluster's part.
	err = mountAdminPage(deps, func(ctx context.Context) web.AdminStatus {
		client, intake := r.AdminReader()
		s := adminStatus(ctx, client, intake, deps.tracker)
		r.AddAdminStatus(&s)
		addUnseen(ctx, &s, deps) // the cluster's: every box's, whoever held it
		return s
	})
	if err != nil {
		return err
	}
	wallboard := mountWallboard(deps, r.Hub(), cfg.Wallboard)

	ln, srv, err := httpServer(ctx, cfg, log, operators, r.Handler(db, operators))
	if err != nil {
		return err
	}
	servePprof(ctx, cfg.PprofListen, log) // measuring, as a single daemon's
	return r.Run(ctx, cluster.Serving{Server: srv, Listener: ln, DB: db, Store: storeConfig(cfg), ClosePages: wallboard.Close, Bound: shutdownBound})
}

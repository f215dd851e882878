package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/spool"
	"github.com/screenpop/screenpop/store"
)

// shutdownBound is how long an orderly stop may take in all.
const shutdownBound = 15 * time.Second

// eventQueue is how many events the intake may hand call tracking ahead of
// it: some 150 calls' worth, a second or more of a busy PBX, so nothing is
// dropped while it catches up; small enough to cost the garbage collector
// little.
const eventQueue = 1 << 14

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: follow calls on Asterisk and write the call log",
		Args:  cobra.NoArgs,
	}
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, _ []string) error {
		return serve(cmd.Context(), cfg, cfg.logger())
	})
}

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the call log schema (serve also does it on start)",
		Args:  cobra.NoArgs,
	}
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, _ []string) error {
		return migrate(cmd.Context(), cfg, cmd.OutOrStdout())
	})
}

// serve runs the daemon until ctx is cancelled, then stops in order,
// within shutdownBound: the ARI reader, call tracking with the lookups and
// Stasis work it started, the operators' sockets, HTTP, the call log, the
// database.
func serve(ctx context.Context, cfg Config, log *slog.Logger) (err error) {
	if cfg.Cluster.NATSURL != "" {
		return serveCluster(ctx, cfg, log) // cluster.go; without it, no NATS at all
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// What was started is stopped, last first, whichever way serve ends.
	var stop stops
	defer func() { err = errors.Join(err, stop.stop(shutdownBound)) }()
	sp, err := spool.Open(filepath.Join(cfg.DataDir, "spool"), cfg.SpoolMaxBytes)
	if err != nil {
		return err
	}
	stop.add("call spool", func(time.Time) error { return sp.Close() })
	db := store.NewLazy()
	writer := spool.NewWriter(sp, db, log)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_spool_depth", Help: "Call records waiting in the spool for the database."},
			func() float64 { return float64(writer.Depth()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_calls_written_total", Help: "Call records written to the database."},
			func() float64 { return float64(writer.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_call_log_failures_total", Help: "Failed attempts to write call records to the database."},
			func() float64 { return float64(writer.Failures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_call_log_dropped_total", Help: "Call records lost because the spool was full. Should stay 0."},
			func() float64 { return float64(writer.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_spool_corrupt_total", Help: "Damaged spool records skipped (a line torn by a crash)."},
			func() float64 { return float64(writer.Corrupt()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_call_log_rejected_total", Help: "Call records the database refused, set aside in rejected_calls (screenpopd calls --rejected). Should stay 0."},
			func() float64 { return float64(writer.Rejected()) }),
	)
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "screenpop_calls_total", Help: "Calls recorded, by status."}, []string{"status"})
	reg.MustRegister(calls)

	// The boxes (boxes.go): the first is tracked here as a single box
	// always was; the others by moreBoxes below.
	boxes := cfg.boxes()
	ids, err := openIdentities(cfg, log)
	if err != nil {
		return err
	}
	events := make(chan screenpop.Event, eventQueue)
	am := ari.NewMetrics(boxRegisterer(reg, boxes[0]))
	intake := ari.NewIntake(ari.NewDecoder(cfg.DIDVariable), events, am, log)
	client, err := newBoxClient(cfg, boxes[0], ids, intake, am, log)
	if err != nil {
		return err
	}
	dir, closeDir, err := clientDirectory(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	stop.add("CRM directory", func(time.Time) error { closeDir(); return nil })
	// The calls' own work (lookups, Stasis) runs on base, which ends with
	// call tracking: none outlives the shutdown bound.
	base, stopBase := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBase()
	hub := screenpop.NewHub(0, 0)
	popper := screenpop.NewPopper(dir, cfg.Card, hub, log)
	stasis := screenpop.NewStasis(client, popper, cfg.StasisDeadline, log)
	popper.Base, stasis.Base = base, base
	stasis.Took = ari.StasisTimes(boxRegisterer(reg, boxes[0]))
	lookups := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "screenpop_lookup_seconds", Help: "Time to look a caller up in the client base.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 3},
	})
	reg.MustRegister(lookups)
	popper.LookupDone = func(d time.Duration, _ error) { lookups.Observe(d.Seconds()) }
	callLog := callLogs{writer, countCalls{calls}, logCalls{log}, newCountUnseen(reg)}
	tracker := screenpop.NewTracker(cfg.trackerConfig(), tagPBX{boxes[0].Name, callLog}, screenpop.OnBox(boxes[0].Name, screenpop.Observers{stasis, popper}))
	keepTrackerState(tracker, cfg.DataDir, boxRegisterer(reg, boxes[0]), log)
	tracker.Resynced = func(n screenpop.ResyncCounts) {
		log.Info("resynced with Asterisk", "channels", n.Channels, "calls_ended_unseen", n.Ended,
			"calls_first_seen", n.FirstSeen, "calls_in_progress", n.Open)
	}
	var routes []web.Route
	// The operators' API: notes and purposes, leads, complaints...
	popper.Leads = db // before the tracker runs: an unknown caller's number becomes a lead
	// What each operator may open: the clients, notes, leads and
	// complaints of their own calls.
	access := screenpop.NewAccess()
	access.Log = db // after a restart, the clients of the calls in an operator's shift list
	popper.Access = access
	tracker.Observe(screenpop.OnBox(boxes[0].Name, access))
	more, err := newMoreBoxes(boxDeps{base: base, cfg: cfg, ids: ids, reg: reg, calls: callLog, popper: popper, access: access, log: log, primary: client}, boxes[1:])
	if err != nil {
		return err
	}
	routes = append(routes, web.NotesRoutes(db, popper, access,
		screenpop.Purposes{List: cfg.Purposes, Complaint: cfg.ComplaintPurpose}, log)...)
	// ...click-to-dial and the callback list.
	callouts := screenpop.NewCallouts(client, screenpop.CalloutConfig{Endpoint: cfg.DialEndpoint, Context: cfg.DialContext, Region: cfg.Region}, hub, log)
	tracker.Observe(callouts) // before the tracker runs: a phone that does not answer is told to its operator's page
	routes = append(routes, web.CalloutRoutes(callouts, db, log)...)
	routes = append(routes, web.HistoryRoutes(db, access)...)
	routes = append(routes, web.ShiftRoutes(db, db, dir, cfg.Region, log)...) // the session list and names a reloaded page gets back
	operators := web.New(hub, db, log, routes...)
	keys := web.NewKeyGuard(func(err error) bool { return errors.Is(err, store.ErrNotFound) })
	operators.GuardKeys(keys)
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_wrong_keys_total", Help: "Operators' and staff keys tried that are not known."},
			func() float64 { return float64(keys.WrongKeys()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "screenpop_wrong_keys_refused_total", Help: "Keys refused unread because their address tried too many wrong ones."},
			func() float64 { return float64(keys.Refused()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_operator_sockets", Help: "Operator pages connected."},
		func() float64 { return float64(operators.OpenSockets()) }))
	// The staff's pages and APIs: the analysts' call log and reports, the
	// admin page.
	deps := serveDeps{log: log, reg: reg, db: db, staff: keys.Staff(db), client: client, intake: intake, tracker: tracker, web: operators, writer: writer, cfg: cfg,
		boxes: append([]trackedBox{{boxes[0].Name, tracker}}, more.tracked()...)}
	for _, mount := range []func(serveDeps) error{mountCalls, mountReports, mountAdmin} {
		if err := mount(deps); err != nil {
			return err
		}
	}
	wallboard := mountWallboard(deps, hub, cfg.Wallboard)

	// Say at once what is wrong with Asterisk, then keep trying anyway.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if boxes[0].Connect == connectOutbound {
		// Asterisk connects when it will; nothing to try yet.
	} else if err := client.Check(cctx); err != nil {
		log.Error("Asterisk is not reachable yet; retrying in the background", "err", err)
	}
	cancel()

	ln, srv, err := httpServer(ctx, cfg, log, operators, withOutbound(healthMux(reg, boxesReady{boxes[0], client, more}, db, writer, operators, keys), cfg, more))
	if err != nil {
		return err
	}
	// Measuring (perf, issue 13): the profiler, and the intake's backlog.
	servePprof(ctx, cfg.PprofListen, log)
	boxRegisterer(reg, boxes[0]).MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "screenpop_ari_backlog", Help: "ARI events read and waiting for call tracking beyond its queue (the intake's backlog)."},
		func() float64 { return float64(intake.Backlog()) }))
	// End of measuring.
	log.Info("screenpopd serving", "http", ln.Addr().String(), "url", pageBase(cfg), "ari", cfg.ARIURL, "mode", cfg.ARIMode, "store", storeName(cfg))

	ariCtx, stopARI := context.WithCancel(context.WithoutCancel(ctx))
	trackCtx, stopTracking := context.WithCancel(context.WithoutCancel(ctx))
	writeCtx, stopWriting := context.WithCancel(context.WithoutCancel(ctx))
	dbCtx, stopOpening := context.WithCancel(ctx)
	ariDone, trackDone, writeDone, web := make(chan error, 1), make(chan error, 1), make(chan error, 1), make(chan error, 1)
	var opening sync.WaitGroup

	// Started from the database up, and so stopped from ARI down.
	opening.Go(func() { db.Open(dbCtx, storeConfig(cfg), log) })
	stop.add("database", func(deadline time.Time) error {
		stopOpening()
		opening.Wait()
		return db.CloseBy(deadline.Add(-time.Second), log)
	})
	go func() { writeDone <- writer.Run(writeCtx) }()
	stop.add("call log writer", func(deadline time.Time) error {
		// A database that hangs must not hold the stop past its bound:
		// what is not written by then stays in the spool for the next
		// start.
		writer.FinishBy(deadline.Add(-2 * time.Second))
		fctx, fcancel := context.WithDeadline(context.Background(), deadline.Add(-3*time.Second))
		defer fcancel()
		if err := writer.Flush(fctx); err != nil {
			log.Error("call records left in the spool for next start", "waiting", writer.Depth(), "err", err)
		}
		stopWriting()
		return <-writeDone
	})
	stop.add("HTTP", func(deadline time.Time) error {
		hctx, hcancel := context.WithDeadline(context.Background(), deadline)
		defer hcancel()
		return srv.Shutdown(hctx)
	})
	stop.add("operators' sockets", func(time.Time) error {
		hub.Close() // pages reconnect to the next daemon
		wallboard.Close()
		return nil
	})
	go func() { trackDone <- tracker.Run(trackCtx, events) }()
	stop.add("call tracking", func(time.Time) error {
		stopTracking() // drains what the intake queued, records open calls
		stopBase()     // ends the lookups in flight; calls in Stasis go on unnamed
		errs := []error{<-trackDone, more.waitTracking()}
		stasis.Wait()
		popper.Wait()
		return errors.Join(errs...)
	})
	go func() { ariDone <- client.Run(ariCtx) }()
	more.start(ariCtx, trackCtx)
	stop.add("ARI", func(time.Time) error {
		stopARI()
		err := <-ariDone
		more.waitARI()
		return err
	})
	go func() { web <- srv.Serve(ln) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-web:
		runErr = fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	return runErr
}

func storeName(cfg Config) string {
	if cfg.DSN != "" {
		return "postgres"
	}
	return filepath.Join(cfg.DataDir, "screenpop.db")
}

// countCalls counts recorded calls by status for /metrics.
type countCalls struct{ v *prometheus.CounterVec }

func (c countCalls) Record(call screenpop.Call) { c.v.WithLabelValues(string(call.Status)).Inc() }

// healthMux serves /healthz (the process is alive), /readyz (ARI is
// connected and the store answers), /metrics, and the operators' page.
// /readyz names the parts that are not ready to anyone, and says why only
// to a staff token (the store's error names its host, database and user).
// Records the database refused are said, not counted as unready.
func healthMux(reg *prometheus.Registry, client interface {
	Ready() bool
	What() string
}, db *store.Lazy, writer *spool.Writer, operators http.Handler, keys *web.KeyGuard) *http.ServeMux {
	staff := keys.Staff(db)
	mux := http.NewServeMux()
	mux.Handle("/", operators)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var problems, details []string
		if !client.Ready() {
			problems, details = append(problems, "ARI"), append(details, client.What())
		}
		if err := db.Ping(ctx); err != nil {
			problems, details = append(problems, "store"), append(details, "store: "+err.Error())
		}
		// A record the database refused does not stop the daemon serving:
		// it is said, not counted as unready.
		notes := rejectedNotes(writer)
		if len(problems) > 0 {
			token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			isStaff := token != "" && keys.StaffSeen(token)
			if !isStaff && token != "" {
				_, err := staff.StaffByToken(ctx, token)
				isStaff = err == nil
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			if !isStaff {
				fmt.Fprintf(w, "not ready: %s (a staff token, as Authorization: Bearer TOKEN, shows why)\n", strings.Join(problems, ", "))
				for _, n := range notes {
					fmt.Fprintln(w, n)
				}
				return
			}
			for _, p := range append(details, notes...) {
				fmt.Fprintln(w, p)
			}
			return
		}
		fmt.Fprintln(w, "ready")
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	})))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

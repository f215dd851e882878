package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// callStore is what the daemon needs of either store.
type callStore interface {
	store.Saver
	screenpop.Directory
	web.Authenticator
	web.StaffAuthenticator
	store.SourceStore
	SetRegion(region string)
	Ping(ctx context.Context) error
	Migrate(ctx context.Context) error
	Applied(ctx context.Context) ([]string, error)
	Close() error
}

type openedStore struct {
	callStore
	describe string
	before   []string // the migrations it had before it was opened
}

// openStore opens and migrates the configured store: PostgreSQL when a
// DSN is set, else the embedded one in the data directory.
func openStore(ctx context.Context, cfg Config) (openedStore, error) {
	var (
		db   callStore
		desc string
	)
	if cfg.DSN != "" {
		pg, err := store.OpenPostgres(ctx, string(cfg.DSN))
		if err != nil {
			return openedStore{}, err
		}
		db, desc = pg, "PostgreSQL"
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return openedStore{}, fmt.Errorf("create data directory: %w", err)
		}
		path := filepath.Join(cfg.DataDir, "screenpop.db")
		lite, err := store.OpenSQLite(ctx, path)
		if err != nil {
			return openedStore{}, err
		}
		db, desc = lite, path
	}
	db.SetRegion(cfg.Region)
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return openedStore{}, err
	}
	if _, err := store.SeedSources(ctx, db, cfg.Region, cfg.Sources); err != nil {
		db.Close()
		return openedStore{}, fmt.Errorf("calls.sources in the config: %w", err)
	}
	return openedStore{callStore: db, describe: desc}, nil
}

// lazyStore is the call log's database as the writer sees it: until the
// database can be opened, saving fails and the records wait in the spool.
type lazyStore struct {
	mu  sync.Mutex
	db  *openedStore
	err error
}

func (l *lazyStore) get() (*openedStore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil, l.err
	}
	return l.db, nil
}

func (l *lazyStore) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	db, err := l.get()
	if err != nil {
		return err
	}
	return db.SaveCalls(ctx, calls)
}

func (l *lazyStore) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	return db.LookupPhone(ctx, e164)
}

func (l *lazyStore) OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error) {
	db, err := l.get()
	if err != nil {
		return screenpop.Operator{}, err
	}
	return db.OperatorByToken(ctx, token)
}

func (l *lazyStore) Ping(ctx context.Context) error {
	db, err := l.get()
	if err != nil {
		return err
	}
	return db.Ping(ctx)
}

// open keeps trying to open the store until it works or ctx ends.
func (l *lazyStore) open(ctx context.Context, cfg Config, log *slog.Logger) {
	for wait := time.Second; ; wait = min(wait*2, 30*time.Second) {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		db, err := openStore(octx, cfg)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.db = &db
			l.mu.Unlock()
			log.Info("call log store open", "store", db.describe)
			return
		}
		l.mu.Lock()
		l.err = fmt.Errorf("call log store not open: %w", err)
		l.mu.Unlock()
		log.Error("open the call log store; calls wait in the spool", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (l *lazyStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil
	}
	return l.db.Close()
}

// serve runs the daemon until ctx is cancelled, then stops in order:
// the ARI reader, call tracking, HTTP, the call log, the database.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	spool, err := store.OpenSpool(filepath.Join(cfg.DataDir, "spool"), cfg.SpoolMaxBytes)
	if err != nil {
		return err
	}
	db := &lazyStore{err: errors.New("call log store not open yet")}
	writer := store.NewWriter(spool, db, log)
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

	events := make(chan screenpop.Event, eventQueue)
	am := ari.NewMetrics(reg)
	intake := ari.NewIntake(ari.NewDecoder(cfg.DIDVariable), events, am, log)
	client, err := ari.NewClient(ari.Config{
		URL: cfg.ARIURL, Username: cfg.ARIUsername, Password: string(cfg.ARIPassword), App: cfg.ARIApp,
		SubscribeAll: cfg.ARIMode != "stasis", CAFile: cfg.ARICAFile, PingInterval: cfg.PingInterval,
		ReconnectMin: cfg.ReconnectMin, ReconnectMax: cfg.ReconnectMax,
	}, intake, am, log)
	if err != nil {
		spool.Close()
		return err
	}
	dir, closeDir, err := clientDirectory(ctx, cfg, db, log)
	if err != nil {
		spool.Close()
		return err
	}
	defer closeDir()
	hub := screenpop.NewHub(0, 0)
	popper := screenpop.NewPopper(dir, cfg.Card, hub, log)
	stasis := screenpop.NewStasis(client, popper, cfg.StasisDeadline, log)
	lookups := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "screenpop_lookup_seconds", Help: "Time to look a caller up in the client base.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 3},
	})
	reg.MustRegister(lookups)
	popper.LookupDone = func(d time.Duration, _ error) { lookups.Observe(d.Seconds()) }
	tracker := screenpop.NewTracker(cfg.trackerConfig(), callLogs{writer, countCalls{calls}, logCalls{log}}, screenpop.Observers{stasis, popper})
	keepTrackerState(tracker, cfg.DataDir, reg, log)
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
	tracker.Observe(access)
	routes = append(routes, web.NotesRoutes(db, popper, access,
		screenpop.Purposes{List: cfg.Purposes, Complaint: cfg.ComplaintPurpose}, log)...)
	// ...click-to-dial and the callback list.
	dialer := screenpop.NewDialer(client, screenpop.DialConfig{Endpoint: cfg.DialEndpoint, Context: cfg.DialContext, Region: cfg.Region}, hub, log)
	tracker.Observe(dialer) // before the tracker runs: a phone that does not answer is told to its operator's page
	routes = append(routes, web.DialRoutes(dialer, db, log)...)
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
	deps := serveDeps{log: log, reg: reg, db: db, staff: keys.Staff(db), client: client, intake: intake, tracker: tracker, web: operators, writer: writer, cfg: cfg}
	for _, mount := range []func(serveDeps) error{mountCalls, mountReports, mountAdmin} {
		if err := mount(deps); err != nil {
			spool.Close()
			return err
		}
	}
	wallboard := mountWallboard(deps, hub, cfg.Wallboard)

	// Say at once what is wrong with Asterisk, then keep trying anyway.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := client.Check(cctx); err != nil {
		log.Error("Asterisk is not reachable yet; retrying in the background", "err", err)
	}
	cancel()

	ln, srv, err := httpServer(ctx, cfg, log, operators, healthMux(reg, client, db, writer, operators, keys))
	if err != nil {
		spool.Close()
		return err
	}
	log.Info("screenpopd serving", "http", ln.Addr().String(), "url", pageBase(cfg), "ari", cfg.ARIURL, "mode", cfg.ARIMode, "store", storeName(cfg))

	var (
		wg                                 sync.WaitGroup
		ariCtx, stopARI                    = context.WithCancel(context.WithoutCancel(ctx))
		trackCtx, stopTracking             = context.WithCancel(context.WithoutCancel(ctx))
		writeCtx, stopWriting              = context.WithCancel(context.WithoutCancel(ctx))
		dbCtx, stopOpening                 = context.WithCancel(ctx)
		ariDone, trackDone, writeDone, web = make(chan error, 1), make(chan error, 1), make(chan error, 1), make(chan error, 1)
	)
	defer stopARI()
	defer stopTracking()
	defer stopWriting()
	defer stopOpening()
	wg.Add(1)
	go func() { defer wg.Done(); db.open(dbCtx, cfg, log) }()
	go func() { writeDone <- writer.Run(writeCtx) }()
	go func() { trackDone <- tracker.Run(trackCtx, events) }()
	go func() { ariDone <- client.Run(ariCtx) }()
	go func() { web <- srv.Serve(ln) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-web:
		runErr = fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	deadline := time.Now().Add(shutdownBound)
	// A database that hangs must not hold the stop past its bound: what
	// is not written by then stays in the spool for the next start.
	writer.FinishBy(deadline.Add(-2 * time.Second))
	bounded := func() (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), deadline)
	}

	stopARI()
	errs := []error{runErr, <-ariDone}
	stopTracking() // drains what the intake queued, records open calls
	errs = append(errs, <-trackDone)
	stasis.Wait()
	popper.Wait()
	hub.Close() // closes operator sockets: pages reconnect to the next daemon
	wallboard.Close()
	hctx, hcancel := bounded()
	errs = append(errs, srv.Shutdown(hctx))
	hcancel()
	fctx, fcancel := context.WithDeadline(context.Background(), deadline.Add(-3*time.Second))
	if err := writer.Flush(fctx); err != nil {
		log.Error("call records left in the spool for next start", "waiting", writer.Depth(), "err", err)
	}
	fcancel()
	stopWriting()
	errs = append(errs, <-writeDone)
	stopOpening()
	wg.Wait()
	errs = append(errs, spool.Close(), closeBy(db, deadline.Add(-time.Second), log))
	for i, err := range errs {
		if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}

// closeBy closes the database, waiting for it until deadline at most: a
// database that hangs can keep its connections from closing for seconds.
// Past the deadline the close goes on in its goroutine, which ends with it
// (or with the process).
func closeBy(db io.Closer, deadline time.Time, log *slog.Logger) error {
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case err := <-closed:
		return err
	case <-t.C:
		log.Error("the database's connections did not close within the shutdown bound; leaving them")
		return nil
	}
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
func healthMux(reg *prometheus.Registry, client *ari.Client, db *lazyStore, writer *store.Writer, operators http.Handler, keys *web.KeyGuard) *http.ServeMux {
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
			problems, details = append(problems, "ARI"), append(details, "ARI: not connected to Asterisk")
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

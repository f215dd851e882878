package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
	"github.com/screenpop/screenpop/store"
)

// demoOptions are the demo's own flags.
type demoOptions struct {
	clients   int
	rate      float64
	seed      uint64
	operators []string
	speed     float64
	calls     int
	// historyDays of made-up call history are seeded before today, so
	// that the reports have something to show from the start.
	historyDays int
	// cluster: three replicas on an embedded three-node NATS
	// (demo_cluster.go).
	cluster bool
}

// demoNames are the demo operators' names, by position.
var demoNames = []string{"Анна Смирнова", "Борис Волков", "Виктория Орлова", "Григорий Лебедев", "Дарья Морозова", "Евгений Соколов"}

// demoDIDs are the dealership's advertised lines the simulated calls dial.
var demoDIDs = []string{"74951112233", "74951112234", "74953334455", "74957778899"}

// demoSince is when the demo's sources start: a fixed day, so that a demo
// run again on its data directory finds them already there.
var demoSince = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// demoSources are what the demo's lines advertise.
var demoSources = []screenpop.Source{
	{DID: "74951112233", Source: "Радио «Европа Плюс»", Campaign: "Сервис зимой", From: demoSince},
	{DID: "74951112234", Source: "Яндекс.Директ", Campaign: "Новые автомобили", From: demoSince},
	{DID: "74953334455", Source: "Сайт", From: demoSince},
	{DID: "74957778899", Source: "Авито", Campaign: "С пробегом", From: demoSince},
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the daemon against a simulated Asterisk and a made-up dealership: open the printed URLs to see pops",
		Long: `demo seeds the embedded store with a made-up dealership client base (the
same every time for a seed), starts a simulated Asterisk on loopback that
places calls (answered, missed, abandoned, queue ring-all, unknown and
withheld callers), and runs the daemon against it through the same ARI
client as production. It prints one page URL per operator. No external
services are needed; Ctrl-C stops it.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.IntVar(&o.clients, "clients", 3000, "made-up clients to seed")
	f.Float64Var(&o.rate, "rate", 0.2, "calls per second")
	f.Uint64Var(&o.seed, "seed", 1, "seed for the made-up clients and calls")
	f.StringSliceVar(&o.operators, "operators", []string{"101", "102", "103", "104"}, "operators' extensions")
	f.Float64Var(&o.speed, "speed", 1, "time compression: 2 rings and talks twice as fast")
	f.IntVar(&o.calls, "calls", 0, "stop after this many calls (with --cluster, on each box; 0: until Ctrl-C)")
	f.IntVar(&o.historyDays, "history-days", 28, "days of made-up call history to seed before today, for the reports (0: none)")
	f.BoolVar(&o.cluster, "cluster", false, "run three replicas on an embedded three-node NATS JetStream cluster (needs --store-dsn: PostgreSQL)")
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, _ []string) error {
		if !cmd.Flags().Changed("store-data-dir") {
			dir, err := os.MkdirTemp("", "screenpop-demo-")
			if err != nil {
				return fmt.Errorf("create demo data directory: %w", err)
			}
			defer os.RemoveAll(dir)
			cfg.DataDir = dir
		}
		if o.cluster {
			return demoCluster(cmd.Context(), cfg, o, cmd.OutOrStdout())
		}
		cfg.DSN = ""
		return demo(cmd.Context(), cfg, o, cmd.OutOrStdout())
	})
}

func demo(ctx context.Context, cfg Config, o demoOptions, out io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	log := cfg.logger()
	tokens, err := seedDemo(ctx, cfg, o, out)
	if err != nil {
		return err
	}

	// The simulated Asterisk, with a password made up for this run.
	password := rand.Text()
	sim := arisim.New(arisim.Config{
		Username: "screenpop", Password: password, App: cfg.ARIApp, Operators: o.operators,
		ChannelVars: true, Speed: o.speed,
	}, log.With("component", "simulated-asterisk"))
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the simulated Asterisk: %w", err)
	}
	defer sim.Close()

	cfg.ARIURL, cfg.ARIUsername, cfg.ARIPassword = url, "screenpop", Secret(password)
	cfg.ARIMode = "both" // follow every call, and continue the Stasis ones
	cfg.InboundContexts = []string{"from-trunk"}
	cfg.OperatorPattern = []string{"Local/{ext}@phones"}
	// Click-to-dial rings the simulated phones the way calls do, so that
	// a call back is logged and closes its callback.
	cfg.DialEndpoint = "Local/{ext}@phones"
	if cfg.Operators, err = screenpop.ParseEndpointPatterns(cfg.OperatorPattern); err != nil {
		return err
	}

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serve(dctx, cfg, log) }()
	if err := waitReady(ctx, cfg.HTTPListen, served); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nscreenpop demo: %d made-up clients; a simulated Asterisk at %s places a call every %.3g s.\n", o.clients, url, 1/o.rate)
	fmt.Fprintln(out, "Open an operator's page (each is one operator's screen; open several side by side):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, ext := range o.operators {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ext, demoNames[i], pageURL(cfg, tokens[ext]))
	}
	tw.Flush()
	fmt.Fprintf(out, "Reports (analyst): %s/reports#token=%s\n", pageBase(cfg), tokens[string(screenpop.RoleAnalyst)])
	fmt.Fprintf(out, "Admin page:        %s/admin#token=%s\n", pageBase(cfg), tokens[string(screenpop.RoleAdmin)])
	fmt.Fprintf(out, "Call log: %s (screenpopd calls --store-data-dir %s). Metrics: %s/metrics. Ctrl-C stops.\n\n",
		filepath.Join(cfg.DataDir, "screenpop.db"), cfg.DataDir, pageBase(cfg))

	known := synth.Phones(o.seed, min(o.clients, 1000))
	simDone := make(chan error, 1)
	go func() {
		_, err := sim.Run(dctx, arisim.Load{Rate: o.rate, Calls: o.calls, Seed: o.seed, Known: known, DIDs: demoDIDs, Operators: o.operators})
		simDone <- err
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	case err := <-simDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			runErr = fmt.Errorf("simulated calls: %w", err)
		}
		// Let the last calls end and be recorded before stopping.
		time.Sleep(time.Duration(float64(2*time.Second) / o.speed))
	}
	stop()
	sim.Close()
	return errors.Join(runErr, <-served)
}

// seedDemo fills a fresh embedded store with made-up clients and the demo
// operators, and returns each operator's key.
func seedDemo(ctx context.Context, cfg Config, o demoOptions, out io.Writer) (map[string]string, error) {
	db, err := store.OpenSeeded(ctx, storeConfig(cfg)) // embedded: runDemo clears store.dsn
	if err != nil {
		return nil, err
	}
	defer db.Close()
	lite := db.DB
	existing, err := lite.Operators(ctx)
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 {
		fmt.Fprintf(out, "seeding %d made-up clients into %s ...\n", o.clients, db.Describe)
		batch := make([]screenpop.ClientHistory, 0, 1000)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			_, err := lite.ImportClients(ctx, batch)
			batch = batch[:0]
			return err
		}
		for c := range synth.Clients(o.seed, o.clients, time.Now()) {
			if batch = append(batch, c); len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return nil, fmt.Errorf("seed clients: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return nil, fmt.Errorf("seed clients: %w", err)
		}
	}
	if _, err := store.SeedSources(ctx, lite, cfg.Region, demoSources); err != nil {
		return nil, fmt.Errorf("seed the demo's sources: %w", err)
	}
	if len(existing) == 0 && o.historyDays > 0 {
		if err := seedDemoHistory(ctx, lite, cfg, o, out); err != nil {
			return nil, err
		}
	}
	tokens := map[string]string{}
	for _, role := range screenpop.Roles {
		_, tok, err := lite.AddStaff(ctx, "demo "+string(role), role)
		if err != nil {
			return nil, fmt.Errorf("add the demo's %s token: %w", role, err)
		}
		tokens[string(role)] = tok
	}
	for i, ext := range o.operators {
		_, tok, err := lite.AddOperator(ctx, demoNames[i], ext)
		if errors.Is(err, store.ErrExists) {
			tok, err = lite.NewOperatorToken(ctx, ext)
		}
		if err != nil {
			return nil, fmt.Errorf("add demo operator %s: %w", ext, err)
		}
		tokens[ext] = tok
	}
	return tokens, nil
}

// seedDemoHistory logs o.historyDays of made-up calls up to the start of
// today, with the callbacks of missed callers and the purposes operators
// noted, as the daemon would have: the reports' charts and the callback
// figures mean something at first sight.
func seedDemoHistory(ctx context.Context, lite store.DB, cfg Config, o demoOptions, out io.Writer) error {
	today := screenpop.StartOfDay(time.Now())
	h := synth.Calls(synth.CallsConfig{Seed: o.seed, From: today.AddDate(0, 0, -o.historyDays), To: today,
		PerDay: 60, DIDs: demoDIDs, Operators: o.operators, Known: synth.Phones(o.seed, min(o.clients, 1000)), Purposes: cfg.Purposes})
	fmt.Fprintf(out, "seeding %d days of call history (%d calls) ...\n", o.historyDays, len(h.Calls))
	// In order, a day at a time: whether a caller is new depends on the
	// calls before.
	for batch := range slices.Chunk(h.Calls, 500) {
		if err := lite.SaveCalls(ctx, batch); err != nil {
			return fmt.Errorf("seed call history: %w", err)
		}
	}
	names := map[string]string{}
	for i, ext := range o.operators {
		names[ext] = demoNames[i]
	}
	for _, n := range h.Notes {
		n.Operator.Name = names[n.Operator.Extension]
		if _, err := lite.SaveNote(ctx, n); err != nil {
			return fmt.Errorf("seed call history: note on call %s: %w", n.CallID, err)
		}
	}
	return nil
}

// waitReady waits until the daemon answers /readyz, or fails to start.
func waitReady(ctx context.Context, listen string, served <-chan error) error {
	url := "http://" + localHost(listen) + "/readyz"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-served:
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("the daemon did not start: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the daemon was not ready within 30 s (see %s)", url)
}

// check says what is wrong with the demo's flags.
func (o demoOptions) check() error {
	switch {
	case o.clients < 1:
		return errors.New("demo: --clients must be at least 1")
	case o.rate <= 0:
		return errors.New("demo: --rate must be positive")
	case len(o.operators) == 0 || len(o.operators) > len(demoNames):
		return fmt.Errorf("demo: give 1 to %d operators", len(demoNames))
	case o.speed <= 0:
		return errors.New("demo: --speed must be positive")
	case o.historyDays < 0 || o.historyDays > 366:
		return errors.New("demo: --history-days must be 0 to 366")
	}
	return nil
}

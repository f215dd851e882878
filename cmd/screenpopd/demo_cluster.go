package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
	"github.com/screenpop/screenpop/store"
)

// demoReplicas is how many replicas demo --cluster runs.
const demoReplicas = 3

// demoNATS is the demo's three-node NATS JetStream cluster, embedded, on
// loopback, its stores in dir. Only demo --cluster starts it.
type demoNATS struct {
	servers []*server.Server
	url     string
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startDemoNATS(dir string, nodes int) (*demoNATS, error) {
	d := &demoNATS{}
	ports, routes := make([]int, nodes), make([]int, nodes)
	for i := range nodes {
		var err error
		if ports[i], err = freeLoopbackPort(); err != nil {
			return nil, err
		}
		if routes[i], err = freeLoopbackPort(); err != nil {
			return nil, err
		}
	}
	var urls []string
	for i := range nodes {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: ports[i],
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "screenpop-demo", Host: "127.0.0.1", Port: routes[i]},
		}
		for j := range nodes {
			if j != i {
				u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", routes[j]))
				o.Routes = append(o.Routes, u)
			}
		}
		s, err := server.NewServer(o)
		if err != nil {
			d.stop()
			return nil, fmt.Errorf("start NATS node n%d: %w", i+1, err)
		}
		go s.Start()
		d.servers = append(d.servers, s)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i, s := range d.servers {
		if !s.ReadyForConnections(30 * time.Second) {
			d.stop()
			return nil, fmt.Errorf("NATS node n%d did not start within 30 s", i+1)
		}
	}
	d.url = strings.Join(urls, ",")
	return d, nil
}

func (d *demoNATS) stop() {
	for _, s := range d.servers {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// demoBoxes are the boxes of demo --cluster.
var demoBoxes = []string{"pbx1", "pbx2"}

// demoCluster is demo --cluster: an embedded three-node NATS, three
// replicas in this process sharing two simulated Asterisk boxes and the
// PostgreSQL database at cfg.DSN, and the simulated calls, --calls on
// each box.
func demoCluster(ctx context.Context, cfg Config, o demoOptions, out io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	if cfg.DSN == "" {
		return errors.New("demo --cluster: clustered mode keeps the call log in PostgreSQL: give --store-dsn postgres://USER@HOST/DB")
	}
	log := cfg.logger()
	tokens, err := seedDemo(ctx, cfg, o, out)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "screenpop-demo-nats-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "starting a three-node NATS JetStream cluster on loopback ...")
	nats, err := startDemoNATS(dir, 3)
	if err != nil {
		return err
	}
	defer nats.stop()

	// Two simulated boxes, each its own Asterisk (entity ID): the
	// cluster spreads their leases over the replicas.
	password := rand.Text()
	cfg.Boxes = nil
	var sims []*arisim.Sim
	defer func() {
		for _, sim := range sims {
			sim.Close()
		}
	}()
	for i, name := range demoBoxes {
		sim := arisim.New(arisim.Config{
			Username: "screenpop", Password: password, App: cfg.ARIApp, Operators: o.operators,
			ChannelVars: true, Speed: o.speed, EntityID: fmt.Sprintf("02:00:5e:00:00:%02x", i+1),
		}, log.With("component", "simulated-asterisk", "pbx", name))
		simURL, err := sim.Listen("127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start the simulated Asterisk %s: %w", name, err)
		}
		sims = append(sims, sim)
		cfg.Boxes = append(cfg.Boxes, Box{Name: name, URL: simURL, Username: "screenpop", Password: Secret(password),
			Connect: connectInbound, REST: "websocket"})
	}
	cfg.ARIMode = "both"
	cfg.InboundContexts = []string{"from-trunk"}
	cfg.OperatorPattern = []string{"Local/{ext}@phones"}
	cfg.DialEndpoint = "Local/{ext}@phones"
	if cfg.Operators, err = screenpop.ParseEndpointPatterns(cfg.OperatorPattern); err != nil {
		return err
	}
	cfg.Cluster = ClusterConfig{NATSURL: nats.url, Replicas: 3, LeaseTTL: 3 * time.Second}

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	host, _, err := net.SplitHostPort(cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("demo --cluster: http.listen %q: %w", cfg.HTTPListen, err)
	}
	var (
		cfgs   []Config
		served = make(chan error, demoReplicas)
	)
	for i := range demoReplicas {
		rc := cfg
		rc.Cluster.Replica = fmt.Sprintf("r%d", i+1)
		// Bound here, so that no other process takes the port between
		// picking it and serving on it.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return fmt.Errorf("demo --cluster: listen for replica %s: %w", rc.Cluster.Replica, err)
		}
		rc.HTTPListen, rc.httpListener = ln.Addr().String(), ln
		rc.PublicURL = nil
		cfgs = append(cfgs, rc)
		go func() { served <- serveCluster(dctx, rc, log) }()
	}
	for _, rc := range cfgs {
		if err := waitReadyLong(ctx, rc.HTTPListen, served, 90*time.Second); err != nil {
			stop()
			return err
		}
	}

	fmt.Fprintf(out, "\nscreenpop cluster demo: three replicas on a three-node NATS (%s); two simulated Asterisk boxes each place a call every %.3g s:\n",
		nats.url, 1/o.rate)
	for _, b := range cfg.Boxes {
		fmt.Fprintf(out, "  box %s at %s\n", b.Name, b.URL)
	}
	fmt.Fprintln(out, "Any operator's page may be opened on any replica (a load balancer would pick one) and pops the calls of both boxes;")
	fmt.Fprintln(out, "which replica reads which box is on /readyz and on the admin page.")
	for _, rc := range cfgs {
		fmt.Fprintf(out, "\nreplica %s: %s (readyz: %s/readyz)\n", rc.Cluster.Replica, pageBase(rc), pageBase(rc))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for i, ext := range o.operators {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ext, demoNames[i], pageURL(rc, tokens[ext]))
		}
		tw.Flush()
		fmt.Fprintf(out, "  Admin page: %s/admin#token=%s\n", pageBase(rc), tokens[string(screenpop.RoleAdmin)])
		fmt.Fprintf(out, "  Wallboard:  %s/wallboard#token=%s\n", pageBase(rc), tokens[string(screenpop.RoleSupervisor)])
	}
	fmt.Fprintf(out, "\nCall log: PostgreSQL (screenpopd calls --store-dsn ...). Ctrl-C stops.\n\n")

	known := synth.Phones(o.seed, min(o.clients, 1000))
	simDone := make(chan error, 1)
	go func() {
		errs := make(chan error, len(sims))
		for i, sim := range sims {
			go func() {
				_, err := sim.Run(dctx, arisim.Load{Rate: o.rate, Calls: o.calls, Seed: o.seed + uint64(i), Known: known, DIDs: demoDIDs, Operators: o.operators})
				errs <- err
			}()
		}
		var all []error
		for range sims {
			all = append(all, <-errs)
		}
		simDone <- errors.Join(all...)
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		runErr = fmt.Errorf("a replica stopped: %w", err)
	case err := <-simDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			runErr = fmt.Errorf("simulated calls: %w", err)
		}
		// Stop once the calls are in the call log: what waits in the
		// calls stream would go with this process's NATS.
		if err := waitCallLog(ctx, string(cfg.DSN), o.calls*len(sims), 60*time.Second); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	stop()
	for _, sim := range sims {
		sim.Close()
	}
	errs := []error{runErr}
	for range demoReplicas - boolInt(runErr != nil && strings.HasPrefix(runErr.Error(), "a replica stopped")) {
		errs = append(errs, <-served)
	}
	return errors.Join(errs...)
}

// waitCallLog waits until the call log has n rows.
func waitCallLog(ctx context.Context, dsn string, n int, within time.Duration) error {
	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		return fmt.Errorf("count the call log: %w", err)
	}
	defer st.Close()
	got := 0
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		rows := 0
		err := st.Calls(ctx, screenpop.CallFilter{}, func(screenpop.Call) error { rows++; return nil })
		if got = rows; err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the call log has %d of the %d calls after %s", got, n, within)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitReadyLong is waitReady with a longer bound: a new three-node
// cluster elects its leaders first.
func waitReadyLong(ctx context.Context, listen string, served <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := waitReady(ctx, listen, served)
		if err == nil || !strings.Contains(err.Error(), "not ready within") || time.Now().After(deadline) {
			return err
		}
	}
}

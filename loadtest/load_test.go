package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/store"
)

// Scale, from the environment, so that a default run stays affordable on a
// shared machine; the full run of issue 13 is
//
//	LOADTEST_CLIENTS=1000000 LOADTEST_PAGES=1000 LOADTEST_RATES=100,300,500,1000 LOADTEST_SECONDS=30 \
//	  go test -run '^$' -bench BenchmarkLoad -benchtime=1x -timeout 60m -v ./loadtest/
func scale(b *testing.B) (clients, pages int, rates []float64, run time.Duration) {
	num := func(name string, def int) int {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive whole number", name, v)
			}
			return n
		}
		return def
	}
	clients, pages = num("LOADTEST_CLIENTS", 100_000), num("LOADTEST_PAGES", 1000)
	run = time.Duration(num("LOADTEST_SECONDS", 10)) * time.Second
	for _, f := range strings.Split(cmpOr(os.Getenv("LOADTEST_RATES"), "100,300"), ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			b.Fatalf("LOADTEST_RATES=%q: want calls per second, comma-separated", os.Getenv("LOADTEST_RATES"))
		}
		rates = append(rates, r)
	}
	return clients, pages, rates, run
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func postgresDSN() string {
	if dsn := os.Getenv("SCREENPOP_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

const (
	firstExt = 1000
	// popWait is how long after the ringing a pop may come before it
	// counts as missing.
	popWait = 2 * time.Second
)

// BenchmarkLoad runs both pipelines at each rate: realistic calls (ring
// 2 s, talk 3 s, the simulator's default mix of answered, missed, queue
// calls...), callers drawn from the client base.
func BenchmarkLoad(b *testing.B) {
	nClients, nPages, rates, run := scale(b)
	bin := b.TempDir()
	for _, p := range []string{"../cmd/screenpopd", "./naive"} {
		out := filepath.Join(bin, filepath.Base(p))
		if msg, err := exec.Command("go", "build", "-o", out, p).CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", p, err, msg)
		}
	}
	dsn := clientBase(b, nClients)
	exts, tokens := addOperators(b, dsn, nPages)
	known := make([]string, 0, 10_000)
	for i := range min(nClients, 10_000) {
		known = append(known, phone(1+i*(nClients/min(nClients, 10_000))))
	}
	pipelines := strings.Split(cmpOr(os.Getenv("LOADTEST_PIPELINES"), "screenpop,naive"), ",")
	for _, rate := range rates {
		for _, pipeline := range pipelines {
			b.Run(fmt.Sprintf("rate=%g/%s", rate, pipeline), func(b *testing.B) {
				r := runLoad(b, bin, pipeline, dsn, exts, tokens, known, rate, run)
				b.ReportMetric(r.cpuPerCall, "cpu-ms/call")
				b.ReportMetric(us(pct(r.latency, .5)), "p50-µs")
				b.ReportMetric(us(pct(r.latency, .99)), "p99-µs")
				b.ReportMetric(float64(r.missing), "missing")
				b.ReportMetric(float64(r.dropped), "dropped")
				b.ReportMetric(float64(r.calls), "calls")
				b.Logf("%s at %g calls/s, %d clients, %d pages: %d calls, CPU %.3f ms/call, pop p50 %v p99 %v, %d pops, %d missing (%d of them never came, the others later than %v), %d events dropped; load average %s",
					pipeline, rate, nClients, nPages, r.calls, r.cpuPerCall, pct(r.latency, .5), pct(r.latency, .99), len(r.latency), r.missing, r.never, popWait, r.dropped, loadAverage())
				if len(r.held) > 0 {
					b.ReportMetric(us(pct(r.held, .5)), "stasis-p50-µs")
					b.ReportMetric(us(pct(r.held, .99)), "stasis-p99-µs")
					b.Logf("%s: %d calls held in Stasis p50 %v p99 %v max %v (StasisStart written to StasisEnd written), %d never continued",
						pipeline, len(r.held), pct(r.held, .5), pct(r.held, .99), r.held[len(r.held)-1], r.notContinued)
				}
				if r.dropped > 0 {
					b.Errorf("%d ARI events dropped", r.dropped)
				}
			})
		}
	}
}

type result struct {
	calls      int
	cpuPerCall float64 // ms of the pipeline process's CPU
	latency    []time.Duration
	missing    int
	never      int // of missing, those that never came at all (the others came late)
	dropped    int
	// held is how long each Stasis call waited for its continue, sorted;
	// notContinued counts those never continued.
	held         []time.Duration
	notContinued int
}

// runLoad runs one pipeline at one rate and measures it.
func runLoad(b *testing.B, bin, pipeline, dsn string, exts []string, tokens map[string]string, known []string, rate float64, run time.Duration) result {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rings := &ringFrames{calls: map[string]time.Time{}, at: map[leg]time.Time{}, stasisIn: map[string]time.Time{}, stasisOut: map[string]time.Time{}}
	password := rand.Text()
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: password, Operators: exts,
		ChannelVars: true, Speed: 1, OnSend: rings.add}, log.With("component", "simulated-asterisk"))
	ariURL, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()

	addr := loopbackAddr(b)
	// LOADTEST_MODE is the daemon's ari.mode (default both); LOADTEST_STASIS
	// makes that share (percent) of the calls go through Stasis(app).
	mode := cmpOr(os.Getenv("LOADTEST_MODE"), "both")
	// LOADTEST_PROFILE names a directory where the daemon's CPU profile of
	// the run is written (screenpop-RATE.pprof), from its profiler.
	profiles, pprofAddr := os.Getenv("LOADTEST_PROFILE"), ""
	var cmd *exec.Cmd
	if pipeline == "screenpop" {
		clearCallLog(b, dsn)
		cmd = exec.Command(filepath.Join(bin, "screenpopd"), "serve", "--ari-url", ariURL, "--ari-password", password, "--ari-mode", mode,
			"--inbound-contexts", "from-trunk", "--operator-endpoints", "Local/{ext}@phones",
			"--store-dsn", dsn, "--store-data-dir", b.TempDir(), "--http-listen", addr, "--log-level", "warn")
		if profiles != "" {
			pprofAddr = loopbackAddr(b)
			cmd.Args = append(cmd.Args, "--debug-pprof-listen", pprofAddr)
		}
	} else {
		cmd = exec.Command(filepath.Join(bin, "naive"), "--ari-url", ariURL, "--ari-password", password, "--dsn", dsn, "--listen", addr)
		if pipeline == "floor" {
			cmd.Args = append(cmd.Args, "--floor")
		}
	}
	// LOADTEST_GOMAXPROCS sets the pipeline's GOMAXPROCS (default: the
	// machine's cores), to see what the scheduler's wake-ups cost.
	if n := os.Getenv("LOADTEST_GOMAXPROCS"); n != "" {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+n)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// exited is closed when the pipeline's process has ended, waitErr
	// then saying how.
	exited, waitErr := make(chan struct{}), error(nil)
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()
	waitReady(b, pipeline, addr, exited, &waitErr)

	ps := connectPages(b, pipeline, addr, exts, tokens)
	defer ps.close()

	calls := int(rate * run.Seconds())
	mix := arisim.DefaultMix
	if v := os.Getenv("LOADTEST_STASIS"); v != "" {
		share, err := strconv.ParseFloat(v, 64)
		if err != nil || share < 0 || share > 100 {
			b.Fatalf("LOADTEST_STASIS=%q: want a percentage", v)
		}
		scale := (100 - share) / 100
		mix = arisim.Mix{Answered: mix.Answered * scale, Missed: mix.Missed * scale, Abandoned: mix.Abandoned * scale,
			Busy: mix.Busy * scale, Queue: mix.Queue * scale, Stasis: share, Unknown: mix.Unknown, Withheld: mix.Withheld}
	}
	var profiled chan error
	if pprofAddr != "" {
		profiled = make(chan error, 1)
		out := filepath.Join(profiles, fmt.Sprintf("screenpop-%g.pprof", rate))
		go func() { profiled <- fetchProfile(pprofAddr, max(int(run.Seconds()), 1), out) }()
	}
	cpu0 := cpuTime(b, cmd.Process.Pid)
	stats, err := sim.Run(context.Background(), arisim.Load{Rate: rate, Calls: calls, Seed: 1, Known: known, Operators: exts, Mix: mix,
		RingFor: [2]time.Duration{2 * time.Second, 2 * time.Second}, TalkFor: [2]time.Duration{3 * time.Second, 3 * time.Second}})
	if err != nil {
		b.Fatalf("simulated calls: %v", err)
	}
	time.Sleep(popWait) // the calls have ended; the last pops and records may still be on their way
	var cpu1 time.Duration
	select {
	case <-exited:
		// It gave up (the naive pipeline exits when the simulated
		// Asterisk drops its socket for reading too slowly): say so, and
		// count what it spent.
		b.Errorf("%s exited during the run: %v", pipeline, waitErr)
		cpu1 = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	default:
		cpu1 = cpuTime(b, cmd.Process.Pid)
	}
	if profiled != nil {
		if err := <-profiled; err != nil {
			b.Errorf("profile the daemon: %v", err)
		}
	}
	r := result{calls: stats.Placed, cpuPerCall: float64(cpu1-cpu0) / float64(time.Millisecond) / float64(max(stats.Placed, 1))}
	if pipeline == "screenpop" {
		r.dropped = int(metric(b, addr, "screenpop_ari_events_dropped_total"))
		b.Logf("at the end: %g operator sockets open, %g ARI reconnects, lookups %g",
			metric(b, addr, "screenpop_operator_sockets"), metric(b, addr, "screenpop_ari_reconnects_total"), metric(b, addr, "screenpop_lookup_seconds_count"))
		b.Logf("lookups (bucket bounds): p50 ≤ %v, p99 ≤ %v", histQuantile(b, addr, "screenpop_lookup_seconds", "", .5),
			histQuantile(b, addr, "screenpop_lookup_seconds", "", .99))
		if mix.Stasis > 0 {
			// Where a call's time in Stasis went, as the daemon saw it:
			// the rest of what the simulator measured is the way of
			// StasisStart to the handler (socket, decoding, call tracking).
			var parts []string
			for _, stage := range []string{"lookup", "variables", "continue", "handled"} {
				parts = append(parts, fmt.Sprintf("%s p50 ≤ %v, p99 ≤ %v", stage,
					histQuantile(b, addr, "screenpop_stasis_seconds", `stage="`+stage+`"`, .5),
					histQuantile(b, addr, "screenpop_stasis_seconds", `stage="`+stage+`"`, .99)))
			}
			b.Logf("in the daemon's Stasis handler (bucket bounds): %s", strings.Join(parts, "; "))
		}
	}
	// Pops later than popWait count as missing; wait for them still (until
	// none came for popWait, 30 s at most) to tell late ones from lost.
	for n, deadline := -1, time.Now().Add(30*time.Second); time.Now().Before(deadline); time.Sleep(popWait) {
		ps.mu.Lock()
		m := len(ps.pop)
		ps.mu.Unlock()
		if m == n {
			break
		}
		n = m
	}
	ps.close()
	if pipeline == "floor" {
		return r // it pops nothing: only its CPU counts
	}
	pops := ps.pops()
	for k, at := range rings.rings() {
		p, ok := pops[k]
		if !ok || p.Sub(at) > popWait {
			r.missing++
			if !ok {
				r.never++
			}
			continue
		}
		r.latency = append(r.latency, max(p.Sub(at), 0))
	}
	slices.Sort(r.latency)
	r.held, r.notContinued = rings.held()
	return r
}

// fetchProfile writes the daemon's CPU profile of the next seconds to out.
func fetchProfile(addr string, seconds int, out string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiler answered %s", resp.Status)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// cpuTime is the process's user and system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read the pipeline's CPU time: %v", err)
	}
	// The command name, field 2, may hold spaces: count after its ")".
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func waitReady(b *testing.B, pipeline, addr string, exited <-chan struct{}, waitErr *error) {
	path := "/readyz"
	if pipeline != "screenpop" {
		path = "/" // any answer: it listens
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			b.Fatalf("%s did not start: %v", pipeline, *waitErr)
		default:
		}
		if resp, err := http.Get("http://" + addr + path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || pipeline != "screenpop" {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s was not ready within 60 s", pipeline)
		}
	}
}

func metric(b *testing.B, addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	b.Fatalf("metric %s not found", name)
	return 0
}

// histQuantile is the upper bound of the bucket of histogram name (its
// series with labels, e.g. `stage="lookup"`) where quantile q falls.
func histQuantile(b *testing.B, addr, name, labels string, q float64) time.Duration {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	type bucket struct{ le, n float64 }
	var buckets []bucket
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	prefix := name + "_bucket{" + labels + `,le="`
	if labels == "" {
		prefix = name + `_bucket{le="`
	}
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, count, _ := strings.Cut(rest, `"} `)
		n, _ := strconv.ParseFloat(count, 64)
		bound, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" || err != nil {
			bound = math.Inf(1)
		}
		buckets = append(buckets, bucket{bound, n})
	}
	if len(buckets) == 0 || buckets[len(buckets)-1].n == 0 {
		return 0
	}
	total := buckets[len(buckets)-1].n
	for _, bk := range buckets {
		if bk.n >= q*total {
			if math.IsInf(bk.le, 1) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(bk.le * float64(time.Second))
		}
	}
	return 0
}

func loopbackAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// leg is an operator's phone in a call: what a pop is for.
type leg struct{ call, ext string }

// ringFrames keeps when each phone's Dial RINGING was written.
type ringFrames struct {
	mu    sync.Mutex
	calls map[string]time.Time
	at    map[leg]time.Time
	// stasisIn and stasisOut are when each call's StasisStart and
	// StasisEnd frames were written: how long Stasis held it.
	stasisIn, stasisOut map[string]time.Time
}

// add is the simulator's OnSend: it runs on its socket writer.
func (r *ringFrames) add(s arisim.Sent) {
	if s.Type == "StasisStart" || s.Type == "StasisEnd" {
		r.mu.Lock()
		m := r.stasisIn
		if s.Type == "StasisEnd" {
			m = r.stasisOut
		}
		if _, ok := m[s.CallID]; !ok {
			m[s.CallID] = s.At
		}
		r.mu.Unlock()
		return
	}
	if s.Type != "Dial" || s.DialStatus != "RINGING" || !strings.Contains(s.Channel, "@phones-") {
		return
	}
	ext, _, _ := strings.Cut(strings.TrimPrefix(s.Channel, "Local/"), "@")
	r.mu.Lock()
	defer r.mu.Unlock()
	k := leg{s.CallID, ext}
	if _, ok := r.at[k]; !ok {
		r.at[k] = s.At
	}
}

// held is how long each Stasis call was held, sorted, and how many were
// never let go.
func (r *ringFrames) held() (held []time.Duration, never int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, in := range r.stasisIn {
		out, ok := r.stasisOut[id]
		if !ok {
			never++
			continue
		}
		held = append(held, out.Sub(in))
	}
	slices.Sort(held)
	return held, never
}

func (r *ringFrames) rings() map[leg]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(int(math.Ceil(q*float64(len(sorted))))-1, 0)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// phone is the number of the client base's client i.
func phone(i int) string { return fmt.Sprintf("+7916%07d", i) }

// clientBase fills a schema of its own with n clients, each with one
// phone, by generate_series (seconds for a million), once: later runs
// reuse it.
func clientBase(b *testing.B, n int) string {
	ctx := context.Background()
	schema := fmt.Sprintf("screenpop_load_%d", n)
	conn, err := pgx.Connect(ctx, postgresDSN())
	if err != nil {
		b.Fatalf("PostgreSQL is needed (set SCREENPOP_TEST_POSTGRES): %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", schema); err != nil {
		b.Fatal(err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", schema)
	sep := "?"
	if strings.Contains(postgresDSN(), "?") {
		sep = "&"
	}
	dsn := postgresDSN() + sep + "search_path=" + schema
	var have int
	if conn.QueryRow(ctx, "SELECT clients FROM "+schema+".load_base").Scan(&have) == nil && have == n {
		return dsn
	}
	start := time.Now()
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO ` + schema + `.clients (client_id, last_name, first_name, patronymic)
		 SELECT g, 'Client' || g, 'Name', 'Patronymic' FROM generate_series(1, $1::int) g`,
		`INSERT INTO ` + schema + `.client_phones (client_id, e164, seq)
		 SELECT g, '+7916' || lpad(g::text, 7, '0'), 0 FROM generate_series(1, $1::int) g`,
		// Leads the daemon makes of unknown callers come after them.
		`SELECT setval(pg_get_serial_sequence('` + schema + `.clients', 'client_id'), $1::int)`,
		`CREATE TABLE ` + schema + `.load_base (clients integer NOT NULL)`,
	} {
		args := []any{n}
		if strings.HasPrefix(q, "CREATE") {
			args = nil
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			b.Fatalf("fill the client base: %v", err)
		}
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+schema+".clients, "+schema+".client_phones"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".load_base VALUES ($1)", n); err != nil {
		b.Fatal(err)
	}
	b.Logf("client base: %d clients in schema %s, filled in %v", n, schema, time.Since(start).Round(time.Millisecond))
	return dsn
}

func clearCallLog(b *testing.B, dsn string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "TRUNCATE calls, offers"); err != nil {
		b.Fatal(err)
	}
}

func addOperators(b *testing.B, dsn string, n int) ([]string, map[string]string) {
	ctx := context.Background()
	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DELETE FROM operators"); err != nil {
		b.Fatal(err)
	}
	var exts []string
	tokens := map[string]string{}
	for i := range n {
		ext := strconv.Itoa(firstExt + i)
		_, tok, err := db.AddOperator(ctx, "Operator "+ext, ext)
		if err != nil {
			b.Fatal(err)
		}
		exts, tokens[ext] = append(exts, ext), tok
	}
	return exts, tokens
}

// pages are the operators' pages, one websocket each, reading all the
// time (so the daemon's pings are answered) and keeping when each pop
// came.
type pages struct {
	mu    sync.Mutex
	socks []*websocket.Conn
	pop   map[leg]time.Time
	wg    sync.WaitGroup
	once  sync.Once
}

var offered = []byte(`"type":"call.offered"`)

func connectPages(b *testing.B, pipeline, addr string, exts []string, tokens map[string]string) *pages {
	ps := &pages{pop: map[leg]time.Time{}}
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	header := http.Header{"Origin": {"http://" + addr}}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 16)
	)
	for _, ext := range exts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, err := openPage(dialer, pipeline, addr, header, ext, tokens[ext])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("operator %s: %w", ext, err))
				return
			}
			ps.mu.Lock()
			ps.socks = append(ps.socks, ws)
			ps.mu.Unlock()
			ps.wg.Add(1)
			go func() { defer ps.wg.Done(); ps.read(ext, ws) }()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		ps.close()
		b.Fatalf("connect the operators' pages: %v", err)
	}
	return ps
}

func openPage(dialer websocket.Dialer, pipeline, addr string, header http.Header, ext, token string) (*websocket.Conn, error) {
	if pipeline != "screenpop" {
		ws, resp, err := dialer.Dial("ws://"+addr+"/ws?ext="+ext, header)
		if err == nil {
			resp.Body.Close()
		}
		return ws, err
	}
	ws, resp, err := dialer.Dial("ws://"+addr+"/ws", header)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := ws.WriteJSON(map[string]any{"type": "hello", "token": token, "since": 0}); err != nil {
		ws.Close()
		return nil, err
	}
	for _, want := range []string{"welcome", "snapshot"} {
		var m struct{ Type string }
		if err := ws.ReadJSON(&m); err != nil || m.Type != want {
			ws.Close()
			return nil, fmt.Errorf("expected %s, got %q (%v)", want, m.Type, err)
		}
	}
	ws.SetReadDeadline(time.Time{})
	return ws, nil
}

func (ps *pages) read(ext string, ws *websocket.Conn) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if !bytes.Contains(data, offered) {
			continue
		}
		var m struct {
			Call struct {
				ID string `json:"call_id"`
			} `json:"call"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		ps.mu.Lock()
		if _, ok := ps.pop[leg{m.Call.ID, ext}]; !ok {
			ps.pop[leg{m.Call.ID, ext}] = at
		}
		ps.mu.Unlock()
	}
}

func (ps *pages) close() {
	ps.once.Do(func() {
		ps.mu.Lock()
		for _, ws := range ps.socks {
			ws.Close()
		}
		ps.mu.Unlock()
		ps.wg.Wait()
	})
}

func (ps *pages) pops() map[leg]time.Time {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.pop
}

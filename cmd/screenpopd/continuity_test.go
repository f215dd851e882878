package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/pgcluster"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// The call log and the pages through what goes wrong with the database: a
// record it refuses, an outage, a hang at shutdown.

// pgSimDaemon configures a daemon on PostgreSQL at dsn against the
// simulated Asterisk at ariURL: a PJSIP call centre, phones PJSIP/101 and
// PJSIP/102.
func pgSimDaemon(t *testing.T, ariURL, dsn string) *daemon {
	t.Helper()
	d := newDaemon(t, ariURL)
	d.cfg.DSN = Secret(dsn)
	d.cfg.InboundContexts = []string{"from-trunk"}
	d.cfg.OperatorPattern = []string{"PJSIP/{ext}"}
	var err error
	if d.cfg.Operators, err = screenpop.ParseEndpointPatterns(d.cfg.OperatorPattern); err != nil {
		t.Fatal(err)
	}
	return d
}

func newSim(t *testing.T, speed float64) (*arisim.Sim, string) {
	t.Helper()
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", Operators: []string{"101", "102"},
		Tech: arisim.TechPJSIP, ChannelVars: true, Speed: speed}, discardLogger())
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, url
}

// seedPostgres migrates the database at dsn and adds operators 101 and
// 102 and an admin; it returns their keys by extension, and "admin".
func seedPostgres(t *testing.T, dsn string) map[string]string {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, op := range []struct{ name, ext string }{{"Анна Смирнова", "101"}, {"Борис Волков", "102"}} {
		if _, keys[op.ext], err = db.AddOperator(ctx, op.name, op.ext); err != nil {
			t.Fatal(err)
		}
	}
	if _, keys["admin"], err = db.AddStaff(ctx, "Ольга", screenpop.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return keys
}

// execSQL runs statements on the database at dsn.
func execSQL(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// callRows counts the call log's rows and distinct call IDs, and lists
// the IDs.
func callRows(t *testing.T, dsn string) (rows, distinct int, ids map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1, -1, nil // the database is away: not yet
	}
	defer conn.Close(context.Background())
	list, err := pgx.CollectRows(must(conn.Query(ctx, `SELECT call_id FROM calls`)), pgx.RowTo[string])
	if err != nil {
		return -1, -1, nil
	}
	ids = map[string]bool{}
	for _, id := range list {
		ids[id] = true
	}
	return len(list), len(ids), ids
}

func must[T any](v T, _ error) T { return v }

// waitFor polls cond every 100 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// placeAll places the calls, at most n at a time, and waits for them to
// end.
func placeAll(t *testing.T, sim *arisim.Sim, calls []arisim.Call, n int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, n)
		mu   sync.Mutex
		errs []error
	)
	for _, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := sim.Place(context.Background(), c); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("call %s: %w", c.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("placing calls: %v", errs)
	}
}

func answeredCalls(prefix string, n int) []arisim.Call {
	calls := make([]arisim.Call, n)
	for i := range calls {
		calls[i] = arisim.Call{ID: fmt.Sprintf("%s-%03d", prefix, i), Caller: fmt.Sprintf("+7916%07d", i), DID: "74951112233",
			Scenario: arisim.Answered, Operators: []string{"101"}}
	}
	return calls
}

func TestServeSetsAsideAPoisonedRecordAndWritesTheOthers(t *testing.T) {
	dsn := freshSchema(t)
	keys := seedPostgres(t, dsn)
	// A database that refuses one value: this caller's record can never
	// be stored, as PostgreSQL refuses a NUL byte in text.
	execSQL(t, dsn, `ALTER TABLE calls ADD CONSTRAINT refuses_the_poisoned CHECK (caller <> '+79990000666')`)
	sim, url := newSim(t, 20)
	d := pgSimDaemon(t, url, dsn)
	d.start(t)
	d.waitReady(t, http.StatusOK)

	calls := answeredCalls("poison", 100)
	calls[37].Caller = "+79990000666"
	// A NUL byte and a byte that is not UTF-8 in a caller's name, which
	// PostgreSQL refuses (22021): cleaned before the store, not refused.
	calls[60].CallerName = "Jan\x00 de \xffVries"
	placeAll(t, sim, calls, 10)
	d.waitCallsRecorded(t, 100)
	var rows, rejected int
	waitFor(t, 20*time.Second, "99 calls stored and 1 set aside", func() bool {
		rows, _, _ = callRows(t, dsn)
		_, body := d.get(t, "/metrics")
		rejected = int(metricFrom(body, "screenpop_call_log_rejected_total"))
		return rows == 99 && rejected == 1 && metricFrom(body, "screenpop_spool_depth") == 0
	})
	var deadLetters int
	var reason string
	ctx := context.Background()
	conn := must(pgx.Connect(ctx, dsn))
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*), max(reason) FROM rejected_calls WHERE call_id = 'poison-037'`).Scan(&deadLetters, &reason); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := conn.QueryRow(ctx, `SELECT caller_name FROM calls WHERE call_id = 'poison-060'`).Scan(&name); err != nil {
		t.Fatalf("the call with a NUL byte in its caller's name: %v", err)
	}
	_, ready := d.get(t, "/readyz")
	code, admin := apiGetStatus(t, d, keys["admin"])
	t.Logf("100 calls, one poisoned: %d stored, %d in rejected_calls (%s), metric rejected %d; NUL name stored as %q", rows, deadLetters,
		reason, rejected, name)
	t.Logf("/readyz: %s", strings.TrimSpace(ready))
	if deadLetters != 1 || !strings.Contains(reason, "refuses_the_poisoned") {
		t.Errorf("rejected_calls holds %d rows for poison-037 (reason %q), want 1 with the database's reason", deadLetters, reason)
	}
	if name != "Jan de \uFFFDVries" {
		t.Errorf("caller name stored as %q, want it cleaned", name)
	}
	if !strings.HasPrefix(ready, "ready\n") || !strings.Contains(ready, "1 call record(s) refused by the database") ||
		!strings.Contains(ready, "poison-037") {
		t.Errorf("/readyz says %q; want ready, and the refused record said", ready)
	}
	if code != http.StatusOK || !strings.Contains(admin, "1 call record(s) refused by the database") {
		t.Errorf("admin status %d %s; want its problems to say so", code, admin)
	}
	out := mustCLI(t, "calls", "--store-dsn", dsn, "--rejected")
	if !strings.Contains(out, "call poison-037") || !strings.Contains(out, "1 rejected call record") {
		t.Errorf("calls --rejected printed %q", out)
	}

	// The admin page shows it.
	bctx := browser(t)
	step(t, bctx, "the admin page did not show the refused record",
		chromedp.Navigate("http://"+d.http+"/admin#token="+keys["admin"]),
		waitText("#problems", "refused by the database"), waitText("#problems", "screenpopd calls --rejected"))
}

// apiGetStatus reads the problems GET /api/admin/status lists.
func apiGetStatus(t *testing.T, d *daemon, token string) (int, string) {
	t.Helper()
	code, _, body := apiGet(t, d, token, "", "/api/admin/status")
	var s struct {
		Problems []string `json:"problems"`
	}
	json.Unmarshal(body, &s)
	return code, strings.Join(s.Problems, " | ")
}

func TestServeStopsWithinItsBoundWithAHungDatabaseAndTheNextStartWritesWhatWasLeft(t *testing.T) {
	pg := pgcluster.New(t)
	dsn := pg.DSN()
	seedPostgres(t, dsn)
	sim, url := newSim(t, 20)
	d := pgSimDaemon(t, url, dsn)
	d.start(t)
	d.waitReady(t, http.StatusOK)

	placeAll(t, sim, answeredCalls("before", 20), 10)
	waitFor(t, 20*time.Second, "the first 20 calls stored", func() bool { n, _, _ := callRows(t, dsn); return n == 20 })

	pg.Hang(t)
	placeAll(t, sim, answeredCalls("hung", 20), 10)
	d.waitCallsRecorded(t, 40)
	_, metrics := d.get(t, "/metrics")
	waiting := metricFrom(metrics, "screenpop_spool_depth")

	start := time.Now()
	d.stop()
	err := <-d.done
	took := time.Since(start)
	d.done <- nil
	t.Logf("stopped with the database hung in %v (bound %v), %g calls waiting in the spool; serve returned %v",
		took.Round(time.Millisecond), shutdownBound, waiting, err)
	if took > shutdownBound {
		t.Errorf("shutdown took %v with a hung database, over its bound %v", took, shutdownBound)
	}
	if waiting < 1 {
		t.Errorf("spool depth %g while the database hung, want the calls waiting", waiting)
	}

	pg.Resume(t)
	d2 := pgSimDaemon(t, url, dsn)
	d2.cfg.DataDir, d2.dataDir = d.cfg.DataDir, d.dataDir
	d2.start(t)
	var rows, distinct int
	var ids map[string]bool
	waitFor(t, 30*time.Second, "the next start to write the 40 calls", func() bool {
		rows, distinct, ids = callRows(t, dsn)
		return rows == 40
	})
	t.Logf("after the restart: %d rows, %d distinct calls", rows, distinct)
	for _, c := range append(answeredCalls("before", 20), answeredCalls("hung", 20)...) {
		if !ids[c.ID] {
			t.Errorf("call %s is not in the call log", c.ID)
		}
	}
	if distinct != 40 {
		t.Errorf("%d rows for %d calls", rows, distinct)
	}
	d2.shutdown(t)
}

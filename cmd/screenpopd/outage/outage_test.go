package outage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/browsertest"
	"github.com/screenpop/screenpop/internal/pgcluster"
)

// Outage durations, as the issue that asked for this test gives them.
const (
	outageStopped = 60 * time.Second
	outageHung    = 30 * time.Second
)

func TestBrowserPagesAndTheCallLogRideOutADatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 90 s database outage under load: not with -short")
	}
	pg := pgcluster.New(t)
	dsn := pg.DSN()
	d := newDaemon(t, dsn)
	keys := d.seed(t)
	const speed = 10
	sim, url := newSim(t, speed)
	d.start(t, url)
	d.waitReady(t)

	// Signed-in pages: operator 101's, the reports and the admin page,
	// each in a browser of its own, as on three desks (a tab in the
	// background of a headless browser does not keep up).
	op, reports, admin := browsertest.New(t), browsertest.New(t), browsertest.New(t)
	base := "http://" + d.http
	browsertest.Step(t, op, "the operator page did not come online", chromedp.Navigate(base+"/#token="+keys["101"]),
		chromedp.WaitVisible("#desk"), browsertest.WaitText("#conn", "online"))
	browsertest.Step(t, reports, "the reports page did not open", chromedp.Navigate(base+"/reports#token="+keys["admin"]),
		chromedp.WaitVisible("#report"), browsertest.WaitText("#totals", "Calls"))
	browsertest.Step(t, admin, "the admin page did not open", chromedp.Navigate(base+"/admin#token="+keys["admin"]),
		chromedp.WaitVisible("#admin"))

	// 1,000 calls, one every 100 ms of wall time (10 s of Asterisk's),
	// each ringing and talking for its scenario's time, for 102 (whose
	// page is not open: 101's is, for the pops below, and a page that
	// shows a thousand calls in its session history falls behind on a
	// loaded machine).
	load := arisim.Load{Rate: 1, Seed: 8, Operators: []string{"102"}}
	const n = 1000
	var (
		placed sync.WaitGroup
		mu     sync.Mutex
		failed []error
	)
	loadStart := time.Now()
	generated := make(chan struct{})
	go func() {
		defer close(generated)
		for i := range n {
			c := load.Call(i, []string{"102"})
			c.ID = fmt.Sprintf("load-%04d", i)
			time.Sleep(time.Until(loadStart.Add(time.Duration(i) * time.Second / speed)))
			placed.Add(1)
			go func() {
				defer placed.Done()
				if _, err := sim.Place(context.Background(), c); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Errorf("%s: %w", c.ID, err))
					mu.Unlock()
				}
			}()
		}
	}()
	waitFor(t, 30*time.Second, "the first calls stored", func() bool { rows, _, _ := callRows(t, dsn); return rows >= 20 })

	// A pop while the database is away: the page is connected, the
	// operator's phone rings, the card must come at once.
	pop := func(id string) time.Duration {
		t.Helper()
		start := time.Now()
		go sim.Place(context.Background(), arisim.Call{ID: id, Caller: "+79161234567", DID: "74951112233",
			Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: 50 * time.Second})
		wctx, cancel := context.WithTimeout(op, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(`.call[data-call-id="`+id+`"]`)); err != nil {
			sctx, cancel := context.WithTimeout(op, 5*time.Second)
			defer cancel()
			shown, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.querySelector("#conn").textContent + " | " +
				[...document.querySelectorAll(".call")].map((e) => e.dataset.callId + ":" + e.dataset.state).join(" ")`))
			t.Fatalf("no pop for %s while the database was away: %v; the page shows %s; the daemon's %s", id, err, shown,
				d.metric("screenpop_operator_sockets"))
		}
		return time.Since(start)
	}
	storedKey := func(ctx context.Context, key string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](`localStorage.getItem("`+key+`")`))
		if err != nil || v == nil {
			return ""
		}
		return *v
	}

	rowsBefore, _, _ := callRows(t, dsn)
	stopped := time.Now()
	pg.Stop(t)
	popStopped := pop("pop-stopped")
	// Pages that reload now find their key cannot be checked: they keep
	// it and say the server cannot be reached.
	browsertest.Step(t, reports, "the reports page, reloaded while the database was stopped, did not say it could not load",
		chromedp.Navigate(base+"/reports"), browsertest.WaitJS(`$("#status").textContent.includes("Could not load the report") && $("#login").hidden`))
	browsertest.Step(t, admin, "the admin page, reloaded while the database was stopped, did not say the key cannot be checked",
		chromedp.Navigate(base+"/admin"), browsertest.WaitJS(`$("#problems").textContent.includes("cannot be checked") && $("#login").hidden`))
	time.Sleep(time.Until(stopped.Add(outageStopped)))

	pg.Start(t)
	pg.Hang(t)
	hung := time.Now()
	popHung := pop("pop-hung")
	browsertest.Step(t, op, "the operator page, reloaded while the database hung, did not keep its key and wait",
		chromedp.Navigate(base+"/"), browsertest.WaitJS(`!$("#desk").hidden && $("#login").hidden && $("#conn").textContent === "offline"`))
	time.Sleep(time.Until(hung.Add(outageHung)))
	pg.Resume(t)
	back := time.Now()

	// Every page comes back with its key, without anyone signing in.
	for _, p := range []struct {
		name string
		ctx  context.Context
		wait chromedp.Action[chromedp.Void]
	}{
		{"the operator page", op, browsertest.WaitJS(`$("#conn").textContent === "online" && $("#login").hidden`)},
		{"the reports page", reports, browsertest.WaitJS(`$("#totals").textContent.includes("Calls") && $("#login").hidden`)},
		{"the admin page", admin, browsertest.WaitJS(`!$("#admin").hidden && $("#login").hidden`)},
	} {
		wctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
		if err := chromedp.Do(wctx, p.wait); err != nil {
			t.Errorf("%s did not come back with its key once the database was back: %v\n%s", p.name, err, browsertest.PageHTML(p.ctx))
		}
		cancel()
		t.Logf("%s back %v after the database", p.name, time.Since(back).Round(100*time.Millisecond))
	}
	if storedKey(op, "screenpop.token") != keys["101"] || storedKey(reports, "screenpop.staffToken") != keys["admin"] {
		t.Errorf("a page lost its key: operator %q, staff %q", storedKey(op, "screenpop.token"), storedKey(reports, "screenpop.staffToken"))
	}

	// Every call once in the call log.
	<-generated
	placed.Wait()
	var rows, distinct int
	var ids map[string]bool
	waitFor(t, 60*time.Second, "every call in the call log", func() bool {
		rows, distinct, ids = callRows(t, dsn)
		return rows >= n+2
	})
	missing := 0
	for i := range n {
		if !ids[fmt.Sprintf("load-%04d", i)] {
			missing++
		}
	}
	t.Logf("database stopped %v, then hung %v, during %d calls (%d failed to place): %d rows, %d distinct, %d of the load missing; "+
		"%d stored before the stop; pops while stopped %v, while hung %v",
		outageStopped, outageHung, n, len(failed), rows, distinct, missing, rowsBefore, popStopped.Round(time.Millisecond),
		popHung.Round(time.Millisecond))
	if len(failed) > 0 {
		t.Errorf("the simulator failed calls: %v", failed)
	}
	if rows != n+2 || distinct != n+2 || missing > 0 || !ids["pop-stopped"] || !ids["pop-hung"] {
		t.Errorf("want the %d calls and the 2 pops each once", n)
	}
	for name, took := range map[string]time.Duration{"stopped": popStopped, "hung": popHung} {
		if took > 3*time.Second {
			t.Errorf("the pop while the database was %s took %v", name, took)
		}
	}
	d.shutdown(t)
}

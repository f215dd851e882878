package main

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// centreDaemon runs the daemon against the simulated Asterisk in real
// time (the wallboard's waits are wall-clock), with operators 101 Анна,
// 102 Борис, 103 Вера and 104 Глеб, two advertised lines, and a
// supervisor's token, which it returns with the operators' keys.
func centreDaemon(t *testing.T) (*arisim.Sim, *daemon, map[string]string, string) {
	t.Helper()
	sim, d := newSimDaemon(t, 1, "101", "102", "103", "104")
	keys := seed(t, d.dataDir, ivanPetrov())
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetRegion("RU")
	for _, op := range []struct{ name, ext string }{{"Вера Соколова", "103"}, {"Глеб Орлов", "104"}} {
		_, tok, err := db.AddOperator(ctx, op.name, op.ext)
		if err != nil {
			t.Fatal(err)
		}
		keys[op.ext] = tok
	}
	from := time.Now().AddDate(0, -1, 0)
	for _, src := range []screenpop.Source{{DID: "74951112233", Source: "Радио «Европа Плюс»", From: from}, {DID: "74957778899", Source: "Сайт", From: from}} {
		if _, err := db.AddSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	_, supervisor, err := db.AddStaff(ctx, "Ольга, старший смены", screenpop.RoleSupervisor)
	if err != nil {
		t.Fatal(err)
	}
	return sim, d, keys, supervisor
}

func TestBrowserWallboardShowsTheSimulatorsCallsOperatorsAndTodaysFigures(t *testing.T) {
	sim, d, keys, supervisor := centreDaemon(t)
	// Amber and red come soon, so a waiting call crosses both in the test.
	d.cfg.Wallboard.WaitAmber, d.cfg.Wallboard.WaitRed = 1, 3
	d.cfg.Wallboard.CallbacksAmber, d.cfg.Wallboard.CallbacksRed = 1, 3
	d.start(t)
	d.waitReady(t, 200)

	// Earlier today on the radio line: Вера missed Мария, Анна answered Иван.
	for _, c := range []arisim.Call{
		{ID: "early-missed", Caller: "+79035550101", DID: "74951112233", Scenario: arisim.Missed, Operators: []string{"103"}, RingFor: time.Second},
		{ID: "early-answered", Caller: "89161234567", DID: "74951112233", Scenario: arisim.Answered, Operators: []string{"101"},
			RingFor: time.Second, TalkFor: time.Second},
	} {
		if _, err := sim.Place(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	d.waitCallsRecorded(t, 2)

	// Now: Анна talks to a caller from the radio line; Борис's phone rings
	// for a caller from the web site; Вера has her page open; Глеб has not.
	live, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(live, arisim.Call{ID: "talking", Caller: "+79260000001", DID: "74951112233", Scenario: arisim.Answered,
		Operators: []string{"101"}, RingFor: 500 * time.Millisecond, TalkFor: 10 * time.Minute})
	go sim.Place(live, arisim.Call{ID: "ringing", Caller: "+79260000002", DID: "74957778899", Scenario: arisim.Missed,
		Operators: []string{"102"}, RingFor: 10 * time.Minute})
	openOperatorPage(t, d, keys["103"]) // Вера's page stays open until the test ends

	ctx := browser(t)
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	op := func(ext string) string { return `#operators li[data-extension="` + ext + `"]` }
	if err := chromedp.Do(step, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+d.http+"/wallboard#token="+supervisor),
		chromedp.WaitVisible("#board"), waitText("#conn", "online"), chromedp.Click("#lang"), waitText("#conn", "на связи"),
		waitTrue("Анна talks", `document.querySelector('`+op("101")+`')?.dataset.state === "talking"`),
		waitTrue("Борис's phone rings", `document.querySelector('`+op("102")+`')?.dataset.state === "ringing"`),
		waitTrue("Вера is free", `document.querySelector('`+op("103")+`')?.dataset.state === "free"`),
		waitTrue("Глеб is offline", `document.querySelector('`+op("104")+`')?.dataset.state === "offline"`),
		waitTrue("the ringing call is red after 3 s", `document.querySelector('#calls li[data-state="ringing"]')?.dataset.level === "red"`),
	); err != nil {
		t.Fatalf("the wallboard did not show the simulator's state: %v\n%s", err, boardHTML(ctx))
	}
	// Readable as a person sees it.
	texts := map[string]string{
		op("101") + " .name":                    "Анна Смирнова",
		op("101") + " .line":                    "Радио «Европа Плюс»",
		op("102") + " .name":                    "Борис Волков",
		op("102") + " .state":                   "звонит",
		op("103") + " .state":                   "свободен",
		op("104") + " .state":                   "не в сети",
		`#calls li[data-state="ringing"] .line`: "Сайт",
		`#calls li[data-state="ringing"] .who`:  "звонит у Борис Волков",
		"#tile-waiting .value":                  "1",
		"#tile-talking .value":                  "1",
	}
	for sel, want := range texts {
		if got := strings.TrimSpace(text(t, ctx, sel)); !strings.EqualFold(got, want) {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	if talk := text(t, ctx, op("101")+" .for"); !regexp.MustCompile(`^00:[0-5]\d$`).MatchString(talk) {
		t.Errorf("Анна has been talking for %q, want the seconds since she answered (00:ss)", talk)
	}
	// Today, by line: the radio line's two finished calls, one lost: 50%
	// answered in time, under the red threshold (60%).
	radio := `#lines tr[data-line="Радио «Европа Плюс»"]`
	step2, cancel2 := context.WithTimeout(ctx, 45*time.Second)
	defer cancel2()
	if err := chromedp.Do(step2, waitText(radio+" .n-calls", "2"), waitText(radio+" .n-answered", "1"), waitText(radio+" .n-lost", "1"),
		waitText(radio+" .n-sl", "50%"), waitText("#tile-sl .value", "50%"),
		waitTrue("the service level tile is red", `document.querySelector("#tile-sl").dataset.level === "red"`),
		waitText("#tile-callbacks .value", "1"),
		waitTrue("the callback tile is amber", `document.querySelector("#tile-callbacks").dataset.level === "amber"`),
	); err != nil {
		t.Fatalf("today's figures: %v\n%s", err, boardHTML(ctx))
	}
	screenshot(t, ctx, "wallboard")
	if got := len(nodes(t, ctx, "#operators li")); got != 4 {
		t.Errorf("the wallboard lists %d operators, want 4", got)
	}

	// Борис answers at last: his phone no longer rings, nobody waits.
	stop()
	step3, cancel3 := context.WithTimeout(ctx, 20*time.Second)
	defer cancel3()
	if err := chromedp.Do(step3, waitText("#tile-waiting .value", "0"), waitText("#calls", "Никто не ждёт"),
		waitTrue("Анна is offline or free again", `["free","offline"].includes(document.querySelector('`+op("101")+`')?.dataset.state)`)); err != nil {
		t.Fatalf("the wallboard kept the calls after they ended: %v\n%s", err, boardHTML(ctx))
	}

	// A daemon started again counts the day from the call log: the radio
	// line's three calls (Анна's call ended too) are still there.
	d.waitCallsRecorded(t, 4)
	step4, cancel4 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel4()
	if err := chromedp.Do(step4, waitText(radio+" .n-calls", "3")); err != nil {
		t.Fatalf("the radio line after Анна's call ended: %v\n%s", err, boardHTML(ctx))
	}
	d.shutdown(t)
	d.start(t)
	d.waitReady(t, 200)
	if err := chromedp.Do(step4, waitText("#conn", "на связи"), waitText(radio+" .n-calls", "3"), waitText(radio+" .n-answered", "2"),
		waitText(radio+" .n-lost", "1")); err != nil {
		t.Fatalf("the restarted daemon's wallboard: %v\n%s", err, boardHTML(ctx))
	}
}

func TestBrowserWallboardShowsAHungDaemonOffline(t *testing.T) {
	_, d, _, supervisor := centreDaemon(t)
	d.start(t)
	d.waitReady(t, 200)
	g := newGate(t, d.http)
	ctx := browser(t)
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate("http://"+g.ln.Addr().String()+"/wallboard#token="+supervisor),
		waitText("#conn", "online")); err != nil {
		t.Fatalf("open the wallboard: %v\n%s", err, boardHTML(ctx))
	}
	g.freeze()
	hung := time.Now()
	step2, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if err := chromedp.Do(step2, waitText("#conn", "offline"),
		waitTrue("the board is greyed", `document.querySelector("#board").classList.contains("stale")`)); err != nil {
		t.Fatalf("10 s after the daemon hung the wallboard still says %q: %v", text(t, ctx, "#conn"), err)
	}
	t.Logf("the wallboard showed the hung daemon as offline after %v", time.Since(hung).Round(100*time.Millisecond))
	g.thaw()
	step3, cancel3 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel3()
	if err := chromedp.Do(step3, waitText("#conn", "online")); err != nil {
		t.Fatalf("the wallboard did not come back when the daemon woke: %v", err)
	}
}

func TestBrowserWallboardRefusesAnAnalystsToken(t *testing.T) {
	_, d, _, _ := centreDaemon(t)
	db, err := store.OpenSQLite(context.Background(), filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, analyst, err := db.AddStaff(context.Background(), "Вера Аналитик", screenpop.RoleAnalyst)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.start(t)
	d.waitReady(t, 200)
	ctx := browser(t)
	step, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate("http://"+d.http+"/wallboard#token="+analyst),
		chromedp.WaitVisible("#login-error"),
		waitText("#login-error", "it needs a staff token of the supervisor or admin role")); err != nil {
		t.Fatalf("an analyst's token: %v\n%s", err, boardHTML(ctx))
	}
	// The analyst's token stays saved for the reports page.
	saved, err := chromedp.Run(ctx, chromedp.Evaluate[string](`localStorage.getItem("screenpop.staffToken") || ""`))
	if err != nil || saved != analyst {
		t.Errorf("after the refusal the browser keeps %q (%v), want the analyst's token", saved, err)
	}
}

func nodes(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+"`"+sel+"`"+`)].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return slices.Clip(got)
}

func boardHTML(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML("body"))
	return html
}

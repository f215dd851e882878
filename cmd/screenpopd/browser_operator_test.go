package main

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
)

// openRussianPage opens operator key's page at 1400x900 through addr and
// switches it to Russian.
func openRussianPage(t *testing.T, addr, key string) context.Context {
	t.Helper()
	ctx := browser(t)
	open, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(open, chromedp.EmulateViewport(1400, 900), chromedp.Navigate("http://"+addr+"/#token="+key),
		chromedp.WaitVisible("#desk"), waitText("#conn", "online"), chromedp.Click("#lang"), waitText("#conn", "на связи")); err != nil {
		t.Fatalf("open the operator page: %v\n%s", err, pageHTML(ctx))
	}
	return ctx
}

func TestBrowserARingingCallIsOnTopWithItsSourceAndTheCallsUnderWayStayCompact(t *testing.T) {
	sim, d, keys, _ := centreDaemon(t)
	d.start(t)
	d.waitReady(t, 200)
	ctx := openRussianPage(t, d.http, keys["101"])

	// Анна talks on two calls (one with a withheld number) when Иван calls
	// the radio line.
	live, stop := context.WithCancel(context.Background())
	defer stop()
	for _, c := range []arisim.Call{
		{ID: "first", Caller: "+79260000001", DID: "74957778899", Scenario: arisim.Answered, Operators: []string{"101"},
			RingFor: 200 * time.Millisecond, TalkFor: 10 * time.Minute},
		{ID: "second", Caller: "anonymous", CallerName: "Anonymous", DID: "74957778899", Scenario: arisim.Answered,
			Operators: []string{"101"}, RingFor: 200 * time.Millisecond, TalkFor: 10 * time.Minute},
	} {
		go sim.Place(live, c)
	}
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(step, waitTrue("two calls under way", `document.querySelectorAll('.call[data-state="active"]').length === 2`)); err != nil {
		t.Fatalf("the two calls did not show: %v\n%s", err, pageHTML(ctx))
	}
	go sim.Place(live, arisim.Call{ID: "ivan", Caller: "89161234567", DID: "74951112233", Scenario: arisim.Missed,
		Operators: []string{"101"}, RingFor: 10 * time.Minute})
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		waitTrue("the ringing call is the first card", `document.querySelector("#calls .call").dataset.state === "ringing"`),
		waitText(`.call[data-state="ringing"] .did`, "Радио «Европа Плюс»"),
	); err != nil {
		t.Fatalf("the ringing call: %v\n%s", err, pageHTML(ctx))
	}
	type ringingCard struct {
		Top, Bottom float64
		Title       string
		Compact     int
		Withheld    string
	}
	top, err := chromedp.Run(ctx, chromedp.Evaluate[ringingCard](`(() => { const c = document.querySelector('.call[data-state="ringing"]'); const r = c.getBoundingClientRect();
			return {Top: r.top, Bottom: r.bottom, Title: c.querySelector(".did").title,
				Compact: document.querySelectorAll('.call.compact[data-state="active"]').length,
				Withheld: [...document.querySelectorAll('.call[data-state="active"] .number')].map(e => e.textContent).join("|")}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if top.Top < 0 || top.Top > 300 {
		t.Errorf("the ringing card starts %.0f px down a 900 px window, want near the top", top.Top)
	}
	if top.Title != "74951112233" {
		t.Errorf("hovering the line shows %q, want the number 74951112233", top.Title)
	}
	if top.Compact != 2 {
		t.Errorf("%d calls under way are compact while Иван rings, want 2", top.Compact)
	}
	if !strings.Contains(top.Withheld, "Номер скрыт") || strings.Contains(strings.ToLower(top.Withheld), "anonymous") {
		t.Errorf("the calls under way show the numbers %q, want the withheld one as Номер скрыт", top.Withheld)
	}
	screenshot(t, ctx, "operator-ringing-on-top")
	if hist := text(t, ctx, "#history tbody"); !strings.Contains(hist, "Номер скрыт") || strings.Contains(strings.ToLower(hist), "anonymous") ||
		!strings.Contains(hist, "Сайт") || !strings.Contains(hist, "Радио «Европа Плюс»") {
		t.Errorf("the session list reads %q, want the lines' sources and the withheld number as Номер скрыт", hist)
	}
}

func TestBrowserTheShiftListAndANoteDraftComeBackAfterAReload(t *testing.T) {
	sim, d, keys, _ := centreDaemon(t)
	d.start(t)
	d.waitReady(t, 200)
	// Earlier in the shift: three calls Анна answered, one she missed, one
	// Борис took from the queue that rang them both.
	calls := []arisim.Call{
		{ID: "s1", Caller: "89161234567", DID: "74951112233", Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond},
		{ID: "s2", Caller: "+79260000002", DID: "74957778899", Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond},
		{ID: "s3", Caller: "+79260000003", DID: "74951112233", Scenario: arisim.Missed, Operators: []string{"101"}, RingFor: 200 * time.Millisecond},
		{ID: "s4", Caller: "+79260000004", DID: "74951112233", Scenario: arisim.Queue, Operators: []string{"101", "102"}, AnswerBy: "102", RingFor: 200 * time.Millisecond, TalkFor: 100 * time.Millisecond},
		{ID: "s5", Caller: "anonymous", CallerName: "Anonymous", DID: "74957778899", Scenario: arisim.Answered, Operators: []string{"101"}, RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond},
	}
	for _, c := range calls {
		if _, err := sim.Place(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	d.waitCallsRecorded(t, len(calls))

	// Now Иван is on the line, and Анна starts a note.
	ctx := openRussianPage(t, d.http, keys["101"])
	live, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(live, arisim.Call{ID: "now", Caller: "89161234567", DID: "74951112233", Scenario: arisim.Answered,
		Operators: []string{"101"}, RingFor: 200 * time.Millisecond, TalkFor: 10 * time.Minute})
	note := `.call[data-state="active"] .sp-note textarea`
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="active"] .greeting`, "Иван Петрович"), chromedp.WaitVisible(note),
		chromedp.SendKeys(note, "Хочет на ТО в субботу"),
		waitTrue("six rows", `document.querySelectorAll("#history tbody tr").length === 6`)); err != nil {
		t.Fatalf("before the reload: %v\n%s", err, pageHTML(ctx))
	}
	before := nodes(t, ctx, "#history tbody tr")

	if err := chromedp.Do(step, chromedp.Reload(), chromedp.WaitVisible("#desk"), waitText("#conn", "на связи"),
		waitTrue("the six rows are back", `document.querySelectorAll("#history tbody tr").length === 6`),
		waitText(`.call[data-state="active"] .greeting`, "Иван Петрович"),
		waitTrue("the draft is back", `document.querySelector('`+note+`')?.value === "Хочет на ТО в субботу"`),
		waitText(`#history tbody tr[data-call-id="s4"]`, "Принят · Борис Волков"),
		waitText(`#history tbody tr[data-call-id="s1"]`, "Петров Иван Петрович"),
		// The lines' names come a moment after the rows, from the daemon's directory.
		waitTrue("every line named", `![...document.querySelectorAll("#history tbody tr")].some((tr) => /749\d{8}/.test(tr.innerText))`),
	); err != nil {
		t.Fatalf("after the reload: %v\n%s", err, pageHTML(ctx))
	}
	after := nodes(t, ctx, "#history tbody tr")
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("the session list changed across the reload:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	starts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#history tbody tr")].map(tr => tr.dataset.callId)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"now", "s5", "s4", "s3", "s2", "s1"}; strings.Join(starts, " ") != strings.Join(want, " ") {
		t.Errorf("the session list is in the order %v, want the newest first %v", starts, want)
	}
	rows := strings.Join(after, "\n")
	for _, want := range []string{"Отвечен", "Пропущен", "Номер скрыт", "Радио «Европа Плюс»", "Сайт"} {
		if !strings.Contains(rows, want) {
			t.Errorf("the session list lacks %q:\n%s", want, rows)
		}
	}
	for _, bad := range []string{"anonymous", "отвечен", "пропущен", "74951112233"} {
		if strings.Contains(rows, bad) {
			t.Errorf("the session list shows %q:\n%s", bad, rows)
		}
	}
	screenshot(t, ctx, "operator-after-reload")
}

// gate passes TCP between the browser and the daemon until frozen: then
// it holds every byte, as a daemon stopped with SIGSTOP does (the kernel
// still accepts connections; nothing answers).
type gate struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	frozen  bool
	thawed  chan struct{}
	conns   []net.Conn
}

func newGate(t *testing.T, backend string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, backend: backend, thawed: make(chan struct{})}
	close(g.thawed)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			g.mu.Lock()
			g.conns = append(g.conns, c, b)
			g.mu.Unlock()
			go g.pipe(b, c)
			go g.pipe(c, b)
		}
	}()
	t.Cleanup(func() {
		g.thaw()
		ln.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range g.conns {
			c.Close()
		}
	})
	return g
}

func (g *gate) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.mu.Lock()
			wait := g.thawed
			g.mu.Unlock()
			<-wait
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			dst.Close()
			return
		}
	}
}

func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.frozen {
		g.frozen, g.thawed = true, make(chan struct{})
	}
}

func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen {
		g.frozen = false
		close(g.thawed)
	}
}

func TestBrowserAHungDaemonShowsOfflineWithinTenSeconds(t *testing.T) {
	_, d, keys, _ := centreDaemon(t)
	d.start(t)
	d.waitReady(t, 200)
	g := newGate(t, d.http)
	ctx := openRussianPage(t, g.ln.Addr().String(), keys["101"])

	g.freeze()
	hung := time.Now()
	step, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(step, waitText("#conn", "нет связи")); err != nil {
		t.Fatalf("10 s after the daemon hung the page still says %q: %v", text(t, ctx, "#conn"), err)
	}
	t.Logf("the page showed the hung daemon as offline after %v", time.Since(hung).Round(100*time.Millisecond))
	screenshot(t, ctx, "operator-daemon-hung")

	g.thaw()
	back, cancel2 := context.WithTimeout(ctx, 40*time.Second)
	defer cancel2()
	if err := chromedp.Do(back, waitText("#conn", "на связи")); err != nil {
		t.Fatalf("the page did not come back online when the daemon woke: %v", err)
	}

	// With the daemon gone, what the page's banners say is in the page's
	// language, not the browser's.
	d.shutdown(t)
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import("/page.js").then((page) => page.api("GET", "/api/shift")).then(() => "answered", e => e.message)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if msg != "нет связи с сервером" {
		t.Errorf("an API call to a stopped daemon says %q, want нет связи с сервером", msg)
	}
}

func TestBrowserTheSignInAsksForSoundAndNotificationsAndSaysWhatTheBrowserRefused(t *testing.T) {
	_, d, keys, _ := centreDaemon(t)
	d.start(t)
	d.waitReady(t, 200)
	ctx := openRussianPage(t, d.http, keys["101"])
	step, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Headless Chromium refuses notifications unless granted.
	if err := chromedp.Do(step, chromedp.WaitVisible("#notify-hint"), waitText("#notify-hint", "Включите звук и уведомления"),
		chromedp.Click("#notify"), waitText("#attention-status", "Браузер запретил уведомления")); err != nil {
		t.Fatalf("the request for sound and notifications: %v\n%s", err, pageHTML(ctx))
	}
	if s := text(t, ctx, "#attention-status"); strings.Contains(s, "звук") {
		t.Errorf("after the click the page says %q: the sound should be on", s)
	}
	screenshot(t, ctx, "operator-notifications-refused")
	// Granted in the browser's settings, one more click turns all on.
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: "http://" + d.http}); err != nil {
		t.Fatalf("allow notifications: %v", err)
	}
	if err := chromedp.Do(step, chromedp.Click("#notify"), chromedp.WaitNotVisible("#notify-hint")); err != nil {
		t.Fatalf("with notifications allowed: %v\n%s", err, pageHTML(ctx))
	}
}

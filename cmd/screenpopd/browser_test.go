package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/internal/browsertest"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// browser starts headless Chromium for a test, with any extra options.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	return browsertest.New(t, extra...)
}

// seed puts a client and two operators in the daemon's embedded store
// before it starts, and returns the operators' keys.
func seed(t *testing.T, dataDir string, clients ...screenpop.ClientHistory) map[string]string {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportClients(ctx, clients); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, op := range []struct{ name, ext string }{{"Анна Смирнова", "101"}, {"Борис Волков", "102"}} {
		_, tok, err := db.AddOperator(ctx, op.name, op.ext)
		if err != nil {
			t.Fatal(err)
		}
		keys[op.ext] = tok
	}
	return keys
}

func ivanPetrov() screenpop.ClientHistory {
	warranty := time.Now().AddDate(0, 0, 12)
	return screenpop.ClientHistory{
		Client: screenpop.Client{
			LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович",
			Phones: []string{"+79161234567"},
			Cars:   []screenpop.Car{{Make: "Kia", Model: "Rio", Year: 2021, Plate: "А123ВС77", VIN: "Z94CB41AAGR323020", WarrantyEnd: &warranty}},
		},
		Visits:   []screenpop.Visit{{Date: time.Now().AddDate(0, -2, 0), Kind: screenpop.VisitService, Amount: 14500, Employee: "Сергей Кузнецов"}},
		Contacts: []screenpop.Contact{{At: time.Now().AddDate(0, 0, -3), Channel: "phone", Employee: "Анна Смирнова", Summary: "Записался на ТО"}},
	}
}

func TestBrowserShowsTheCardAtTheRingAndWithdrawsItWhenAnotherOperatorAnswers(t *testing.T) {
	lines := traceLines(t, "queue.jsonl")
	// Up to both phones ringing; then 102 answers.
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`, `Local/101@phones`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, 200)

	ctx := browser(t)
	page := "http://" + d.http + "/#token=" + keys["101"]
	open, cancelOpen := context.WithTimeout(ctx, time.Minute)
	defer cancelOpen()
	// The browser speaks English; the operator switches the page to Russian.
	if err := chromedp.Do(open, chromedp.Navigate(page), chromedp.WaitVisible("#desk"), waitText("#conn", "online"),
		chromedp.Click("#lang"), waitText("#conn", "на связи")); err != nil {
		t.Fatalf("open the operator page: %v\n%s", err, pageHTML(ctx))
	}
	send(t, ws, lines[:ringing])

	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович")); err != nil {
		t.Fatalf("the pop did not show Иван Петрович while 101 rang: %v\n%s", err, pageHTML(ctx))
	}
	// The warranty alert, on the ringing call's card (waited for: a
	// loaded run once read the card's parts before it had them all).
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .alerts`, "Заканчивается гарантия")); err != nil {
		t.Errorf("the ringing card shows no warranty alert: %v\n%s", err, pageHTML(ctx))
	}
	alerts := text(t, ctx, `.call[data-state="ringing"] .alerts`)
	cars := text(t, ctx, `.call[data-state="ringing"] .cars`)
	facts := text(t, ctx, `.call[data-state="ringing"] .facts`)
	if !strings.Contains(alerts, "Заканчивается гарантия") || !strings.Contains(cars, "Kia Rio") || !strings.Contains(cars, "А123ВС77") ||
		!strings.Contains(facts, "Записался на ТО") {
		t.Errorf("card shows alerts %q, cars %q, facts %q", alerts, cars, facts)
	}

	// 102 answers: 101's pop says who took it...
	answered := indexOf(t, lines, `"ChannelEnteredBridge"`) + 1
	send(t, ws, lines[ringing:answered])
	defer send(t, ws, lines[answered:])
	step2, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if err := chromedp.Do(step2, waitText(`.call[data-state="taken"] .state`, "Принят · Борис Волков")); err != nil {
		t.Fatalf("101's pop did not name Борис (102) as who took the call: %v\n%s", err, pageHTML(ctx))
	}
	// ...and is withdrawn; the session list keeps the call.
	step3, cancel3 := context.WithTimeout(ctx, time.Minute)
	defer cancel3()
	if err := chromedp.Do(step3,
		chromedp.WaitNotPresent(".call"),
		waitText("#history tbody", "Петров Иван Петрович"),
		waitText("#history tbody", "Принят · Борис Волков"),
	); err != nil {
		t.Fatalf("the pop was not withdrawn when 102 answered: %v\n%s", err, pageHTML(ctx))
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	// A page that renders again (the wallboard, every second) can replace
	// the node between finding it and reading it: read it again.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err == nil {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("read %s: %v", sel, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func pageHTML(ctx context.Context) string { return browsertest.PageHTML(ctx) }

// waitText waits until the element's text, as the user sees it (CSS may
// upper-case it), contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return browsertest.WaitText(sel, want)
}

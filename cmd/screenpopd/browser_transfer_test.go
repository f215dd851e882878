package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
)

// TestBrowserPopsAnAttendedTransferOnTheTargetsPage: 101 answers Иван,
// consults 102 and completes the transfer; 102's phone never rang for the
// call, yet 102's page pops it, with Иван's card, as transferred from 101, by name (Анна Смирнова).
func TestBrowserPopsAnAttendedTransferOnTheTargetsPage(t *testing.T) {
	sim, d, keys := simDaemon(t, 4)
	ctx := openOperatorPage(t, d, keys["102"])

	pctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(pctx, arisim.Call{ID: "xfer-1", Caller: "+79161234567", DID: "74951112233", Scenario: arisim.AttendedTransfer,
		Operators: []string{"101", "102"}, RingFor: 2 * time.Second, TalkFor: 120 * time.Second})

	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="active"] .greeting`, "Иван Петрович"),
		waitText(`.call[data-state="active"] .state`, "Transferred from Анна Смирнова")); err != nil {
		t.Fatalf("102's page did not pop the call transferred to them: %v\n%s", err, pageHTML(ctx))
	}
}

// TestBrowserOperatorCannotOpenAnotherOperatorsClientHistory: Иван's call
// rings 101 only. 101's page opens his history; 102's page, asking with
// 102's key for the same client, is told there is no such client of
// theirs.
func TestBrowserOperatorCannotOpenAnotherOperatorsClientHistory(t *testing.T) {
	sim, d, keys := simDaemon(t, 4)
	ctx101 := openOperatorPage(t, d, keys["101"])
	ctx102 := openOperatorPage(t, d, keys["102"])

	pctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(pctx, arisim.Call{ID: "own-1", Caller: "+79161234567", DID: "74951112233", Operators: []string{"101"},
		RingFor: 60 * time.Second})

	step, cancel := context.WithTimeout(ctx101, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		clickNow(`.call .history-btn`), chromedp.WaitVisible(`.call .history`)); err != nil {
		t.Fatalf("101 could not open the history of the client calling them: %v\n%s", err, pageHTML(ctx101))
	}
	step2, cancel2 := context.WithTimeout(ctx102, time.Minute)
	defer cancel2()
	got, err := chromedp.Run(step2, chromedp.Evaluate[string](`import("/page.js").then((page) => page.api("GET", "/api/clients/1/calls")).then(() => "opened", e => e.message)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if got == "opened" || got == "" {
		t.Errorf("102's page opened the history of 101's client: %q", got)
	}
	t.Logf("102's page was told: %s", got)
}

package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
)

func TestBrowserCallsBackFromTheClientsCallHistory(t *testing.T) {
	sim, d, keys := simDaemon(t, 4)
	ctx := openOperatorPage(t, d, keys["101"])

	// Иван called earlier and nobody answered.
	if _, err := sim.Place(context.Background(), arisim.Call{ID: "hist-1", Caller: "+79161234567", DID: "74957778899",
		Scenario: arisim.Missed, Operators: []string{"101"}, RingFor: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// Its record reaches the call log a moment after it ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", "http://"+d.http+"/api/clients/1/calls", nil)
		req.Header.Set("Authorization", "Bearer "+keys["101"])
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "hist-1") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the missed call never reached Иван's call history")
		}
	}
	// He calls again; 101 opens his history from the pop.
	pctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(pctx, arisim.Call{ID: "hist-2", Caller: "89161234567", DID: "74951112233", Operators: []string{"101"},
		RingFor: 60 * time.Second})

	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		clickNow(`.call .history-btn`),
		waitText(`.call .history-call[data-call-id="hist-1"]`, "74957778899"),
		waitText(`.call .history-call[data-call-id="hist-1"]`, "missed"),
		clickNow(`.call .history-call[data-call-id="hist-1"] .dial-btn`),
		waitText("#dial-status", "+79161234567")); err != nil {
		t.Fatalf("calling back from the client's history: %v\n%s", err, pageHTML(ctx))
	}
	o := waitOriginates(t, sim, 1)[0]
	if o.Endpoint != "PJSIP/101" || o.Extension != "+79161234567" || o.Context != "from-internal" {
		t.Errorf("Asterisk was asked to ring %s and dial %s in %s, want PJSIP/101, +79161234567, from-internal", o.Endpoint, o.Extension, o.Context)
	}
}

// clickNow clicks sel's element within one turn of the page: it redraws
// its cards on every message, and a click between finding a node and
// pressing it may find the node gone.
func clickNow(sel string) chromedp.Action[chromedp.Void] {
	return waitTrue("clicked "+sel, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (!e) return false; e.click(); return true; })()`)
}

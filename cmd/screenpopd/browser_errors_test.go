package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
)

// A refusal from the daemon reads in the page's language; the daemon's
// own words (English) are only a detail, on hover. Here 101 starts to
// close Иван's callback item while 102 has just closed it.
func TestBrowserTheDaemonsRefusalIsInThePagesLanguageWithItsOwnWordsOnHover(t *testing.T) {
	sim, d, keys := simDaemon(t, 10)
	ctx := openRussianPage(t, d.http, keys["101"])

	if _, err := sim.Place(context.Background(), arisim.Call{ID: "miss-1", Caller: "89161234567", DID: "74951112233",
		Scenario: arisim.Missed, Operators: []string{"101"}, RingFor: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ivan := `#callbacks tr[data-number="+79161234567"]`
	step(t, ctx, "Иван's missed call is not on the callback list",
		waitText(ivan+" .cb-client", "Петров Иван Петрович"),
		clickNow(ivan+" .callback-close"), chromedp.WaitVisible(".callback-reason"),
		chromedp.SendKeys(".callback-reason", "написал в чат"))

	// 102 closes the item first, from their own page's API.
	req, err := http.NewRequestWithContext(t.Context(), "POST",
		"http://"+d.http+"/api/callbacks/"+url.PathEscape("+79161234567")+"/close", strings.NewReader(`{"reason":"дозвонился с мобильного"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+keys["102"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("102 closing Иван's item: %d", resp.StatusCode)
	}

	step(t, ctx, "101's late close was not refused in Russian",
		clickNow(".callback-close-ok"), waitText("#dial-status.error", "Список «перезвонить»: клиент уже не ждёт звонка"))
	shown := text(t, ctx, "#dial-status .dial-status-text")
	if strings.ContainsAny(shown, "abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("the Russian page says %q: English words in it", shown)
	}
	hover, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#dial-status .dial-status-text").title`))
	if err != nil {
		t.Fatal(err)
	}
	if hover != "this client no longer waits for a callback" {
		t.Errorf("hovering the refusal shows %q, want the daemon's own words", hover)
	}
	screenshot(t, ctx, "operator-refusal-translated")
}

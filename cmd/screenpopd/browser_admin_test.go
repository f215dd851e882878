package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// signIn types a staff token into the admin page's form.
func signInAsStaff(token string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible("#login"), chromedp.SendKeys("#token", token), chromedp.Click(`#login button[type="submit"]`),
	}
}

func TestBrowserAdminPageShowsTheConnectionTheEventsAndHowEachCallWasClassified(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`, `Local/101@phones`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	seed(t, d.dataDir, ivanPetrov())
	admin, analyst := seedStaffTokens(t, d.dataDir)
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)

	ctx := browser(t)
	open, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The browser speaks English.
	if err := chromedp.Do(open, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate("http://" + d.http + "/admin")},
		signInAsStaff(admin)...)...); err != nil {
		t.Fatalf("sign in to the admin page: %v\n%s", err, pageHTML(ctx))
	}
	step(t, ctx, "the page did not say ARI is connected, to which URL",
		chromedp.WaitVisible("#admin"), waitText("#ari-state", "connected since"), waitText("#ari-conn", "ARI connected"),
		waitText("#ari-url", ast.srv.URL+"/ari"), waitText("#ari-errors tbody", "No errors"),
		waitText("#open-calls tbody", "No calls now"))

	send(t, ws, lines[:ringing])
	step(t, ctx, "the ringing call was not listed with who it rings and why",
		waitText("#open-calls tbody", "+79161234567"),
		waitText("#open-calls tbody", "74951112233"),
		waitText("#open-calls tbody", "ringing at 101"),
		waitText("#open-calls tbody", "operator 101: channel Local/101@phones-0000003d;1 matched endpoint pattern Local/{ext}@phones; ringing"))
	step(t, ctx, "the last events were not listed",
		waitText("#events tbody", "Dial"),
		waitText("#events tbody", "Local/74951112233@from-trunk-0000003c;2 → Local/101@phones-0000003d;1 (RINGING)"),
		waitText("#events tbody", "used"))

	send(t, ws, lines[ringing:])
	step(t, ctx, "the ended call was not listed with its classification",
		waitText("#recent-calls tbody", "+79161234567"),
		waitText("#recent-calls tbody", "answered"),
		waitText("#recent-calls tbody", "inbound: channel Local/74951112233@from-trunk-0000003c;1 was created in inbound context from-trunk"),
		waitText("#recent-calls tbody", "DID 74951112233 from"),
		waitText("#recent-calls tbody", "operator 101: channel Local/101@phones-0000003d;1 matched endpoint pattern Local/{ext}@phones; rang 2.0 s, answered"),
		waitText("#recent-calls tbody", "answered: 101 answered after ringing 2.0 s"),
		waitText("#open-calls tbody", "No calls now"))

	step(t, ctx, "the page did not speak Russian",
		chromedp.Click("#lang"), waitText("#ari-state", "подключено с"), waitText("#recent-calls thead", "Почему так"),
		waitText("#recent-calls tbody", "отвечен"))

	t.Run("an analyst's token and an unknown one get a clear refusal", func(t *testing.T) {
		step(t, ctx, "signing out did not show the form", chromedp.Click("#lang"), chromedp.Click("#logout"), chromedp.WaitVisible("#login"))
		step(t, ctx, "an analyst's token was not refused",
			append(signInAsStaff(analyst), waitText("#login-error", "it needs the admin role"), chromedp.WaitNotVisible("#admin"))...)
		step(t, ctx, "an unknown token was not refused",
			append(signInAsStaff("not-a-token"), waitText("#login-error", "Unknown staff token"), chromedp.WaitNotVisible("#admin"))...)
	})
}

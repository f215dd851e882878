package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// simDaemon runs the daemon against the simulated Asterisk: a PJSIP
// call centre, phones PJSIP/101 and PJSIP/102, click-to-dial as the
// default config has it (ring PJSIP/{ext}, then the number in
// from-internal, an outbound context). The client base holds Иван Петров.
func simDaemon(t *testing.T, speed float64) (*arisim.Sim, *daemon, map[string]string) {
	t.Helper()
	sim, d := newSimDaemon(t, speed, "101", "102")
	if d.cfg.DialEndpoint != "PJSIP/{ext}" || d.cfg.DialContext != "from-internal" || !slices.Contains(d.cfg.OutboundContexts, "from-internal") {
		t.Fatalf("the default config dials %s in %s with outbound contexts %v", d.cfg.DialEndpoint, d.cfg.DialContext, d.cfg.OutboundContexts)
	}
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	d.waitReady(t, 200)
	return sim, d, keys
}

// newSimDaemon configures the daemon for a simulated PJSIP call centre
// with the operators' phones, running at speed.
func newSimDaemon(t *testing.T, speed float64, operators ...string) (*arisim.Sim, *daemon) {
	t.Helper()
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", Operators: operators,
		Tech: arisim.TechPJSIP, ChannelVars: true, Speed: speed}, discardLogger())
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	d := newDaemon(t, url)
	d.cfg.InboundContexts = []string{"from-trunk"}
	d.cfg.OperatorPattern = []string{"PJSIP/{ext}"}
	if d.cfg.Operators, err = screenpop.ParseEndpointPatterns(d.cfg.OperatorPattern); err != nil {
		t.Fatal(err)
	}
	return sim, d
}

// openOperatorPage opens operator ext's page and waits until it is online.
func openOperatorPage(t *testing.T, d *daemon, key string) context.Context {
	t.Helper()
	ctx := browser(t)
	open, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(open, chromedp.Navigate("http://"+d.http+"/#token="+key), chromedp.WaitVisible("#desk"),
		waitText("#conn", "online")); err != nil {
		t.Fatalf("open the operator page: %v\n%s", err, pageHTML(ctx))
	}
	return ctx
}

// waitOriginates waits until the simulator has received n originates.
func waitOriginates(t *testing.T, sim *arisim.Sim, n int) []arisim.Originate {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if o := sim.Originates(); len(o) >= n {
			return o
		}
	}
	t.Fatalf("Asterisk received %d originates, want %d", len(sim.Originates()), n)
	return nil
}

func TestBrowserCallsTheClientBackFromThePop(t *testing.T) {
	sim, d, keys := simDaemon(t, 4)
	ctx := openOperatorPage(t, d, keys["101"])

	// Иван calls; 101's phone rings long enough to act on the pop.
	pctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sim.Place(pctx, arisim.Call{ID: "pop-1", Caller: "89161234567", DID: "74951112233", Operators: []string{"101"},
		RingFor: 60 * time.Second})

	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		waitText(`.call .dial-btn`, "Call back"), chromedp.Click(`.call .dial-btn`),
		waitText("#dial-status", "Ringing your phone: pick up to call +79161234567")); err != nil {
		t.Fatalf("calling back from the pop: %v\n%s", err, pageHTML(ctx))
	}
	o := waitOriginates(t, sim, 1)[0]
	if o.Endpoint != "PJSIP/101" || o.Extension != "+79161234567" || o.Context != "from-internal" || o.Priority != 1 {
		t.Errorf("Asterisk was asked to ring %s and dial %s in %s at %d, want PJSIP/101 (101's own phone), +79161234567, from-internal, 1",
			o.Endpoint, o.Extension, o.Context, o.Priority)
	}
}

func TestBrowserCallbackListShowsAMissedCallUntilItIsCalledBackOrClosed(t *testing.T) {
	sim, d, keys := simDaemon(t, 10)
	ctx := openOperatorPage(t, d, keys["102"])

	// Иван's call and Мария's go unanswered.
	for _, c := range []arisim.Call{
		{ID: "miss-1", Caller: "89161234567", DID: "74951112233", Scenario: arisim.Missed, Operators: []string{"101"}, RingFor: 5 * time.Second},
		{ID: "miss-2", Caller: "+79035550101", DID: "74957778899", Scenario: arisim.Abandoned, Operators: []string{"101"}},
	} {
		if _, err := sim.Place(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	ivan, maria := `#callbacks tr[data-number="+79161234567"]`, `#callbacks tr[data-number="+79035550101"]`
	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(ivan+" .cb-client", "Петров Иван Петрович"), waitText(ivan+" .cb-attempts", "1"),
		waitText(ivan+" .cb-line", "74951112233"), waitText(maria+" .cb-line", "74957778899")); err != nil {
		t.Fatalf("the missed calls are not on the callback list: %v\n%s", err, pageHTML(ctx))
	}

	// 102 calls Иван back from the list: their phone rings, they pick up,
	// Иван answers; the outbound call closes the item.
	step2, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if err := chromedp.Do(step2, chromedp.Click(ivan+" .callback-call"), chromedp.WaitNotPresent(ivan)); err != nil {
		t.Fatalf("the item stayed after calling Иван back: %v\n%s", err, pageHTML(ctx))
	}
	o := waitOriginates(t, sim, 1)[0]
	if o.Endpoint != "PJSIP/102" || o.Extension != "+79161234567" || o.Context != "from-internal" {
		t.Errorf("Asterisk was asked to ring %s and dial %s in %s, want PJSIP/102, +79161234567, from-internal", o.Endpoint, o.Extension, o.Context)
	}

	// Мария wrote to the chat meanwhile: 102 closes her item by hand.
	step3, cancel3 := context.WithTimeout(ctx, time.Minute)
	defer cancel3()
	if err := chromedp.Do(step3, chromedp.Click(maria+" .callback-close"), chromedp.WaitVisible(".callback-reason"),
		chromedp.SendKeys(".callback-reason", "wrote to the chat"), chromedp.Click(".callback-close-ok"),
		chromedp.WaitNotPresent(maria), waitText("#callbacks", "Everyone has been called back")); err != nil {
		t.Fatalf("closing Мария's item: %v\n%s", err, pageHTML(ctx))
	}
	if n := len(sim.Originates()); n != 1 {
		t.Errorf("%d originates, want only the one call back", n)
	}

	d.shutdown(t)
	db, err := sql.Open("sqlite", filepath.Join(d.cfg.DataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var direction, status, by, e164 string
	if err := db.QueryRow(`SELECT direction, status, answered_by, caller_e164 FROM calls WHERE call_id = ?`, o.ChannelID).
		Scan(&direction, &status, &by, &e164); err != nil {
		t.Fatalf("the call back is not in the call log: %v", err)
	}
	if direction != "outbound" || status != "answered" || by != "102" || e164 != "+79161234567" {
		t.Errorf("the call back was recorded %s %s by %s to %s, want outbound answered by 102 to +79161234567", direction, status, by, e164)
	}
	var closedBy, reason string
	if err := db.QueryRow(`SELECT closed_by, reason FROM callback_closures WHERE number = '+79035550101'`).Scan(&closedBy, &reason); err != nil ||
		closedBy != "102" || reason != "wrote to the chat" {
		t.Errorf("Мария's closure: %q %q (%v)", closedBy, reason, err)
	}
}

// When Asterisk cannot reach the operator's phone, the page says so in the
// operator's words. The fake Asterisk accepts the originate, then the
// phone's channel goes as an unregistered PJSIP endpoint's does: cause 20.
func TestBrowserSaysWhyTheOperatorsPhoneCouldNotBeRung(t *testing.T) {
	lines := traceLines(t, "queue.jsonl")
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`, `Local/101@phones`) + 1
	ast := newFakeAsterisk(t)
	// In front of the fake Asterisk, answering the originate as Asterisk
	// does: with the new channel.
	posted := make(chan []byte, 4)
	backend, err := url.Parse(ast.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/ari/channels" {
			proxy.ServeHTTP(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		posted <- b
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","name":"PJSIP/101-000000a1","state":"Down"}`)
	}))
	defer front.Close()
	d := newDaemon(t, front.URL+"/ari")
	d.cfg.OperatorPattern = []string{"Local/{ext}@phones", "PJSIP/{ext}"}
	if d.cfg.Operators, err = screenpop.ParseEndpointPatterns(d.cfg.OperatorPattern); err != nil {
		t.Fatal(err)
	}
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, 200)
	ctx := openOperatorPage(t, d, keys["101"])
	send(t, ws, lines[:ringing])
	defer send(t, ws, lines[ringing:])

	step, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(step, waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		chromedp.Click(".call .dial-btn"), waitText("#dial-status", "Ringing your phone")); err != nil {
		t.Fatalf("calling back from the pop: %v\n%s", err, pageHTML(ctx))
	}
	var originate struct {
		Endpoint  string `json:"endpoint"`
		Extension string `json:"extension"`
		ChannelID string `json:"channelId"`
	}
	select {
	case b := <-posted:
		if err := json.Unmarshal(b, &originate); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no originate reached Asterisk")
	}
	if originate.Endpoint != "PJSIP/101" || originate.Extension != "+79161234567" {
		t.Errorf("originate rings %s for %s, want PJSIP/101 for +79161234567", originate.Endpoint, originate.Extension)
	}
	phone := fmt.Sprintf(`{"id":%q,"name":"PJSIP/101-000000a1","state":"Down","protocol_id":"","caller":{"name":"","number":""},`+
		`"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-internal","exten":"s","priority":1,"app_name":"","app_data":""},`+
		`"creationtime":"%s","language":"en","channelvars":{"CHANNEL(linkedid)":%q,"FROM_DID":""}}`,
		originate.ChannelID, ariTime(time.Now()), originate.ChannelID)
	event := func(typ, rest string) []byte {
		return []byte(fmt.Sprintf(`{"type":%q,"timestamp":"%s"%s,"asterisk_id":"02:fc:00:00:00:01","application":"screenpop"}`,
			typ, ariTime(time.Now()), rest))
	}
	send(t, ws, [][]byte{
		event("ChannelCreated", `,"channel":`+phone),
		event("Dial", `,"dialstatus":"","forward":"","dialstring":"101","peer":`+phone),
		event("ChannelDestroyed", `,"cause":20,"cause_txt":"Subscriber absent","channel":`+phone),
	})
	step2, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if err := chromedp.Do(step2, waitText("#dial-status.error", "Could not call +79161234567: your phone is offline (not registered)")); err != nil {
		t.Fatalf("the page did not say why the phone was not rung: %v\n%s", err, pageHTML(ctx))
	}
}

// ariTime formats a time as Asterisk does in events.
func ariTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/internal/browsertest"
	"github.com/screenpop/screenpop/screenpop"
)

// replaced is a copy of a trace with each old string replaced by its new
// one, in pairs: another call (new channel IDs) or another caller.
func replaced(lines [][]byte, oldNew ...string) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		for j := 0; j < len(oldNew); j += 2 {
			l = bytes.ReplaceAll(l, []byte(oldNew[j]), []byte(oldNew[j+1]))
		}
		out[i] = l
	}
	return out
}

// callAgain is the answered trace as a second call: its own channel IDs.
func callAgain(lines [][]byte) [][]byte {
	return replaced(lines, "call-answered", "call-again", "1795561236.14", "1795561299.14")
}

// operatorPage opens operator 101's page in Russian and waits until it is
// connected.
func operatorPage(t *testing.T, d *daemon, key string) context.Context {
	t.Helper()
	ctx := browser(t)
	open, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(open, chromedp.Navigate("http://"+d.http+"/#token="+key), chromedp.WaitVisible("#desk"),
		waitText("#conn", "online"), chromedp.Click("#lang"), waitText("#conn", "на связи")); err != nil {
		t.Fatalf("open the operator page: %v\n%s", err, pageHTML(ctx))
	}
	return ctx
}

// step runs browser actions within 10 seconds, failing the test with what
// the user was waiting to see.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Step(t, ctx, what, actions...)
}

// endCall sends the rest of a call and waits for its pop to go.
func endCall(t *testing.T, ctx context.Context, ws *websocket.Conn, rest [][]byte) {
	t.Helper()
	send(t, ws, rest)
	step(t, ctx, "the pop did not go when the call ended", chromedp.WaitNotPresent(".call"))
}

func TestBrowserANoteOnThePopIsTheLastContactOnTheNextCall(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	answered := indexOf(t, lines, `"ChannelEnteredBridge"`) + 1
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, 200)
	ctx := operatorPage(t, d, keys["101"])

	// Анна answers Иван Петрович and notes why he called, during the call.
	send(t, ws, lines[:answered])
	step(t, ctx, "the pop did not show Иван Петрович in conversation",
		waitText(`.call[data-state="active"] .greeting`, "Иван Петрович"))
	// The card is drawn again on every message: a node found just before
	// is then gone, and the operator would simply click again.
	for try := 1; ; try++ {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := chromedp.Do(sctx,
			chromedp.SetValue(`.call .sp-note select[name="purpose"]`, "service_booking"),
			chromedp.SetValue(`.call .sp-note textarea[name="note"]`, "Перезвонить насчёт тормозов"),
			chromedp.Click(`.call .sp-note button[type="submit"]`),
			waitText(`.call .sp-note .sp-status`, "Сохранено"))
		cancel()
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "No node") {
			t.Fatalf("the note was not saved from the pop: %v\n%s", err, pageHTML(ctx))
		}
	}
	// The pop under way shows the note as the last contact at once.
	step(t, ctx, "the pop under way did not show the note as the last contact",
		waitText(`.call .facts`, "Запись на сервис: Перезвонить насчёт тормозов"))
	endCall(t, ctx, ws, lines[answered:])

	// The pop is gone; Анна amends the note from the session list.
	row := `#history tr[data-call-id="call-answered"]`
	step(t, ctx, "the note was not amended from the session list",
		waitText(row+" .sp-note-cell", "Запись на сервис"),
		chromedp.Click(row+" .sp-note-open"),
		chromedp.WaitVisible(`#sp-note-dialog textarea[name="note"]`),
		chromedp.SetValue(`#sp-note-dialog textarea[name="note"]`, "Перезвонить насчёт тормозов в субботу"),
		chromedp.Click(`#sp-note-dialog button[type="submit"]`),
		waitText(`#sp-note-dialog .sp-status`, "Сохранено"),
		chromedp.Click(`#sp-note-dialog .sp-dialog-close`),
		chromedp.WaitNotVisible(`#sp-note-dialog`))

	// He calls again: the pop says what was agreed, and who with.
	again := callAgain(lines)
	send(t, ws, again[:ringing])
	defer send(t, ws, again[ringing:])
	step(t, ctx, "the next pop did not show the note as the last contact",
		waitText(`.call[data-state="ringing"] .greeting`, "Иван Петрович"),
		waitText(`.call[data-state="ringing"] .facts`, "Последний контакт"),
		waitText(`.call[data-state="ringing"] .facts`, "Анна Смирнова · Запись на сервис: Перезвонить насчёт тормозов в субботу"))
}

func TestBrowserAnOperatorClosesAnOpenComplaintOnThePop(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	answered := indexOf(t, lines, `"ChannelEnteredBridge"`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	ivan := ivanPetrov()
	ivan.Complaints = []screenpop.Complaint{{OpenedAt: time.Now().AddDate(0, 0, -2), Summary: "Царапина на двери после мойки"}}
	keys := seed(t, d.dataDir, ivan)
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, 200)
	ctx := operatorPage(t, d, keys["101"])

	send(t, ws, lines[:answered])
	defer send(t, ws, lines[answered:])
	step(t, ctx, "the pop did not show the open complaint with a way to close it",
		waitText(`.call .alerts`, "Открытая жалоба"),
		waitText(`.call .sp-open-complaints`, "Царапина на двери после мойки"))
	step(t, ctx, "closing without saying how it was resolved was not refused",
		chromedp.Click(`.call .sp-close-complaint`),
		waitText(`.call .sp-open-complaints .sp-status`, "Опишите, как решили жалобу"))
	// The daemon's own words are a detail, on hover.
	if hover, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".call .sp-open-complaints .sp-status").title`)); err != nil ||
		hover != "say how the complaint was resolved" {
		t.Errorf("hovering the refusal shows %q (%v), want the daemon's words", hover, err)
	}
	step(t, ctx, "the complaint was not closed from the pop",
		chromedp.SendKeys(`.call .sp-open-complaints input[name="reason"]`, "Перекрасили дверь"),
		chromedp.Click(`.call .sp-close-complaint`),
		chromedp.WaitNotPresent(`.call .alert-open_complaint`),
		chromedp.WaitNotPresent(`.call .sp-open-complaints`))
}

func TestBrowserAnUnknownCallerIsANewLeadGreetedByNameNextTime(t *testing.T) {
	lines := replaced(traceLines(t, "answered.jsonl"), "+79161234567", "+79265550199")
	answered := indexOf(t, lines, `"ChannelEnteredBridge"`) + 1
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir)
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, 200)
	ctx := operatorPage(t, d, keys["101"])

	send(t, ws, lines[:answered])
	step(t, ctx, "the pop of an unknown caller did not say new lead",
		waitText(`.call .lookup`, "Новый номер"),
		waitText(`.call .greeting`, "Новый лид"),
		chromedp.WaitVisible(`.call .sp-lead input[name="last_name"]`))
	step(t, ctx, "the lead's name was not saved",
		chromedp.SendKeys(`.call .sp-lead input[name="last_name"]`, "Сидоров"),
		chromedp.SendKeys(`.call .sp-lead input[name="first_name"]`, "Пётр"),
		chromedp.SendKeys(`.call .sp-lead input[name="patronymic"]`, "Ильич"),
		chromedp.SendKeys(`.call .sp-lead input[name="make"]`, "Kia"),
		chromedp.SendKeys(`.call .sp-lead input[name="model"]`, "Rio"),
		chromedp.SendKeys(`.call .sp-lead input[name="plate"]`, "в777ор77"),
		chromedp.Click(`.call .sp-lead button[type="submit"]`),
		waitText(`.call .sp-lead .sp-status`, "Сохранено"))
	step(t, ctx, "the pop under way did not greet the lead by name",
		waitText(`.call .greeting`, "Пётр Ильич"))
	endCall(t, ctx, ws, lines[answered:])

	again := callAgain(lines)
	send(t, ws, again[:ringing])
	step(t, ctx, "the next call from the number was not greeted by the name typed",
		waitText(`.call[data-state="ringing"] .greeting`, "Пётр Ильич"),
		waitText(`.call[data-state="ringing"] .fullname`, "Сидоров Пётр Ильич"),
		waitText(`.call[data-state="ringing"] .cars`, "Kia Rio · В777ОР77"))
	send(t, ws, again[ringing:])
	d.waitCallsRecorded(t, 2)
	d.shutdown(t)

	if clients, leads := countClients(t, d); clients != 1 || leads != 1 {
		t.Errorf("two calls from one unknown number left %d clients, %d of them leads; want the one lead", clients, leads)
	}
}

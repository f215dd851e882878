package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// syncBuffer is a bytes.Buffer safe to read while the demo writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDemoPrintsOperatorPagesThatShowPopsAndFillsTheCallLog(t *testing.T) {
	var out syncBuffer
	dataDir := t.TempDir()
	listen := freePort(t)
	// Until Ctrl-C: the pages are checked while the demo runs, however
	// long a loaded machine takes over them. A demo that stopped after its
	// calls was gone, on CI, before the test asked its admin API. A call a
	// second: the embedded store's one connection serves the month's
	// report between the calls' lookups and writes.
	ctx, ctrlC := context.WithCancel(context.Background())
	defer ctrlC()
	cmd := newRootCmd()
	cmd.SetArgs([]string{"demo", "--clients", "300", "--rate", "1", "--speed", "5",
		"--http-listen", listen, "--store-data-dir", dataDir, "--log-level", "warn"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	// The URLs come before the first call, once the store is seeded: a
	// month of history, which takes a loaded machine over a minute. The
	// bound only ends a demo that hangs.
	urlRe := regexp.MustCompile(`http://\S+/#token=(\S+)`)
	var tokens []string
	for deadline := time.Now().Add(5 * time.Minute); len(tokens) < 4; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the demo stopped (%v) before it printed the operators' URLs:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo printed no operator URLs in 5 minutes:\n%s", out.String())
		}
		for _, m := range urlRe.FindAllStringSubmatch(out.String(), -1) {
			if !strings.HasPrefix(m[0], "http://"+listen) {
				t.Fatalf("URL %s is not on http.listen %s", m[0], listen)
			}
			tokens = append(tokens, m[1])
		}
		if len(tokens) < 4 {
			tokens = nil
		}
	}
	// The reports and admin links it printed open their pages' APIs.
	for _, page := range []struct{ name, api string }{{"reports", "/api/reports/summary"}, {"admin", "/api/admin/status"}} {
		m := regexp.MustCompile(`http://` + regexp.QuoteMeta(listen) + `/` + page.name + `#token=(\S+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Errorf("the demo printed no %s link:\n%s", page.name, out.String())
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+page.api, nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var sum report.Summary
		if page.name == "reports" {
			err = json.NewDecoder(resp.Body).Decode(&sum)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Errorf("%s with the %s link's token: %s %v", page.api, page.name, resp.Status, err)
			continue
		}
		if page.name != "reports" {
			continue
		}
		// The seeded history: four weeks of calls before today, with
		// purposes noted and missed callers called back.
		busy := 0
		for _, d := range sum.Days {
			if d.Total > 0 {
				busy++
			}
		}
		if busy < 28 || len(sum.Sources) < 4 || len(sum.Purposes) < 3 || sum.Callbacks.CalledBack == 0 || sum.Callbacks.Never == 0 ||
			sum.ServiceLevel.Within == 0 || sum.Callers.New == 0 {
			t.Errorf("the reports of the demo's last 30 days: %d days with calls, %d sources, purposes %+v, callbacks %+v, service level %+v, callers %+v; want a month's history",
				busy, len(sum.Sources), sum.Purposes, sum.Callbacks, sum.ServiceLevel, sum.Callers)
		}
	}
	// Every operator's page connects; together they see pops.
	pops := make(chan screenpop.Message, 100)
	for _, tok := range tokens {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+listen+"/ws", http.Header{"Origin": {"http://" + listen}})
		if err != nil {
			t.Fatalf("connect an operator page: %v", err)
		}
		defer ws.Close()
		ws.WriteJSON(hello{Type: "hello", Token: tok})
		go func() {
			for {
				var m screenpop.Message
				if err := ws.ReadJSON(&m); err != nil {
					return
				}
				if m.Type == screenpop.MsgOffered {
					pops <- m
				}
			}
		}()
	}
	select {
	case m := <-pops:
		if m.Call.ID == "" || m.Call.Caller == "" || m.Call.DID == "" {
			t.Errorf("a pop without its call: %+v", m.Call)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no operator saw a pop within 30 s:\n%s", out.String())
	}
	// A dozen calls in the call log, then Ctrl-C.
	written := regexp.MustCompile(`(?m)^screenpop_calls_written_total (\S+)$`)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var n float64
		if resp, err := http.Get("http://" + listen + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := written.FindSubmatch(b); m != nil {
				n, _ = strconv.ParseFloat(string(m[1]), 64)
			}
		}
		if n >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v calls written in 2 minutes of a call a second:\n%s", n, out.String())
		}
	}
	ctrlC()
	if err := <-done; err != nil {
		t.Fatalf("demo stopped with Ctrl-C: %v\n%s", err, out.String())
	}
	checkDemoCallLog(t, dataDir, 12)
}

// TestDemoStopsAfterItsCalls runs the demo as `--calls 12` does: it
// stops by itself, its calls in the call log.
func TestDemoStopsAfterItsCalls(t *testing.T) {
	var out syncBuffer
	dataDir := t.TempDir()
	cmd := newRootCmd()
	cmd.SetArgs([]string{"demo", "--clients", "300", "--rate", "4", "--speed", "5", "--calls", "12", "--history-days", "0",
		"--http-listen", freePort(t), "--store-data-dir", dataDir, "--log-level", "warn"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	checkDemoCallLog(t, dataDir, 12)
}

// checkDemoCallLog checks the call log and the client base a demo left
// after n simulated calls: n-2 of them at least in the call log (the last
// may not have ended when it stopped), each with its source, and a lead
// for each unknown caller at most.
func checkDemoCallLog(t *testing.T, dataDir string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var calls, clients, leads int
	// The simulated calls, not the seeded history's.
	db.QueryRow("SELECT count(*) FROM calls WHERE call_id NOT LIKE 'hist-%' AND call_id NOT LIKE 'back-%'").Scan(&calls)
	// Unknown callers became leads; the seeded clients are the rest.
	db.QueryRow("SELECT count(*) FROM clients WHERE client_id NOT IN (SELECT client_id FROM leads)").Scan(&clients)
	db.QueryRow("SELECT count(*) FROM leads").Scan(&leads)
	var unsourced int
	db.QueryRow("SELECT count(*) FROM calls WHERE source = '' AND direction = 'inbound'").Scan(&unsourced)
	if unsourced != 0 {
		t.Errorf("%d of the demo's %d calls have no source; every demo line has one", unsourced, calls)
	}
	if calls < n-2 || clients != 300 || leads > calls {
		t.Errorf("after %d simulated calls the call log has %d calls and the client base %d clients and %d leads, want ~%d, 300 and a lead for each unknown caller at most",
			n, calls, clients, leads, n)
	}
}

// hello is what a page sends first, as in screenpop/web.
type hello struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	Since uint64 `json:"since"`
}

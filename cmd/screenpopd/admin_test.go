package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// staffTokens makes an admin's and an analyst's staff token in the
// daemon's embedded store before it starts.
func seedStaffTokens(t *testing.T, dataDir string) (admin, analyst string) {
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
	if _, admin, err = db.AddStaff(ctx, "Ольга Админова", screenpop.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, analyst, err = db.AddStaff(ctx, "Пётр Аналитиков", screenpop.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	return admin, analyst
}

// operatorSocket opens operator ext's page socket as the page does.
func openOperatorSocket(t *testing.T, d *daemon, key string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+d.http+"/ws", http.Header{"Origin": {"http://" + d.http}})
	if err != nil {
		t.Fatalf("open the operator socket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(map[string]any{"type": "hello", "token": key, "since": 0}); err != nil {
		t.Fatal(err)
	}
	return ws
}

// nextMessage reads the socket until a message of type typ.
func nextPopMessage(t *testing.T, ws *websocket.Conn, typ string) screenpop.Message {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m screenpop.Message
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// scrape reads /metrics into "name{labels}" -> value.
func scrapeMetrics(t *testing.T, d *daemon) map[string]float64 {
	t.Helper()
	code, body := d.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d: %s", code, body)
	}
	m := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", l, err)
		}
		m[l[:i]] = v
	}
	return m
}

// typesIn counts a trace's events by type.
func eventTypesIn(t *testing.T, lines [][]byte) map[string]int {
	n := map[string]int{}
	for _, l := range lines {
		var ev struct{ Type string }
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatal(err)
		}
		n[ev.Type]++
	}
	return n
}

func TestMetricsCountWhatADaemonSawOfACall(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	page := openOperatorSocket(t, d, keys["101"])
	nextPopMessage(t, page, screenpop.MsgSnapshot)

	send(t, ws, lines)
	send(t, ws, [][]byte{
		[]byte(`{"type":"CallBroadcast","timestamp":"2026-11-24T23:00:40.000+0000","caller":"+79161234567","called":"101"}`),
		[]byte(`{"type":"ChannelCreated","timestamp":"2026-11-24T23:00:40.000+0000","channel":{"id":`),
	})
	if m := nextPopMessage(t, page, screenpop.MsgOffered); m.Call == nil || m.Call.Caller != "+79161234567" {
		t.Fatalf("the pop is %+v, want the call from +79161234567", m.Call)
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = scrapeMetrics(t, d)
		if got["screenpop_calls_written_total"] == 1 && got["screenpop_ari_events_malformed_total"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call was never written:\n%v", got)
		}
	}

	types := eventTypesIn(t, lines)
	skipped := 0
	for typ, n := range types {
		if !slices.Contains(ari.AllowedEvents, typ) {
			skipped += n
		}
	}
	// ChannelVarset is read for DIALSTATUS and QUEUESTATUS only.
	for _, l := range lines {
		if typ, _ := ari.EventType(l); typ == "ChannelVarset" && !slices.ContainsFunc(ari.Variables, func(v string) bool {
			return bytes.Contains(l, []byte(`"variable":"`+v+`"`))
		}) {
			skipped++
		}
	}
	want := map[string]float64{
		// The ARI connection: up, never reconnected.
		"screenpop_ari_connected":        1,
		"screenpop_ari_reconnects_total": 0,
		// Events by type, and those skipped, unknown and malformed.
		`screenpop_ari_events_total{type="ChannelCreated"}`: float64(types["ChannelCreated"] + 1), // the broken one too
		`screenpop_ari_events_total{type="Dial"}`:           float64(types["Dial"]),
		`screenpop_ari_events_total{type="unknown"}`:        1, // CallBroadcast: one label for all unknown types
		"screenpop_ari_events_skipped_total":                float64(skipped),
		"screenpop_ari_events_unknown_total":                1,
		"screenpop_ari_events_malformed_total":              1,
		"screenpop_ari_events_dropped_total":                0,
		"screenpop_ari_backlog":                             0, // nothing waits for call tracking
		// Calls by outcome.
		`screenpop_calls_total{status="answered"}`: 1,
		// One lookup, one pop.
		"screenpop_lookup_seconds_count": 1,
		"screenpop_pop_seconds_count":    1,
		// The operator's page, and nothing left waiting for the database.
		"screenpop_operator_sockets":    1,
		"screenpop_spool_depth":         0,
		"screenpop_calls_written_total": 1,
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %v (exported: %t), want %v", name, g, ok, w)
		}
	}
	if skipped == 0 || types["ChannelCreated"] == 0 {
		t.Errorf("the trace has %d skipped and %d ChannelCreated events; the test needs some of each", skipped, types["ChannelCreated"])
	}
	for _, h := range []string{"screenpop_lookup_seconds", "screenpop_pop_seconds"} {
		if sum := got[h+"_sum"]; sum <= 0 || sum > 1 {
			t.Errorf("%s_sum = %v s, want a positive time under a second", h, sum)
		}
		if inf := got[h+`_bucket{le="+Inf"}`]; inf != 1 {
			t.Errorf("%s has %v observations in its +Inf bucket, want 1", h, inf)
		}
	}
}

// adminStatusOf reads GET /api/admin/status with token.
func adminStatusOf(t *testing.T, d *daemon, token string) (int, web.AdminStatus, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+d.http+"/api/admin/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var s web.AdminStatus
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("status is not JSON: %v\n%s", err, b)
		}
	}
	return resp.StatusCode, s, string(b)
}

func TestAdminStatusShowsTheConnectionTheEventsAndTheCalls(t *testing.T) {
	lines := traceLines(t, "missed.jsonl")
	ringing := indexOf(t, lines, `"dialstatus":"RINGING"`, `Local/101@phones`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir)
	admin, analyst := seedStaffTokens(t, d.dataDir)
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)

	t.Run("only an admin's token opens it", func(t *testing.T) {
		for _, tt := range []struct {
			who, token string
			code       int
			says       string
		}{
			{"no token", "", http.StatusUnauthorized, "staff token"},
			{"an operator's key", keys["101"], http.StatusUnauthorized, "unknown staff token"},
			{"an analyst's token", analyst, http.StatusForbidden, "admin role"},
		} {
			code, _, body := adminStatusOf(t, d, tt.token)
			if code != tt.code || !strings.Contains(body, tt.says) {
				t.Errorf("%s: %d %s, want %d saying %q", tt.who, code, body, tt.code, tt.says)
			}
		}
	})

	send(t, ws, lines[:ringing])
	t.Run("a ringing call is listed with who it rings and why", func(t *testing.T) {
		var s web.AdminStatus
		// The admin page's list of events is kept apart from call
		// tracking: wait for both to have seen the ring.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, s, _ = adminStatusOf(t, d, admin); len(s.OpenCalls) == 1 && s.OpenCalls[0].State == screenpop.OpenRinging &&
				len(s.Events) > 0 && s.Events[0].Type == "Dial" {
				break
			}
		}
		if len(s.OpenCalls) != 1 {
			t.Fatalf("calls under way: %+v, want the missed trace's call", s.OpenCalls)
		}
		c := s.OpenCalls[0]
		if c.ID != "call-missed" || c.Caller != "89161234567" || c.DID != "74951112233" || c.State != screenpop.OpenRinging ||
			!slices.Equal(c.Ringing, []string{"101"}) {
			t.Errorf("call under way %+v, want call-missed from 89161234567 to 74951112233 ringing at 101", c)
		}
		if !slices.Contains(c.Classification, "operator 101: channel Local/101@phones-0000003f;1 matched endpoint pattern Local/{ext}@phones; ringing") {
			t.Errorf("classification so far %q does not say why 101 is rung", c.Classification)
		}
		if !s.ARI.Connected || s.ARI.URL != ast.srv.URL+"/ari" || s.ARI.App != "screenpop" || s.ARI.Since == nil || len(s.ARI.Errors) != 0 {
			t.Errorf("ARI %+v, want connected to %s/ari, no errors", s.ARI, ast.srv.URL)
		}
		if len(s.Events) == 0 || s.Events[0].At.Before(s.Events[len(s.Events)-1].At) {
			t.Fatalf("events %+v, want the last ones, newest first", s.Events)
		}
		last := s.Events[0]
		if last.Type != "Dial" || last.Result != ari.EventUsed || last.Peer != "Local/101@phones-0000003f;1" || last.Detail != "RINGING" {
			t.Errorf("newest event %+v, want the Dial RINGING of Local/101@phones-0000003f;1", last)
		}
	})

	send(t, ws, lines[ringing:])
	send(t, ws, [][]byte{[]byte(`not json at all`)})
	t.Run("then the call is among the recent ones with its status explained, and a broken event is an error", func(t *testing.T) {
		var s web.AdminStatus
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, s, _ = adminStatusOf(t, d, admin); len(s.RecentCalls) == 1 && len(s.ARI.Errors) == 1 && len(s.Events) > 0 &&
				s.Events[0].Result == ari.EventMalformed {
				break
			}
		}
		if len(s.OpenCalls) != 0 || s.OpenCount != 0 || len(s.RecentCalls) != 1 {
			t.Fatalf("%d calls under way, %d recent: %+v", len(s.OpenCalls), len(s.RecentCalls), s.RecentCalls)
		}
		c := s.RecentCalls[0]
		if c.ID != "call-missed" || c.Status != screenpop.StatusMissed ||
			!slices.Contains(c.Classification, "missed: phones rang 5.0 s and Dial ended NOANSWER before the caller hung up") {
			t.Errorf("recent call %s %s: %q", c.ID, c.Status, c.Classification)
		}
		if len(s.ARI.Errors) != 1 || s.ARI.Errors[0].Kind != ari.ErrorMalformed || s.Events[0].Result != ari.EventMalformed {
			t.Errorf("errors %+v, newest event %+v; want the malformed event in both", s.ARI.Errors, s.Events[0])
		}
	})
}

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
	"testing"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// post sends an operator's API request to the daemon and returns the
// status and the answer's error, if any.
func post(t *testing.T, d *daemon, key, path string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+d.http+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error string `json:"error"`
	}
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer.Error
}

// openSeeded opens the daemon's embedded store after it stopped.
func openSeeded(t *testing.T, d *daemon) *store.SQLite {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestServeTakesOperatorsNotesOnCalls(t *testing.T) {
	lines := traceLines(t, "answered.jsonl")
	answered := indexOf(t, lines, `"ChannelEnteredBridge"`) + 1
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir, ivanPetrov())
	seeded, err := openSeeded(t, d).LookupPhone(context.Background(), "+79161234567")
	if err != nil || len(seeded) != 1 {
		t.Fatalf("LookupPhone = %v, %v", seeded, err)
	}
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	page := openOperatorSocket(t, d, keys["101"])
	nextPopMessage(t, page, screenpop.MsgSnapshot)
	send(t, ws, lines[:answered])
	// The daemon takes the events in their own time: 101 may note the
	// call once it has reached them, and name Иван once the call's card
	// (its lookup) is done.
	nextPopMessage(t, page, screenpop.MsgAnswered)
	d.waitMetricSum(t, "screenpop_lookup_seconds_count", 1)

	note := map[string]any{"purpose": "sales", "note": "Хочет Sportage", "client_id": seeded[0].ID}
	if code, msg := post(t, d, "", "/api/calls/call-answered/note", note); code != http.StatusUnauthorized {
		t.Errorf("a note without a key: %d %q, want 401", code, msg)
	}
	if code, msg := post(t, d, keys["101"], "/api/calls/call-answered/note", map[string]any{"purpose": "test_drive", "client_id": seeded[0].ID}); code != http.StatusBadRequest {
		t.Errorf("a note with purpose test_drive: %d %q, want 400", code, msg)
	}
	// 102's phone never rang for this call: not theirs to note.
	if code, msg := post(t, d, keys["102"], "/api/calls/call-answered/note", note); code != http.StatusNotFound {
		t.Errorf("a note by an operator the call never reached: %d %q, want 404", code, msg)
	}
	if code, msg := post(t, d, keys["101"], "/api/calls/call-answered/note", note); code != http.StatusOK {
		t.Errorf("a note: %d %q, want 200", code, msg)
	}
	send(t, ws, lines[answered:])
	d.waitCallsRecorded(t, 1)
	d.shutdown(t)

	recs, err := openSeeded(t, d).LookupPhone(context.Background(), "+79161234567")
	if err != nil || len(recs) != 1 {
		t.Fatalf("LookupPhone = %v, %v", recs, err)
	}
	if c := recs[0].LastContact; c == nil || c.Employee != "Анна Смирнова" || c.Summary != "Покупка автомобиля: Хочет Sportage" {
		t.Errorf("Иван's last contact is %+v, want Анна's note", c)
	}
}

func TestServeMakesOneLeadOfNineteenSimultaneousCallsFromOneUnknownNumber(t *testing.T) {
	// The burst's 19 calls at once, all from one number nobody knows.
	caller := regexp.MustCompile(`\+791600000[0-9]{2}`)
	var lines [][]byte
	for _, l := range traceLines(t, "burst.jsonl") {
		lines = append(lines, caller.ReplaceAll(l, []byte("+79265557777")))
	}
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	seed(t, d.dataDir)
	d.start(t)
	ws := ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	send(t, ws, lines)
	d.waitCallsRecorded(t, 19)
	d.shutdown(t) // waits for the lookups under way

	got := storedCalls(t, d.cfg)
	if len(got) != 19 {
		t.Errorf("the call log holds %d calls, want the burst's 19", len(got))
	}
	recs, err := openSeeded(t, d).LookupPhone(context.Background(), "+79265557777")
	if err != nil || len(recs) != 1 || !recs[0].Lead {
		t.Errorf("LookupPhone(the caller) = %+v, %v; want one lead", recs, err)
	}
	if clients, leads := countClients(t, d); clients != 1 || leads != 1 {
		t.Errorf("19 calls from one unknown number left %d clients, %d of them leads; want the one lead", clients, leads)
	}
}

// countClients counts the clients, and the leads among them, in the
// daemon's embedded store after it stopped.
func countClients(t *testing.T, d *daemon) (clients, leads int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM clients WHERE lead)`).Scan(&clients, &leads); err != nil {
		t.Fatal(err)
	}
	return clients, leads
}

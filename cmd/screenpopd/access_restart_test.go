package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// A daemon that starts afresh remembers no pop, yet 101's shift list
// (GET /api/shift) shows the call 101 answered from Иван an hour ago: 101
// can open his history, since the call log says 101 served him; 102, who
// had nothing to do with that call, cannot.
func TestAfterARestartAnOperatorOpensTheHistoryOfAClientTheyServed(t *testing.T) {
	sim := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", Operators: []string{"101"}}, discardLogger())
	url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	d := newDaemon(t, url)
	keys := seed(t, d.dataDir, ivanPetrov())
	db := openSeeded(t, d)
	raw, err := sql.Open("sqlite", filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	var ivan int64
	err = raw.QueryRowContext(t.Context(), "SELECT client_id FROM client_phones WHERE e164 = ?", "+79161234567").Scan(&ivan)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	ended := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	by, number := "101", "+79161234567"
	call := screenpop.Call{ID: "before-restart", Direction: screenpop.Inbound, Caller: number, CallerE164: &number, DID: "74951112233",
		Status: screenpop.StatusAnswered, OfferedTo: []string{"101"}, AnsweredBy: &by, TalkedTo: []string{"101"},
		StartedAt: ended.Add(-2 * time.Minute), AnsweredAt: ptrTo(ended.Add(-110 * time.Second)), EndedAt: ended,
		HangupCause: 16, HangupCauseText: "Normal Clearing"}
	if err := db.SaveCalls(t.Context(), []screenpop.Call{call}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d.start(t)
	d.waitReady(t, 200)

	path := fmt.Sprintf("/api/clients/%d/calls", ivan)
	if code := getAs(t, d, keys["101"], path); code != http.StatusOK {
		t.Errorf("101 opening the history of the client they answered an hour ago: %d, want 200", code)
	}
	if code := getAs(t, d, keys["102"], path); code != http.StatusNotFound {
		t.Errorf("102 opening the history of 101's client: %d, want 404", code)
	}
}

func ptrTo[T any](v T) *T { return &v }

// getAs sends an operator's GET to the daemon and returns the status.
func getAs(t *testing.T, d *daemon, key, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+d.http+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

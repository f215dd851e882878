package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// In Stasis mode (subscribeAll=false) too, a pickup is read from the
// caller's Dial and the picker's channel it then dials: 101's phone rings
// for Иван, 102 picks the call up with *8. 102's page has the call active
// with Иван's card; 101's pop is withdrawn, taken by 102, and never shown
// missed; the record says answered by 102, 101's offer answered
// elsewhere.
func TestStasisModePickupPopsThePickerAndRecordsIt(t *testing.T) {
	sim, d := newSimDaemon(t, 4, "101", "102")
	keys := seed(t, d.dataDir, ivanPetrov())
	d.cfg.ARIMode = "stasis"
	d.start(t)
	d.waitReady(t, 200)

	pages := map[string]*popLog{}
	for _, op := range []string{"101", "102"} {
		ws := openOperatorSocket(t, d, keys[op])
		nextPopMessage(t, ws, screenpop.MsgSnapshot)
		pages[op] = &popLog{}
		go pages[op].follow(ws)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := sim.Place(ctx, arisim.Call{ID: "pickup-1", Caller: "+79161234567", DID: "74951112233",
		Scenario: arisim.Pickup, ViaStasis: true, Operators: []string{"101", "102"}, RingFor: 2 * time.Second, TalkFor: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Continued {
		t.Fatal("the daemon did not continue the call waiting in its Stasis app")
	}
	d.waitCallsRecorded(t, 1)

	id := res.CallID
	active := func(c screenpop.PopCall) bool {
		return c.ID == id && c.State == screenpop.StateActive && c.AnsweredBy == "102" &&
			len(c.Card.Clients) == 1 && c.Card.Clients[0].LastName == "Петров"
	}
	taken := func(c screenpop.PopCall) bool {
		return c.ID == id && c.State == screenpop.StateTaken && c.AnsweredBy == "102"
	}
	deadline := time.Now().Add(10 * time.Second)
	for !(pages["102"].saw(active) && pages["101"].saw(taken)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !pages["102"].saw(active) {
		t.Errorf("102's page never showed the call active with Иван's card, answered by 102:%s", pages["102"])
	}
	if !pages["101"].saw(taken) {
		t.Errorf("101's page never showed the call taken by 102:%s", pages["101"])
	}
	if pages["101"].saw(func(c screenpop.PopCall) bool { return c.ID == id && c.State == screenpop.StateMissed }) {
		t.Errorf("101's page showed the call missed:%s", pages["101"])
	}

	d.shutdown(t)
	db, err := sql.Open("sqlite", filepath.Join(d.cfg.DataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status, answeredBy, talkedTo string
	if err := db.QueryRow("SELECT status, answered_by, talked_to FROM calls WHERE call_id = ?", id).
		Scan(&status, &answeredBy, &talkedTo); err != nil {
		t.Fatalf("the call log has no record of %s: %v", id, err)
	}
	if status != "answered" || answeredBy != "102" || talkedTo != `["102"]` {
		t.Errorf("the record says %s, answered by %s, talked to %s; want answered, by 102, talked to [102]", status, answeredBy, talkedTo)
	}
	rows, err := db.Query("SELECT operator, outcome FROM offers WHERE call_id = ? ORDER BY seq", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var offers []string
	for rows.Next() {
		var op, outcome string
		if err := rows.Scan(&op, &outcome); err != nil {
			t.Fatal(err)
		}
		offers = append(offers, op+" "+outcome)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"101 answered_elsewhere", "102 answered"}; len(offers) != 2 || offers[0] != want[0] || offers[1] != want[1] {
		t.Errorf("offers %q, want %q", offers, want)
	}
}

package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// A supervisor of a centre on two boxes sees both on the wallboard: the
// second box's caller waiting now, and today's calls of both boxes, each
// counted once, as call tracking finished them and as the call log has
// them.
func TestWallboardShowsTheCallsOfEveryBox(t *testing.T) {
	s1, url1 := boxSim(t, "02:00:00:00:00:01", 1, "101", "102")
	s2, url2 := boxSim(t, "02:00:00:00:00:02", 1, "101", "102")
	d := newDaemon(t, url1)
	d.cfg.Boxes = []Box{
		{Name: "pbx1", URL: url1, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"},
		{Name: "pbx2", URL: url2, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"},
	}
	seed(t, d.dataDir) // operators 101 and 102
	db, err := store.OpenSQLite(context.Background(), filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, supervisor, err := db.AddStaff(context.Background(), "Ольга", screenpop.RoleSupervisor)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.start(t)
	d.waitReady(t, 200)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+d.http+"/wallboard/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"type": "hello", "token": supervisor}); err != nil {
		t.Fatal(err)
	}
	var last screenpop.Board
	waitBoard := func(what string, ok func(screenpop.Board) bool) {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			var m struct {
				Board *screenpop.Board `json:"board"`
			}
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("waiting until %s: %v; the last board: %+v", what, err, last)
			}
			if m.Board != nil {
				if last = *m.Board; ok(last) {
					return
				}
			}
		}
	}

	// Each box: one call answered and ended. The same call ID on both.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []*arisim.Sim{s1, s2} {
		if _, err := s.Place(ctx, arisim.Call{ID: "1765000000.1", Scenario: arisim.Answered, Caller: "+79161234567", DID: "74951112233",
			Operators: []string{"101"}, RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	d.waitCallsRecorded(t, 2)
	waitBoard("today's calls of both boxes are counted", func(b screenpop.Board) bool { return b.Total.Calls == 2 })

	// The second box's caller rings now.
	live, stop := context.WithCancel(context.Background())
	defer stop()
	go s2.Place(live, arisim.Call{ID: "1765000001.1", Caller: "+79260000002", DID: "74951112233", Scenario: arisim.Missed,
		Operators: []string{"102"}, RingFor: 10 * time.Minute})
	waitBoard("the second box's caller rings on the board", func(b screenpop.Board) bool {
		return slices.ContainsFunc(b.Calls, func(c screenpop.BoardCall) bool {
			return c.State == "ringing" && slices.Contains(c.Ringing, "Борис Волков")
		})
	})
	if last.Total.Calls != 2 || last.Total.Answered != 2 {
		t.Errorf("today's calls on the board: %+v, want 2 answered", last.Total)
	}
	t.Logf("board: %d waiting, today %d calls (%d answered)", len(last.Calls), last.Total.Calls, last.Total.Answered)
}

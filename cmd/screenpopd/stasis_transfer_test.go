package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// popLog gathers every state a call took on one operator's page.
type popLog struct {
	mu    sync.Mutex
	calls []screenpop.PopCall
}

// follow reads an operator's socket into the log until it closes.
func (l *popLog) follow(ws *websocket.Conn) {
	for {
		var m screenpop.Message
		if err := ws.ReadJSON(&m); err != nil {
			return
		}
		l.mu.Lock()
		if m.Call != nil {
			l.calls = append(l.calls, *m.Call)
		}
		l.calls = append(l.calls, m.Calls...)
		l.mu.Unlock()
	}
}

// saw reports whether the page ever showed the call as ok says.
func (l *popLog) saw(ok func(screenpop.PopCall) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.calls, ok)
}

func (l *popLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, c := range l.calls {
		fmt.Fprintf(&b, "\n  %s: %s, answered by %q, from %q, to %q, %d clients on the card",
			c.ID, c.State, c.AnsweredBy, c.TransferredFrom, c.TransferredTo, len(c.Card.Clients))
	}
	return b.String()
}

// In Stasis mode the daemon sees the call only through its application
// and what it subscribes to (subscribeAll=false): the caller's channel once
// continued, the phones it dials, the bridges its calls enter. 101
// answers Иван and transfers him to 102, attended and blind: 102's page
// pops the call, active, with Иван's card, transferred from 101; 101's page
// says transferred to 102; the record says answered by 101, talked to 101
// and 102.
func TestStasisModeTransfersPopTheTargetAndRecordTheSameStory(t *testing.T) {
	for _, sc := range []arisim.Scenario{arisim.AttendedTransfer, arisim.BlindTransfer} {
		t.Run(string(sc), func(t *testing.T) {
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
			res, err := sim.Place(ctx, arisim.Call{ID: "xfer-" + string(sc), Caller: "+79161234567", DID: "74951112233",
				Scenario: sc, ViaStasis: true, Operators: []string{"101", "102"}, RingFor: 2 * time.Second, TalkFor: 8 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Continued {
				t.Fatal("the daemon did not continue the call waiting in its Stasis app")
			}
			d.waitCallsRecorded(t, 1)

			id := res.CallID
			deadline := time.Now().Add(10 * time.Second)
			popped := func(c screenpop.PopCall) bool {
				return c.ID == id && c.State == screenpop.StateActive && c.TransferredFrom == "101" &&
					len(c.Card.Clients) == 1 && c.Card.Clients[0].LastName == "Петров"
			}
			told := func(c screenpop.PopCall) bool {
				return c.ID == id && c.State == screenpop.StateTransferred && c.TransferredTo == "102" && c.AnsweredBy == "101"
			}
			for !(pages["102"].saw(popped) && pages["101"].saw(told)) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !pages["102"].saw(popped) {
				t.Errorf("102's page never showed the call active with Иван's card, transferred from 101:%s", pages["102"])
			}
			if !pages["101"].saw(told) {
				t.Errorf("101's page never said the call was transferred to 102 (answered by 101):%s", pages["101"])
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
			t.Logf("record: status %s, answered by %s, talked to %s", status, answeredBy, talkedTo)
			if status != "answered" || answeredBy != "101" || talkedTo != `["101","102"]` {
				t.Errorf("the record says %s, answered by %s, talked to %s; want answered, by 101, talked to [101, 102]",
					status, answeredBy, talkedTo)
			}
		})
	}
}

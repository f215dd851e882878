package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// TestServeTwoBoxesWithTheSameCallIDs runs one daemon on two simulated
// Asterisks (their own entity IDs) whose calls have the same IDs, as two
// boxes started in the same second number them: every call is recorded
// once per box, each with its own box's caller and outcome, and the
// operator both boxes ring gets a pop per box and call, never one merged.
// (A second box with the first's entity ID is refused:
// TestServeFollowsTwoBoxesEachRecordNamingItsBox.)
func TestServeTwoBoxesWithTheSameCallIDs(t *testing.T) {
	const perBox = 50
	sims := map[string]*arisim.Sim{}
	var boxes []Box
	for i, pbx := range []string{"pbx1", "pbx2"} {
		s := arisim.New(arisim.Config{Username: "screenpop", Password: "pw", ChannelVars: true, Speed: 20,
			EntityID: fmt.Sprintf("02:00:00:00:00:%02d", i+1), Operators: []string{"101"}}, nil)
		url, err := s.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sims[pbx] = s
		boxes = append(boxes, Box{Name: pbx, URL: url, Username: "screenpop", Password: "pw", Connect: "inbound", REST: "websocket"})
	}
	d := newDaemon(t, boxes[0].URL)
	d.cfg.Boxes = boxes
	keys := seed(t, d.dataDir)
	d.start(t)
	d.waitReady(t, http.StatusOK)

	// Operator 101's page, every message kept.
	ws := openOperatorSocket(t, d, keys["101"])
	nextPopMessage(t, ws, screenpop.MsgSnapshot) // the page is subscribed
	ws.SetReadDeadline(time.Time{})
	var (
		mu   sync.Mutex
		msgs []screenpop.Message
	)
	go func() {
		for {
			var m screenpop.Message
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()

	// The same IDs on both boxes; each box's own callers; even calls
	// answered, odd ones missed.
	caller := func(pbx string, i int) string {
		return map[string]string{"pbx1": "+7916123", "pbx2": "+7903555"}[pbx] + fmt.Sprintf("%04d", i)
	}
	id := func(i int) string { return fmt.Sprintf("1765000000.%d", i) }
	scenario := func(i int) arisim.Scenario {
		return map[bool]arisim.Scenario{true: arisim.Answered, false: arisim.Missed}[i%2 == 0]
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, 8) // calls at once
		errs  = make(chan error, 2*perBox)
	)
	for i := range perBox {
		for _, pbx := range []string{"pbx1", "pbx2"} {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer func() { <-slots; wg.Done() }()
				r, err := sims[pbx].Place(ctx, arisim.Call{ID: id(i), Scenario: scenario(i), Caller: caller(pbx, i), DID: "74951112233"})
				if err == nil && r.CallID != id(i) {
					err = fmt.Errorf("%s's call %d has ID %s, want %s", pbx, i, r.CallID, id(i))
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d.waitCallsRecorded(t, 2*perBox)

	// Every pop of the page: one offer and one end per box and call.
	type key struct{ pbx, id string }
	var offered, ended map[key]int
	var endedAs map[key]screenpop.Status
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		offered, ended, endedAs = map[key]int{}, map[key]int{}, map[key]screenpop.Status{}
		mu.Lock()
		for _, m := range msgs {
			if m.Call == nil {
				continue
			}
			k := key{m.Call.PBX, m.Call.ID}
			switch m.Type {
			case screenpop.MsgOffered:
				offered[k]++
			case screenpop.MsgEnded:
				ended[k]++
				endedAs[k] = m.Call.Status
			}
		}
		mu.Unlock()
		if len(ended) == 2*perBox || time.Now().After(deadline) {
			break
		}
	}
	popTook := time.Since(start)
	d.shutdown(t) // flushes the call log

	db, err := store.OpenSQLite(context.Background(), filepath.Join(d.dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := 0
	if err := db.Calls(context.Background(), screenpop.CallFilter{}, func(screenpop.Call) error { rows++; return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("2 boxes × %d calls with the same IDs in %v: %d records stored; page of 101: %d calls offered, %d ended",
		perBox, popTook.Round(time.Millisecond), rows, len(offered), len(ended))
	if rows != 2*perBox {
		t.Errorf("%d records stored, want %d: one per box and call", rows, 2*perBox)
	}
	for _, pbx := range []string{"pbx1", "pbx2"} {
		for i := range perBox {
			c, err := db.Call(context.Background(), pbx, id(i))
			if err != nil {
				t.Errorf("%s's call %s: %v", pbx, id(i), err)
				continue
			}
			want := map[arisim.Scenario]screenpop.Status{arisim.Answered: screenpop.StatusAnswered, arisim.Missed: screenpop.StatusMissed}[scenario(i)]
			if c.PBX != pbx || c.Caller != caller(pbx, i) || c.Status != want || len(c.Offers) != 1 || len(c.Gaps) != 0 {
				t.Errorf("%s's call %s recorded as %s %s from %s, %d offers, gaps %v; want %s from %s, 1 offer, exact",
					pbx, id(i), c.PBX, c.Status, c.Caller, len(c.Offers), c.Gaps, want, caller(pbx, i))
			}
			k := key{pbx, id(i)}
			if offered[k] != 1 || ended[k] != 1 || endedAs[k] != want {
				t.Errorf("101's page: %s's call %s offered %d times, ended %d times as %q; want once each, %s",
					pbx, id(i), offered[k], ended[k], endedAs[k], want)
			}
		}
	}
	if len(offered) != 2*perBox {
		t.Errorf("101's page was offered %d calls, want %d: %v", len(offered), 2*perBox, offered)
	}
}

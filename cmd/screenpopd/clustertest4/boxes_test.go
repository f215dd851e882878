package clustertest4_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
)

// operators are the extensions both boxes ring: an operator's page gets
// the pops of either.
var operators = []string{"101", "102", "103", "104", "105", "106"}

// boxSim is a simulated box in real time with entity ID eid.
func boxSim(t *testing.T, eid string) (*arisim.Sim, string) {
	t.Helper()
	s := arisim.New(arisim.Config{Username: oracletest.SimUser, Password: oracletest.SimPassword, ChannelVars: true, Speed: 1, EntityID: eid,
		Operators: operators}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	u, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// boxesConfig is asterisk.boxes naming each box by its URL.
func boxesConfig(urls map[string]string) string {
	var b strings.Builder
	b.WriteString("asterisk:\n  boxes:\n")
	names := make([]string, 0, len(urls))
	for name := range urls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "    - name: %s\n      url: %s\n      username: screenpop\n      password: %s\n", name, urls[name], oracletest.SimPassword)
	}
	return b.String()
}

// boxLoad is n calls at rate a second on one box, dialling its own
// numbers: the same seed on two boxes gives the same calls (and, started
// together, the same call IDs), told apart by the number dialled.
func boxLoad(n int, rate float64, dids []string) arisim.Load {
	return arisim.Load{Rate: rate, Calls: n, Seed: 14, DIDs: dids, RingFor: [2]time.Duration{time.Second, 3 * time.Second},
		TalkFor: [2]time.Duration{time.Second, 4 * time.Second}}
}

// pops is an operator's page on one replica, counting the calls it is
// offered by box.
type pops struct {
	mu    sync.Mutex
	calls map[string]map[string]bool // call IDs by box
}

func (p *pops) count(pbx string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls[pbx])
}

// watchPops keeps a page of the operator with token open on replica r
// until ctx ends.
func watchPops(t *testing.T, ctx context.Context, r *replicas.Replica, token string) *pops {
	t.Helper()
	p := &pops{calls: map[string]map[string]bool{}}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+r.HTTP+"/ws", http.Header{"Origin": {"http://" + r.HTTP}})
	if err != nil {
		t.Fatalf("open a page on replica %s: %v", r.Name, err)
	}
	resp.Body.Close()
	context.AfterFunc(ctx, func() { ws.Close() })
	if err := ws.WriteJSON(map[string]any{"type": "hello", "token": token}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m screenpop.Message
			if json.Unmarshal(data, &m) != nil || m.Type != screenpop.MsgOffered || m.Call == nil {
				continue
			}
			p.mu.Lock()
			if p.calls[m.Call.PBX] == nil {
				p.calls[m.Call.PBX] = map[string]bool{}
			}
			p.calls[m.Call.PBX][m.Call.ID] = true
			p.mu.Unlock()
		}
	}()
	return p
}

// callsPerBox is how many calls each box places: 1,000, 2,000 in all,
// unless SCREENPOP_BOX_CALLS says otherwise.
func callsPerBox(t *testing.T) int {
	n := 1000
	if s := os.Getenv("SCREENPOP_BOX_CALLS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			t.Fatalf("SCREENPOP_BOX_CALLS=%q: want a number of calls", s)
		}
	}
	return n
}

func TestTwoBoxesWithCollidingCallIDsOnTwoReplicasKeepEveryRowOnceUnderItsBox(t *testing.T) {
	nats := natstest.Start(t, 1)
	s1, url1 := boxSim(t, "02:00:00:00:00:01")
	s2, url2 := boxSim(t, "02:00:00:00:00:02")
	dsn := replicas.FreshSchema(t)
	rs := cluster(t, 2, url1, boxesConfig(map[string]string{"pbx1": url1, "pbx2": url2}), nats.URL, dsn)
	h1, e1 := replicas.BoxHolder(t, rs, "pbx1", long)
	h2, e2 := replicas.BoxHolder(t, rs, "pbx2", long)
	t.Logf("box pbx1 held by %s (epoch %d), pbx2 by %s (epoch %d)", h1.Name, e1, h2.Name, e2)
	tokens := replicas.AddOperators(t, dsn, operators)

	// Operator 101's page on each replica.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pages []*pops
	for _, r := range rs {
		pages = append(pages, watchPops(t, ctx, r, tokens["101"]))
	}

	n := callsPerBox(t)
	const rate = 10.0
	dids := map[string][]string{"pbx1": {"74951110001", "74951110002"}, "pbx2": {"74952220001", "74952220002"}}
	start := time.Now()
	var done []<-chan arisim.Stats
	for _, c := range []struct {
		s   *arisim.Sim
		pbx string
	}{{s1, "pbx1"}, {s2, "pbx2"}} {
		ch := make(chan arisim.Stats, 1)
		go func() {
			st, err := c.s.Run(ctx, boxLoad(n, rate, dids[c.pbx]))
			if err != nil {
				t.Errorf("the calls of %s: %v", c.pbx, err)
			}
			ch <- st
		}()
		done = append(done, ch)
	}
	completed := map[string]int{}
	for i, pbx := range []string{"pbx1", "pbx2"} {
		st := <-done[i]
		completed[pbx] = st.Completed
		t.Logf("box %s: %d calls placed, %d completed, lag %s", pbx, st.Placed, st.Completed, st.MaxLag.Round(time.Millisecond))
		if st.Completed != n {
			t.Errorf("box %s completed %d calls of %d", pbx, st.Completed, n)
		}
	}
	oracletest.WaitProgressWithin(t, long, "every call in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= completed["pbx1"]+completed["pbx2"] })
	replicas.Settle(t, dsn)
	took := time.Since(start)

	calls := replicas.Stored(t, dsn)
	byBox := map[string]map[string]screenpop.Call{}
	var wrongBox, noDID []string
	for _, c := range calls {
		if byBox[c.PBX] == nil {
			byBox[c.PBX] = map[string]screenpop.Call{}
		}
		if _, dup := byBox[c.PBX][c.ID]; dup {
			t.Errorf("call %s of %s stored twice", c.ID, c.PBX)
		}
		byBox[c.PBX][c.ID] = c
		switch {
		case c.DID == "":
			noDID = append(noDID, c.PBX+"/"+c.ID)
		case !slices.Contains(dids[c.PBX], c.DID):
			wrongBox = append(wrongBox, fmt.Sprintf("%s/%s dialled %s", c.PBX, c.ID, c.DID))
		}
	}
	collide := 0
	for id := range byBox["pbx1"] {
		if _, ok := byBox["pbx2"][id]; ok {
			collide++
		}
	}
	t.Logf("rows: %d in all; pbx1 %d, pbx2 %d (of %d and %d calls); %d call IDs on both boxes; %d rows without a DID; %d under the wrong box; %s from the first call to the call log settled",
		len(calls), len(byBox["pbx1"]), len(byBox["pbx2"]), completed["pbx1"], completed["pbx2"], collide, len(noDID), len(wrongBox), took.Round(time.Second))
	for _, pbx := range []string{"pbx1", "pbx2"} {
		if len(byBox[pbx]) != completed[pbx] {
			t.Errorf("box %s: %d rows, want %d", pbx, len(byBox[pbx]), completed[pbx])
		}
	}
	if len(byBox) != 2 {
		t.Errorf("rows by box: %d boxes, want pbx1 and pbx2 only", len(byBox))
	}
	// The two loads' call IDs collide while their calls start in the same
	// second with the same Asterisk counter: a tenth to a half of them on
	// this machine, depending on how the two simulators' goroutines run.
	if collide < max(n/100, 1) {
		t.Errorf("only %d call IDs on both boxes: the test wants colliding IDs", collide)
	}
	if len(wrongBox) > 0 {
		t.Errorf("rows holding the other box's call (overwritten): %d, e.g. %v", len(wrongBox), wrongBox[:min(5, len(wrongBox))])
	}
	// The boxes spread: the replica that took both at the start (the
	// first to come up) handed one over.
	var b1, b2 *replicas.Replica
	oracletest.WaitWithin(t, long, "the boxes held by different replicas", func() bool {
		b1, _ = replicas.BoxHolder(t, rs, "pbx1", long)
		b2, _ = replicas.BoxHolder(t, rs, "pbx2", long)
		return b1 != b2
	})
	t.Logf("at the end: pbx1 held by %s, pbx2 by %s; unseen periods recorded: %d", b1.Name, b2.Name, unseenRows(t, dsn))
	// Operator 101's page on either replica got pops of both boxes.
	for i, p := range pages {
		t.Logf("operator 101's page on %s: %d pops of pbx1, %d of pbx2", rs[i].Name, p.count("pbx1"), p.count("pbx2"))
		if p.count("pbx1") == 0 || p.count("pbx2") == 0 {
			t.Errorf("operator 101's page on %s: pops of pbx1 %d, of pbx2 %d: want both", rs[i].Name, p.count("pbx1"), p.count("pbx2"))
		}
	}
}

// TestAReplicaThatJoinsTakesItsShareOfTheBoxes: the first replica up
// takes both boxes; a second one joins during the calls, and the first
// hands it one box (a handover, as at a stop): every call is in the call
// log once, under its box.
func TestAReplicaThatJoinsTakesItsShareOfTheBoxes(t *testing.T) {
	nats := natstest.Start(t, 1)
	s1, url1 := boxSim(t, "02:00:00:00:00:01")
	s2, url2 := boxSim(t, "02:00:00:00:00:02")
	dsn := replicas.FreshSchema(t)
	config := boxesConfig(map[string]string{"pbx1": url1, "pbx2": url2})
	rs := cluster(t, 1, url1, config, nats.URL, dsn)
	h1, _ := replicas.BoxHolder(t, rs, "pbx1", long)
	h2, _ := replicas.BoxHolder(t, rs, "pbx2", long)
	if h1 != rs[0] || h2 != rs[0] {
		t.Fatalf("the only replica holds not both boxes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 100
	done := make(chan arisim.Stats, 2)
	for i, s := range []*arisim.Sim{s1, s2} {
		go func() {
			st, err := s.Run(ctx, boxLoad(n, 4, []string{fmt.Sprintf("7495%d", i+1)}))
			if err != nil {
				t.Errorf("the calls: %v", err)
			}
			done <- st
		}()
	}
	oracletest.WaitProgressWithin(t, long, "ten calls in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= 10 })
	joined := time.Now()
	r2 := spec(url1, config, nats.URL, dsn).Replica(t, "r2")
	r2.Start()
	r2.Ready()
	rs = append(rs, r2)
	var b1, b2 *replicas.Replica
	oracletest.WaitWithin(t, long, "the boxes held by different replicas", func() bool {
		b1, _ = replicas.BoxHolder(t, rs, "pbx1", long)
		b2, _ = replicas.BoxHolder(t, rs, "pbx2", long)
		return b1 != b2
	})
	t.Logf("r2 joined; %s later pbx1 is held by %s, pbx2 by %s", time.Since(joined).Round(time.Millisecond), b1.Name, b2.Name)
	total := 0
	for range 2 {
		st := <-done
		total += st.Completed
	}
	oracletest.WaitProgressWithin(t, long, "every call in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= total })
	replicas.Settle(t, dsn)
	byBox, flagged := map[string]int{}, 0
	for _, c := range replicas.Stored(t, dsn) {
		byBox[c.PBX]++
		if len(c.Gaps) > 0 {
			flagged++
		}
		if want := map[string]string{"pbx1": "74951", "pbx2": "74952"}[c.PBX]; c.DID != want {
			t.Errorf("call %s of %s dialled %s, want %s", c.ID, c.PBX, c.DID, want)
		}
	}
	t.Logf("rows by box: %v, of %d calls on each, %d saying what they do not know (gaps); unseen periods: %d", byBox, n, flagged, unseenRows(t, dsn))
	if byBox["pbx1"] != n || byBox["pbx2"] != n || len(byBox) != 2 {
		t.Errorf("rows by box %v, want %d on each", byBox, n)
	}
}

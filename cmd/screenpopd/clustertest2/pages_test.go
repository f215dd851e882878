package clustertest2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
)

// Counts are modest, as in clustertest: the calls run in real time with
// three daemons, three NATS nodes, PostgreSQL and the simulator on one
// loaded 2-core machine, within go test's ten minutes.
const (
	calls    = 150
	callRate = 5 // a second
)

var operators = []string{"101", "102", "103", "104", "105", "106"}

// opPage is an operator's page as the browser runs it: it says hello
// with its token and the last sequence number it saw (and that number's
// epoch), takes the snapshot and every message after, and when the
// socket goes it connects to another replica (as a load balancer would
// send it) and catches up from there.
type opPage struct {
	op, token string
	rs        []*replicas.Replica

	mu sync.Mutex
	// seen is when the page first learnt of each call: an offer, any
	// later message of the call, or a snapshot that has it.
	seen map[string]time.Time
	// offered is how long each live pop took from the holder's hub to the
	// page.
	offered []time.Duration
	// offline is, for each reconnection, from the socket's end to the
	// snapshot on another replica; moves says from which replica to which.
	offline []time.Duration
	moves   []string
	resets  int
	on      string // the replica it is connected to, "" between
}

func (p *opPage) connected() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.on
}

func (p *opPage) saw(call string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.seen[call]
	return ok
}

// run keeps the page connected, starting at replica first, until ctx
// ends.
func (p *opPage) run(ctx context.Context, first int) {
	var (
		since   uint64
		epoch   string
		dropped time.Time
		from    string
	)
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	for i := first; ctx.Err() == nil; i = (i + 1) % len(p.rs) {
		r := p.rs[i]
		addr := r.HTTP
		ws, resp, err := dialer.DialContext(ctx, "ws://"+addr+"/ws", http.Header{"Origin": {"http://" + addr}})
		if err != nil {
			continue // that replica is down: the next one
		}
		resp.Body.Close()
		stop := context.AfterFunc(ctx, func() { ws.Close() })
		if err := ws.WriteJSON(map[string]any{"type": "hello", "token": p.token, "since": since, "epoch": epoch}); err != nil {
			ws.Close()
			stop()
			continue
		}
		for {
			// As the page does: a daemon silent for 8 s (it beats every
			// 3 s) is taken as gone, for a hung one keeps the socket open.
			ws.SetReadDeadline(time.Now().Add(pageSilence))
			_, data, err := ws.ReadMessage()
			if err != nil {
				break
			}
			at := time.Now()
			var m struct {
				screenpop.Message
				Epoch string `json:"epoch"`
			}
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			p.mu.Lock()
			switch m.Type {
			case "welcome":
				epoch = m.Epoch
			case screenpop.MsgSnapshot:
				p.on = r.Name
				if !dropped.IsZero() {
					p.offline = append(p.offline, at.Sub(dropped))
					p.moves = append(p.moves, from+"→"+r.Name)
					dropped = time.Time{}
				}
				if m.Reset {
					p.resets++
				}
				for _, c := range m.Calls {
					if _, ok := p.seen[c.ID]; !ok {
						p.seen[c.ID] = at
					}
				}
			}
			if m.Call != nil {
				if _, ok := p.seen[m.Call.ID]; !ok {
					p.seen[m.Call.ID] = at
					if m.Type == screenpop.MsgOffered {
						p.offered = append(p.offered, at.Sub(m.At))
					}
				}
			}
			if m.Seq > since {
				since = m.Seq
			}
			p.mu.Unlock()
		}
		ws.Close()
		stop()
		p.mu.Lock()
		if p.on != "" {
			dropped, from, p.on = time.Now(), p.on, ""
		}
		p.mu.Unlock()
		if ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // the page's retry pace
		}
	}
}

// pageSilence is the page's watchdog (app.js SILENCE_MS).
const pageSilence = 8 * time.Second

// leg is an operator's phone rung for a call.
type leg struct{ call, op string }

// pageSet is two pages for each operator, on two different replicas:
// every one of three replicas serves four.
type pageSet struct {
	pages []*opPage
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func startPages(t *testing.T, ctx context.Context, rs []*replicas.Replica, tokens map[string]string) *pageSet {
	t.Helper()
	ps := &pageSet{}
	pctx, stop := context.WithCancel(ctx)
	ps.stop = stop
	for i, op := range operators {
		for k := range 2 {
			p := &opPage{op: op, token: tokens[op], rs: rs, seen: map[string]time.Time{}}
			ps.pages = append(ps.pages, p)
			ps.wg.Add(1)
			go func() { defer ps.wg.Done(); p.run(pctx, (i+k)%len(rs)) }()
		}
	}
	t.Cleanup(ps.close)
	oracletest.WaitLong(t, "every page is connected", func() bool {
		for _, p := range ps.pages {
			if p.connected() == "" {
				return false
			}
		}
		return true
	})
	return ps
}

func (ps *pageSet) close() { ps.stop(); ps.wg.Wait() }

// on is how many pages are connected to the replica.
func (ps *pageSet) on(r *replicas.Replica) int {
	n := 0
	for _, p := range ps.pages {
		if p.connected() == r.Name {
			n++
		}
	}
	return n
}

// wantPops is every leg the oracle's tracker popped, but those whose
// ringing ended inside a blind window; and how many those are.
func wantPops(truth map[string]screenpop.Call, oracle *oracletest.Tracked, blind []oracletest.Window) ([]leg, int) {
	var want []leg
	excused := 0
	for id, c := range truth {
		for _, o := range c.Offers {
			if !oracle.Rings.Popped(id, o.Operator) {
				continue
			}
			end := o.EndedAt
			if o.AnsweredAt != nil {
				end = o.AnsweredAt
			}
			if end != nil && slices.ContainsFunc(blind, func(w oracletest.Window) bool { return !end.Before(w.From) && end.Before(w.To) }) {
				excused++
				continue
			}
			want = append(want, leg{id, o.Operator})
		}
	}
	return want, excused
}

// lost is, after the pages have had a little time to catch the last
// pops, every wanted leg a page of its operator did not see; the pages
// are closed.
func (ps *pageSet) lost(want []leg) []string {
	missing := func() []string {
		var out []string
		for _, l := range want {
			for _, p := range ps.pages {
				if p.op == l.op && !p.saw(l.call) {
					out = append(out, fmt.Sprintf("call %s on a page of %s", l.call, l.op))
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lost := missing()
	ps.close()
	return lost
}

// check logs the pages' figures and fails the test for pops lost, a page
// offline longer than maxOffline (unless 0), or one that could not be
// caught up.
func (ps *pageSet) check(t *testing.T, want []leg, excused int, lost []string, maxOffline time.Duration) {
	t.Helper()
	var latencies, offline []time.Duration
	resets := 0
	var moves []string
	for _, p := range ps.pages {
		p.mu.Lock()
		latencies = append(latencies, p.offered...)
		offline = append(offline, p.offline...)
		moves = append(moves, p.moves...)
		resets += p.resets
		p.mu.Unlock()
	}
	t.Logf("%d pages (2 per operator on different replicas); %d legs popped by the oracle's tracker, %d must reach pages, %d excused (ringing ended inside a blind window); %d page-pops lost",
		len(ps.pages), len(want)+excused, len(want), excused, len(lost))
	t.Logf("live pops: %d, hub to page p50 %s, p99 %s, max %s", len(latencies), replicas.Percentile(slices.Clone(latencies), 0.5),
		replicas.Percentile(slices.Clone(latencies), 0.99), replicas.Percentile(slices.Clone(latencies), 1))
	t.Logf("reconnections: %d (%v), offline p50 %s, max %s; snapshots that could not catch up (reset): %d", len(offline), moves,
		replicas.Percentile(slices.Clone(offline), 0.5), replicas.Percentile(slices.Clone(offline), 1), resets)
	oracletest.FailList(t, "pops lost", lost)
	if slow := slices.DeleteFunc(slices.Clone(offline), func(d time.Duration) bool { return d <= maxOffline }); maxOffline > 0 && len(slow) > 0 {
		t.Errorf("%d pages were offline longer than %s: %v", len(slow), maxOffline, slow)
	}
	if resets > 0 {
		t.Errorf("%d pages reconnected to a replica that could not catch them up from their last message", resets)
	}
}

func TestPopsReachPagesOnEveryReplicaThroughKillsOfAStandbyAndOfTheHolder(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	ps := startPages(t, ctx, rs, replicas.AddOperators(t, dsn, operators))

	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 21))
	type kill struct {
		at       time.Time
		victim   string
		holder   bool
		takeover time.Duration
		pages    int // pages connected to the victim when it died
	}
	var kills []kill
	killOne := func(wantHolder bool) {
		h, epoch := replicas.Holder(t, rs)
		victim := h
		if !wantHolder {
			victim = rs[(slices.Index(rs, h)+1)%len(rs)]
		}
		k := kill{victim: victim.Name, holder: wantHolder, pages: ps.on(victim), at: time.Now()}
		victim.Stop(syscall.SIGKILL)
		if wantHolder {
			oracletest.WaitLong(t, "another replica takes the box", func() bool {
				for _, r := range rs {
					if r != victim && r.Holds() > epoch {
						return true
					}
				}
				return false
			})
			k.takeover = time.Since(k.at)
		}
		kills = append(kills, k)
		time.Sleep(2*time.Second - time.Since(k.at)) // down 2 s: the fault's length
		victim.Start()
		victim.Ready()
	}
	// The faults' timing, 8 s into the calls and 10 s apart: a standby,
	// then the holder.
	time.Sleep(8 * time.Second)
	killOne(false)
	time.Sleep(10 * time.Second)
	killOne(true)
	st := <-done
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)

	// Every leg the oracle's tracker popped must reach each of its
	// operator's pages, but one whose ringing ended while no replica held
	// the box, or just before the holder died (its pop not yet out).
	var blind []oracletest.Window
	for _, k := range kills {
		if k.holder {
			blind = append(blind, oracletest.Window{From: k.at.Add(-2 * time.Second), To: k.at.Add(k.takeover + time.Second)})
		}
	}
	want, excused := wantPops(truth, oracle, blind)
	lost := ps.lost(want)
	t.Logf("%d calls", calls)
	for _, k := range kills {
		t.Logf("kill -9 of %s (holder %v): %d pages on it; takeover %s", k.victim, k.holder, k.pages, k.takeover.Round(time.Millisecond))
		if k.pages == 0 {
			t.Errorf("no page was on %s when it was killed: the test tried nothing", k.victim)
		}
	}
	ps.check(t, want, excused, lost, 2*time.Second)
	for _, r := range rs {
		r.Stop(syscall.SIGTERM)
	}
}

package arisim_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	neturl "net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// tracked is the daemon's ARI side and call tracking as serve runs them:
// the real client, intake and tracker (its Run, with its clock and
// linger), writing records to a log and pops' notices to rings.
type tracked struct {
	client  *ari.Client
	tracker *screenpop.Tracker
	metrics *ari.Metrics
	log     *callLog
	rings   *ringLog

	mu      sync.Mutex
	resyncs []time.Time // when each resync reached call tracking
}

// ringLog keeps which operators' phones call tracking told to pop, by call.
type ringLog struct {
	mu   sync.Mutex
	rung map[string]map[string]bool
}

func (r *ringLog) Notice(n screenpop.Notice) {
	if n.Kind != screenpop.NoticeRinging {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rung[n.CallID] == nil {
		r.rung[n.CallID] = map[string]bool{}
	}
	r.rung[n.CallID][n.Operator] = true
}

func (r *ringLog) popped(callID, op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rung[callID][op]
}

func runTracked(t *testing.T, ctx context.Context, cfg ari.Config) *tracked {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	d := &tracked{metrics: ari.NewMetrics(nil), log: &callLog{}, rings: &ringLog{rung: map[string]map[string]bool{}}}
	raw, events := make(chan screenpop.Event, 1<<14), make(chan screenpop.Event, 1<<14)
	in := ari.NewIntake(ari.NewDecoder("FROM_DID"), raw, d.metrics, quiet)
	c, err := ari.NewClient(cfg, in, d.metrics, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones"})
	if err != nil {
		t.Fatal(err)
	}
	d.client = c
	d.tracker = screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}, d.log, d.rings)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() {
		defer wg.Done()
		defer close(events)
		for {
			select {
			case ev := <-raw:
				if ev.Kind == screenpop.EventResync {
					d.mu.Lock()
					d.resyncs = append(d.resyncs, ev.At)
					d.mu.Unlock()
				}
				events <- ev
			case <-ctx.Done():
				return
			}
		}
	}()
	// The tracker records the calls still open when events end; the test
	// reads the records only once every call is over.
	go func() { defer wg.Done(); _ = d.tracker.Run(context.Background(), events) }()
	t.Cleanup(wg.Wait)
	return d
}

func (d *tracked) open(t *testing.T) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.tracker.Snapshot(ctx)
	if err != nil {
		t.Fatalf("tracker snapshot: %v", err)
	}
	return s.OpenCount
}

func (d *tracked) resyncTimes() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.resyncs)
}

// drop is one break of the events websocket, from the cut to the resync
// that ended it.
type drop struct {
	kind        dropKind
	cut, resync time.Time
}

// TestRecordsStayExactOrFlaggedAcrossARIDrops runs 500 calls while a
// fault-injecting proxy breaks the daemon's events websocket 100 times,
// and compares every record with the oracle: the same call tracking on
// a second, unbroken connection to the same simulator, which sees every
// event.
func TestRecordsStayExactOrFlaggedAcrossARIDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 500 calls in real time (about 2 minutes)")
	}
	const (
		calls = 500
		drops = 100
	)
	s, url := newSim(t, arisim.Config{ChannelVars: true, Speed: 1, Operators: []string{"101", "102", "103", "104", "105", "106"}})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := runTracked(t, ctx, ari.Config{URL: url, Username: testUser, Password: testPassword, App: "oracle", SubscribeAll: true})
	dut := runTracked(t, ctx, ari.Config{URL: "http://" + proxy.addr() + "/ari", Username: testUser, Password: testPassword, App: "screenpop",
		SubscribeAll: true, PingInterval: 150 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second})
	waitUntil(t, "both connections are up", func() bool { return oracle.client.Ready() && dut.client.Ready() })

	load := arisim.Load{Rate: 6, Calls: calls, Seed: 8, RingFor: [2]time.Duration{time.Second, 6 * time.Second},
		TalkFor: [2]time.Duration{2 * time.Second, 20 * time.Second}}
	loadDone := make(chan arisim.Stats, 1)
	go func() {
		st, err := s.Run(ctx, load)
		if err != nil {
			t.Errorf("load: %v", err)
		}
		loadDone <- st
	}()

	rng := rand.New(rand.NewPCG(8, 100))
	var cuts []drop
	kinds := map[dropKind]int{}
	for i := range drops {
		waitLong(t, "the daemon is connected and resynced", dut.client.Ready)
		// Up a moment, then broken for 100 ms to 1 s: the fault's own
		// timing, not a wait for something to happen.
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		kind := dropKind(i % 3)
		n := len(dut.resyncTimes())
		cuts = append(cuts, drop{kind: kind, cut: time.Now()})
		proxy.cut(kind)
		kinds[kind]++
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		proxy.heal()
		waitLong(t, "the daemon resynced after the drop", func() bool { return len(dut.resyncTimes()) > n })
		cuts[len(cuts)-1].resync = dut.resyncTimes()[n]
	}
	st := <-loadDone
	waitLong(t, "the daemon is connected", dut.client.Ready)
	waitProgressLong(t, "both have recorded every call",
		func() int { return len(oracle.log.records()) + len(dut.log.records()) },
		func() bool {
			return oracle.open(t) == 0 && dut.open(t) == 0 && len(oracle.log.records()) >= st.Completed
		})

	if got := reconnects(oracle); got != 0 {
		t.Fatalf("the oracle's own connection broke %d times: it is no oracle", got)
	}
	truth := map[string]screenpop.Call{}
	for _, c := range oracle.log.records() {
		if _, dup := truth[c.ID]; dup {
			t.Fatalf("the oracle recorded call %s twice", c.ID)
		}
		truth[c.ID] = c
	}
	if len(truth) != st.Completed || st.Completed != calls {
		t.Fatalf("the oracle recorded %d calls; the simulator completed %d of %d", len(truth), st.Completed, calls)
	}
	var (
		got                                      = map[string]screenpop.Call{}
		doubled, phantom, lost, excused, wrong   []string
		exact, flagged, answeredNotAnswered, pop int
		gapCount                                 = map[screenpop.Gap]int{}
	)
	for _, c := range dut.log.records() {
		if _, dup := got[c.ID]; dup {
			doubled = append(doubled, c.ID)
		}
		got[c.ID] = c
		if _, ok := truth[c.ID]; !ok {
			phantom = append(phantom, c.ID)
		}
	}
	for id, want := range truth {
		c, ok := got[id]
		if !ok {
			if insideOneDrop(want, cuts) {
				excused = append(excused, id)
			} else {
				lost = append(lost, fmt.Sprintf("%s (%s %s-%s)", id, want.Status, want.StartedAt.Format("15:04:05.000"), want.EndedAt.Format("15:04:05.000")))
			}
			continue
		}
		if want.Status == screenpop.StatusAnswered && c.Status != screenpop.StatusAnswered {
			answeredNotAnswered++
			t.Errorf("call %s was answered by %s; stored %s (gaps %v)", id, *want.AnsweredBy, c.Status, c.Gaps)
		}
		if bad := c.Unflagged(want); len(bad) > 0 {
			wrong = append(wrong, fmt.Sprintf("%s: %v differ, gaps %v", id, bad, c.Gaps))
			continue
		}
		if len(c.Gaps) == 0 {
			exact++
		} else {
			flagged++
			for _, g := range c.Gaps {
				gapCount[g]++
			}
		}
	}
	// Every phone ringing when a resync was taken has popped.
	var missedPops []string
	const margin = 200 * time.Millisecond
	for _, r := range dut.resyncTimes()[1:] {
		for id, want := range truth {
			for _, o := range want.Offers {
				if o.RingingAt == nil {
					continue
				}
				end := o.EndedAt
				if o.AnsweredAt != nil {
					end = o.AnsweredAt
				}
				if o.RingingAt.After(r.Add(-margin)) || end == nil || end.Before(r.Add(margin)) {
					continue
				}
				pop++
				if !dut.rings.popped(id, o.Operator) {
					missedPops = append(missedPops, fmt.Sprintf("%s to %s at the resync of %s", id, o.Operator, r.Format("15:04:05.000")))
				}
			}
		}
	}
	t.Logf("%d calls (%d completed by the simulator); %d drops: %d clean closes, %d resets, %d black holes; %d resyncs; reconnects counted %d",
		calls, st.Completed, len(cuts), kinds[dropClose], kinds[dropReset], kinds[dropBlackHole], len(dut.resyncTimes()), reconnects(dut))
	t.Logf("records: %d exact, %d flagged (gaps: start %d, offers %d, answer %d, end %d), %d wrong; %d doubled, %d phantom, %d lost, %d not recorded because they began and ended inside one drop",
		exact, flagged, gapCount[screenpop.GapStart], gapCount[screenpop.GapOffers], gapCount[screenpop.GapAnswer], gapCount[screenpop.GapEnd],
		len(wrong), len(doubled), len(phantom), len(lost), len(excused))
	t.Logf("answered calls stored otherwise: %d; phones ringing at a resync: %d, their operators popped: %d", answeredNotAnswered, pop, pop-len(missedPops))
	for _, list := range []struct {
		what string
		ids  []string
	}{{"wrong and unflagged", wrong}, {"doubled", doubled}, {"phantom", phantom}, {"lost", lost}, {"not popped", missedPops}} {
		if len(list.ids) > 0 {
			sort.Strings(list.ids)
			t.Errorf("%d %s: %s", len(list.ids), list.what, strings.Join(list.ids[:min(len(list.ids), 10)], "; "))
		}
	}
}

// insideOneDrop reports whether the call began and ended while one drop
// hid it: the daemon could not have seen it.
func insideOneDrop(c screenpop.Call, cuts []drop) bool {
	for _, d := range cuts {
		if !c.StartedAt.Before(d.cut) && !c.EndedAt.After(d.resync) {
			return true
		}
	}
	return false
}

func reconnects(d *tracked) int { return int(testutil.ToFloat64(d.metrics.Reconnects)) }

// waitLong is waitUntil for what a loaded machine may take seconds to do:
// it gives up after 30 s.
func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitProgressLong is waitProgress allowing 30 s without progress.
func waitProgressLong(t testing.TB, what string, progress func() int, cond func() bool) {
	t.Helper()
	last, since := progress(), time.Now()
	for !cond() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > 30*time.Second {
			t.Fatalf("gave up waiting until %s: no progress for 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

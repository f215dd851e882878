package continuity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
)

// TestRecordsStayExactOrFlaggedAcrossARIDrops runs 500 calls while a
// fault-injecting proxy breaks the daemon's events websocket 100 times
// (clean closes, resets, black holes), each for 100 ms to 1 s, and
// compares every record call tracking hands the call log with the
// oracle's.
func TestRecordsStayExactOrFlaggedAcrossARIDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 500 calls in real time (about 2 minutes)")
	}
	const (
		calls = 500
		drops = 100
	)
	s, url := continuitySim(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := runTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: simPassword, App: "oracle", SubscribeAll: true})
	dut := runTracked(t, ctx, ari.Config{URL: "http://" + proxy.addr() + "/ari", Username: "screenpop", Password: simPassword, App: "screenpop",
		SubscribeAll: true, PingInterval: 150 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second})
	waitLong(t, "both connections are up", func() bool { return oracle.client.Ready() && dut.client.Ready() })

	loadDone := make(chan arisim.Stats, 1)
	go func() {
		st, err := s.Run(ctx, continuityLoad(calls, 6, 8))
		if err != nil {
			t.Errorf("load: %v", err)
		}
		loadDone <- st
	}()

	rng := rand.New(rand.NewPCG(8, 100))
	var blind []window
	kinds := map[dropKind]int{}
	for i := range drops {
		waitLong(t, "the daemon is connected and resynced", dut.client.Ready)
		// Up a moment, then broken for 100 ms to 1 s: the fault's own
		// timing, not a wait for something to happen.
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		kind := dropKind(i % 3)
		n := len(dut.resyncTimes())
		cut := time.Now()
		proxy.cut(kind)
		kinds[kind]++
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		proxy.heal()
		waitLong(t, "the daemon resynced after the drop", func() bool { return len(dut.resyncTimes()) > n })
		blind = append(blind, window{cut, dut.resyncTimes()[n]})
	}
	st := <-loadDone
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracleRecords(t, oracle, calls)
	waitLong(t, "the daemon is connected", dut.client.Ready)
	waitProgressLong(t, "the daemon has recorded every call", func() int { return len(dut.log.records()) },
		func() bool { return dut.open(t) == 0 })

	t.Logf("%d calls; %d drops: %d clean closes, %d resets, %d black holes; %d resyncs, %d reconnects counted",
		calls, len(blind), kinds[dropClose], kinds[dropReset], kinds[dropBlackHole], len(dut.resyncTimes()), dut.reconnects())
	judge(truth, dut.log.records(), blind).report(t)

	// Every operator whose phone rang when a resync was taken got the pop.
	var checked int
	var missed []string
	const margin = 200 * time.Millisecond
	for _, r := range dut.resyncTimes()[1:] {
		for id, want := range truth {
			for _, o := range want.Offers {
				end := o.EndedAt
				if o.AnsweredAt != nil {
					end = o.AnsweredAt
				}
				if o.RingingAt == nil || o.RingingAt.After(r.Add(-margin)) || end == nil || end.Before(r.Add(margin)) {
					continue
				}
				checked++
				if !dut.rings.popped(id, o.Operator) {
					missed = append(missed, fmt.Sprintf("%s to %s at the resync of %s", id, o.Operator, r.Format("15:04:05.000")))
				}
			}
		}
	}
	t.Logf("phones ringing at a resync: %d; their operators popped: %d", checked, checked-len(missed))
	failList(t, "operators not popped", missed)
}

package continuity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/screenpop"
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
	s, url := oracletest.Sim(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.RunTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: oracletest.SimPassword, App: "oracle", SubscribeAll: true})
	dut := oracletest.RunTracked(t, ctx, ari.Config{URL: "http://" + proxy.addr() + "/ari", Username: "screenpop", Password: oracletest.SimPassword, App: "screenpop",
		SubscribeAll: true, PingInterval: 150 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second})
	oracletest.WaitLong(t, "both connections are up", func() bool { return oracle.Client.Ready() && dut.Client.Ready() })

	loadDone := make(chan arisim.Stats, 1)
	go func() {
		st, err := s.Run(ctx, oracletest.Load(calls, 6, 8))
		if err != nil {
			t.Errorf("load: %v", err)
		}
		loadDone <- st
	}()

	rng := rand.New(rand.NewPCG(8, 100))
	var blind []oracletest.Window
	kinds := map[dropKind]int{}
	var early []time.Duration // how long before each cut the daemon's view stopped
	for i := range drops {
		oracletest.WaitLong(t, "the daemon is connected and resynced", dut.Resynced)
		// Up a moment, then broken for 100 ms to 1 s: the fault's own
		// timing, not a wait for something to happen.
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		kind := dropKind(i % 3)
		n := len(dut.ResyncTimes())
		cut := time.Now()
		proxy.cut(kind)
		kinds[kind]++
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		proxy.heal()
		oracletest.WaitLong(t, "the daemon resynced after the drop", func() bool { return len(dut.ResyncTimes()) > n })
		from := dut.BlindSince(n, cut)
		early = append(early, cut.Sub(from))
		blind = append(blind, oracletest.Window{From: from, To: dut.ResyncTimes()[n]})
	}
	st := <-loadDone
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	oracletest.WaitLong(t, "the daemon is connected", dut.Client.Ready)
	oracletest.WaitProgressLong(t, "the daemon has recorded every call", func() int { return len(dut.Log.Records()) },
		func() bool { return dut.Open(t) == 0 })

	t.Logf("%d calls; %d drops: %d clean closes, %d resets, %d black holes; %d resyncs, %d reconnects counted",
		calls, len(blind), kinds[dropClose], kinds[dropReset], kinds[dropBlackHole], len(dut.ResyncTimes()), dut.Reconnects())
	slices.Sort(early)
	t.Logf("the daemon's view stopped before the test cut the connection (the events on their way were lost with it) by a median %v, 90th percentile %v, at most %v (a drop after the last call counts the time since its last event)",
		early[len(early)/2], early[len(early)*9/10], early[len(early)-1])
	if dropped := testutil.ToFloat64(dut.Metrics.Dropped); dropped != 0 {
		// The blind windows start at the last event call tracking had:
		// one the daemon dropped itself must not widen them.
		t.Errorf("the daemon dropped %v ARI events it had received", dropped)
	}
	oracletest.Judge(truth, dut.Log.Records(), blind).Report(t)

	// Every operator whose phone rang when a resync was taken got the pop:
	// the phones the resync's own channel list shows ringing, not those
	// the oracle saw ringing at the resync's time stamp, which is taken
	// after the lists (on a loaded machine, long after); a phone that began
	// ringing after the list is told by the events, which the next drop can
	// take before the daemon reads them.
	var checked, answeredPops int
	var missed []string
	ringingAt := dut.RingingAt()
	times := dut.ResyncTimes()
	for i, ringing := range ringingAt {
		for _, p := range ringing {
			o := offerTo(truth[p.Call], p.Operator)
			if o == nil || o.RingingAt == nil {
				missed = append(missed, fmt.Sprintf("%s to %s at the resync of %s: the oracle saw no such ringing", p.Call, p.Operator, times[i].Format("15:04:05.000")))
				continue
			}
			checked++
			if !dut.Rings.Popped(p.Call, p.Operator) && o.AnsweredAt != nil && !o.AnsweredAt.After(times[i]) && dut.Rings.AnsweredBy(p.Call, p.Operator) {
				// The bridge list, read after the channel list, showed the
				// phone answered (it was, before the resync was done):
				// the operator got the card as the one who answered.
				answeredPops++
				continue
			}
			if !dut.Rings.Popped(p.Call, p.Operator) {
				missed = append(missed, fmt.Sprintf("%s to %s at the resync of %s (%s)", p.Call, p.Operator, times[i].Format("15:04:05.000"), offersOf(dut.Log.Records(), p.Call)))
			}
		}
	}
	if checked == 0 {
		t.Errorf("no resync found a phone ringing: the drops tested no pop at a reconnect")
	}
	t.Logf("phones ringing at a resync: %d; their operators popped: %d (%d of them as the one who answered: the phone answered between the channel and bridge lists)",
		checked, checked-len(missed), answeredPops)
	oracletest.FailList(t, "operators not popped", missed)
}

// offerTo is the call's offer to operator, or nil.
func offerTo(c screenpop.Call, operator string) *screenpop.Offer {
	for i := range c.Offers {
		if c.Offers[i].Operator == operator {
			return &c.Offers[i]
		}
	}
	return nil
}

// offersOf says what the daemon recorded of a call's offers, for a
// failure's message.
func offersOf(records []screenpop.Call, id string) string {
	for _, c := range records {
		if c.ID != id {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "recorded %s, gaps %v, offers:", c.Status, c.Gaps)
		for _, o := range c.Offers {
			fmt.Fprintf(&b, " %s %s ringing %v;", o.Operator, o.Outcome, o.RingingAt != nil)
		}
		return b.String()
	}
	return "not recorded"
}

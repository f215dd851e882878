package clustertest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
)

// Counts are modest: every test runs its calls in real time (the
// simulator at Speed 1, as the continuity tests do) with three daemons,
// three NATS nodes, PostgreSQL and the simulator on one loaded 2-core
// machine, and the package must end within go test's ten minutes.
const (
	calls    = 150
	callRate = 5 // a second
)

// written is the daemon's count of records written (its /metrics), -1
// if it does not answer.
func written(r *replicas.Replica) int { return int(r.Metric("screenpop_calls_written_total")) }

func TestTheEmbeddedDefaultOpensNoNATSConnection(t *testing.T) {
	// A NATS server the daemon could reach, were it to try.
	nats := natstest.Start(t, 1)
	total := func() uint64 {
		v, err := nats.Nodes[0].S.Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.TotalConnections
	}
	before := total()
	s, simURL := oracletest.Sim(t)
	u, err := url.Parse(simURL)
	if err != nil {
		t.Fatal(err)
	}
	simPort, _ := strconv.Atoi(u.Port())
	d := replicas.New(t, "single", simURL)
	_, hp, _ := strings.Cut(d.HTTP, ":")
	httpPort, _ := strconv.Atoi(hp)
	d.Start()
	d.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 40
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(n, callRate, 7))
	samples, conns := 0, 0
	other := map[int]int{}
sampling:
	for {
		peers, err := replicas.TCPPeers(d.Cmd.Process.Pid, httpPort)
		if err != nil {
			t.Fatal(err)
		}
		samples++
		for _, p := range peers {
			conns++
			if p != simPort {
				other[p]++
			}
		}
		select {
		case st := <-done:
			if st.Completed != n {
				t.Fatalf("the simulator completed %d calls of %d", st.Completed, n)
			}
			break sampling
		case <-time.After(20 * time.Millisecond):
		}
	}
	oracletest.WaitLong(t, "the daemon has written every call", func() bool { return written(d) >= n })
	t.Logf("%d calls; %d samples of the daemon's TCP connections, %d connections seen, all to Asterisk's port %d; connections to other ports: %v; NATS connections ever made before %d, after %d; %d records written",
		n, samples, conns, simPort, other, before, total(), written(d))
	if len(other) > 0 {
		t.Errorf("the single daemon connected to ports other than Asterisk's: %v", other)
	}
	if conns == 0 {
		t.Error("no connection of the daemon was seen: the sampling saw nothing")
	}
	if got := total(); got != before {
		t.Errorf("NATS connections: %d before the daemon ran, %d after", before, got)
	}
	d.Stop(syscall.SIGTERM)
}

// summary is what an analyst reads off a record, with neither its call ID
// nor its times (they differ from run to run).
type summary struct {
	Status     screenpop.Status
	Caller     string
	AnsweredBy string
	OfferedTo  string
	Gaps       int
	Close      string
}

func summarize(calls []screenpop.Call) []summary {
	slices.SortFunc(calls, func(a, b screenpop.Call) int { return a.StartedAt.Compare(b.StartedAt) })
	out := make([]summary, len(calls))
	for i, c := range calls {
		var offered []string
		for _, o := range c.Offers {
			offered = append(offered, o.Operator)
		}
		by := ""
		if c.AnsweredBy != nil {
			by = *c.AnsweredBy
		}
		out[i] = summary{Status: c.Status, Caller: c.Caller, AnsweredBy: by, OfferedTo: strings.Join(offered, ","), Gaps: len(c.Gaps), Close: c.CloseReason}
	}
	return out
}

func TestTheSameSeededCallsGiveTheSameRecordsOnOneReplicaAndOnThree(t *testing.T) {
	const n = 100
	var runs [][]summary
	for _, nReplicas := range []int{1, 3} {
		start := time.Now()
		nats := natstest.Start(t, 3)
		s, simURL := oracletest.Sim(t)
		dsn := replicas.FreshSchema(t)
		ctx, cancel := context.WithCancel(context.Background())
		oracle := oracletest.Oracle(t, ctx, simURL)
		rs := replicas.Cluster(t, nReplicas, simURL, nats.URL, dsn, 3)
		replicas.Holder(t, rs)
		st := <-oracletest.RunLoad(t, ctx, s, oracletest.Load(n, callRate, 42))
		if st.Completed != n {
			t.Fatalf("the simulator completed %d calls of %d", st.Completed, n)
		}
		truth := oracletest.Truth(t, oracle, n)
		oracletest.WaitProgressLong(t, "every call is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= n })
		records := replicas.Stored(t, dsn)
		v := oracletest.Judge(truth, records, nil)
		t.Logf("%d replica(s): %d calls, %d rows in %s", nReplicas, n, len(records), time.Since(start).Round(time.Millisecond))
		v.Report(t)
		if v.Exact != n {
			t.Errorf("%d replica(s): %d of %d records exact", nReplicas, v.Exact, n)
		}
		runs = append(runs, summarize(records))
		for _, r := range rs {
			r.Stop(syscall.SIGTERM)
		}
		cancel()
	}
	// Two calls placed in one instant may start in either order: compare
	// the two runs' records as sets.
	for _, r := range runs {
		slices.SortFunc(r, func(a, b summary) int { return strings.Compare(fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b)) })
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("rows: %d on one replica, %d on three", len(runs[0]), len(runs[1]))
	}
	differ := 0
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			differ++
			if differ <= 5 {
				t.Errorf("call %d: one replica %+v, three %+v", i, runs[0][i], runs[1][i])
			}
		}
	}
	t.Logf("the two runs' records: %d compared, %d differ", len(runs[0]), differ)
}

// killEvery kills a replica chosen by pick every period while the calls
// run, restarting it 2 s later; it returns the kill times and, for each,
// how long until a replica held the box under a new epoch (0 when the
// killed one did not hold it).
func killEvery(t *testing.T, rs []*replicas.Replica, done <-chan arisim.Stats, period time.Duration, pick func() *replicas.Replica) (arisim.Stats, []time.Time, []time.Duration) {
	t.Helper()
	var (
		kills     []time.Time
		takeovers []time.Duration
	)
	for {
		select {
		case st := <-done:
			return st, kills, takeovers
		case <-time.After(period): // the fault's timing, not a wait for something
		}
		victim := pick()
		_, epoch := replicas.Holder(t, rs)
		wasHolder := victim.Holds() != 0
		at := time.Now()
		victim.Stop(syscall.SIGKILL)
		kills = append(kills, at)
		if wasHolder {
			var others []*replicas.Replica
			for _, r := range rs {
				if r != victim {
					others = append(others, r)
				}
			}
			oracletest.WaitLong(t, "another replica takes the box", func() bool {
				for _, r := range others {
					if e := r.Holds(); e > epoch {
						return true
					}
				}
				return false
			})
			takeovers = append(takeovers, time.Since(at))
		}
		// Down 2 s: the fault's length.
		time.Sleep(2*time.Second - time.Since(at))
		victim.Start()
		victim.Ready()
	}
}

func TestKillingANonHolderLosesAndDoublesNoCall(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	rng := rand.New(rand.NewPCG(11, 1))
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 11))
	st, kills, takeovers := killEvery(t, rs, done, 10*time.Second, func() *replicas.Replica {
		h, _ := replicas.Holder(t, rs)
		var others []*replicas.Replica
		for _, r := range rs {
			if r != h {
				others = append(others, r)
			}
		}
		return others[rng.IntN(len(others))]
	})
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	oracletest.WaitProgressLong(t, "every call is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= calls })
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	v := oracletest.Judge(truth, records, nil)
	t.Logf("%d calls, %d kill -9 of a non-holder, %d takeovers; %d rows", calls, len(kills), len(takeovers), len(records))
	v.Report(t)
	if len(kills) == 0 {
		t.Error("no replica was killed: the test tried nothing")
	}
	if v.Exact != calls {
		t.Errorf("%d of %d records exact", v.Exact, calls)
	}
}

func TestKillingTheHolderHandsTheBoxOverWithinFiveSecondsLosingAndDoublingNoCall(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 12))
	st, kills, takeovers := killEvery(t, rs, done, 12*time.Second, func() *replicas.Replica {
		h, _ := replicas.Holder(t, rs)
		return h
	})
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	// A call that began and ended while no replica read Asterisk (between
	// a holder's death and the next one's resync) cannot be known.
	var blind []oracletest.Window
	for i, k := range kills {
		if i < len(takeovers) {
			blind = append(blind, oracletest.Window{From: k, To: k.Add(takeovers[i] + time.Second)})
		}
	}
	want := oracletest.Seeable(truth, blind)
	oracletest.WaitProgressLong(t, "every call that could be seen is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= want })
	replicas.Settle(t, dsn)
	records := replicas.Stored(t, dsn)
	t.Logf("rows counted %d, read %d, %d calls could be seen", replicas.Rows(dsn), len(records), want)
	v := oracletest.Judge(truth, records, blind)
	slow := 0
	for _, d := range takeovers {
		if d > 5*time.Second {
			slow++
		}
	}
	t.Logf("%d calls, %d kill -9 of the holder; takeovers (kill to a new holder): %v, p50 %s, max %s; %d rows",
		calls, len(kills), takeovers, replicas.Percentile(slices.Clone(takeovers), 0.5), replicas.Percentile(slices.Clone(takeovers), 1), len(records))
	v.Report(t)
	if len(takeovers) == 0 {
		t.Error("no holder was killed: the test tried nothing")
	}
	if slow > 0 {
		t.Errorf("%d takeovers took longer than 5 s", slow)
	}
	if v.Exact+v.Flagged+v.Excused != calls {
		t.Errorf("exact %d + flagged %d + unseen %d != %d calls", v.Exact, v.Flagged, v.Excused, calls)
	}
}

package clustertest2_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

func TestANATSNodeStoppedAndRestartedDuringTheCallsLosesNothing(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	ps := startPages(t, ctx, rs, replicas.AddOperators(t, dsn, operators))
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 25))

	time.Sleep(8 * time.Second) // the fault's timing, 8 s into the calls
	// The node the holder's connection is on, and the replicas on it:
	// their pages are sent to reconnect (1013) when NATS goes.
	h, _ := replicas.Holder(t, rs)
	node, cut, pagesCut := -1, []string{}, 0
	for i, nd := range nats.Nodes {
		cz, err := nd.S.Connz(&server.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cz.Conns {
			names = append(names, strings.TrimPrefix(c.Name, "screenpopd "))
		}
		if slices.Contains(names, h.Name) {
			node, cut = i, names
		}
	}
	if node < 0 {
		t.Fatalf("the holder %s is connected to no NATS node", h.Name)
	}
	for _, r := range rs {
		if slices.Contains(cut, r.Name) {
			pagesCut += ps.on(r)
		}
	}
	clients := len(cut)
	at := time.Now()
	nats.Stop(node)
	time.Sleep(5*time.Second - time.Since(at)) // down 5 s: the fault's length
	nats.Restart(t, node)
	nats.WaitJetStream(t)
	back := time.Since(at)
	st := <-done
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	want, excused := wantPops(truth, oracle, nil)
	lost := ps.lost(want)
	oracletest.WaitProgressLong(t, "every call is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= calls })
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	v := oracletest.Judge(truth, records, nil)
	t.Logf("%d calls; NATS node n%d (clients on it: %v, the holder %s's among them; %d pages on those replicas) stopped 8 s into the calls, started again after %s; %d rows",
		calls, node+1, cut, h.Name, pagesCut, back.Round(time.Millisecond), len(records))
	v.Report(t)
	if v.Exact != calls {
		t.Errorf("%d of %d records exact", v.Exact, calls)
	}
	if clients == 0 {
		t.Error("no client was connected to the stopped node: the test tried less than it says")
	}
	ps.check(t, want, excused, lost, 2*time.Second)
	moved := 0
	for _, p := range ps.pages {
		moved += len(p.offline)
	}
	if moved < pagesCut {
		t.Errorf("%d pages were on replicas that lost NATS; %d reconnected", pagesCut, moved)
	}
	for _, r := range rs {
		r.Stop(syscall.SIGTERM)
	}
}

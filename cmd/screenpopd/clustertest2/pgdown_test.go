package clustertest2_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/pgcluster"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

func TestPostgreSQLDownAMinuteInClusteredModeLosesAndDoublesNoRecord(t *testing.T) {
	// A PostgreSQL of the test's own, to stop while the shared one serves
	// the other tests.
	pg := pgcluster.New(t)
	dsn := pg.DSN()
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 23))

	time.Sleep(5 * time.Second) // the fault's timing, 5 s into the calls
	before := replicas.Rows(dsn)
	down := time.Now()
	pg.Stop(t)
	time.Sleep(60*time.Second - time.Since(down)) // down a minute: the fault's length
	st := <-done                                  // the calls are over within the minute (30 s placing, at most 21 s each)
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	failures := 0.0
	for _, r := range rs {
		failures += r.Metric("screenpop_call_log_failures_total")
	}
	pg.Start(t)
	back := time.Now()
	oracletest.WaitProgressLong(t, "every call is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= calls })
	caughtUp := time.Since(back)
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	v := oracletest.Judge(truth, records, nil)
	written := 0.0
	for _, r := range rs {
		written += r.Metric("screenpop_calls_written_total")
	}
	t.Logf("%d calls; PostgreSQL down %s from 5 s into the calls (%d rows before); %g failed writes meanwhile; every row in %s of its return; %d rows, %g records written by the three writers",
		calls, back.Sub(down).Round(time.Millisecond), before, failures, caughtUp.Round(time.Millisecond), len(records), written)
	v.Report(t)
	if v.Exact != calls {
		t.Errorf("%d of %d records exact", v.Exact, calls)
	}
	if failures == 0 {
		t.Error("no writer failed while PostgreSQL was down: the test tried nothing")
	}
	if caughtUp > 30*time.Second {
		t.Errorf("the call log took %s after PostgreSQL's return to have every call, want within 30 s", caughtUp)
	}
	for _, r := range rs {
		r.Stop(syscall.SIGTERM)
	}
}

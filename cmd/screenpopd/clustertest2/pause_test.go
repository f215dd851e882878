package clustertest2_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

// staleEntries reads the whole of the box's log as the replicas'
// followers do and counts the messages appended under an epoch older
// than one before them: a holder's that had lost its lease.
func staleEntries(t *testing.T, url string) (stale, total int) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, natsbus.EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var highest uint64
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		var pending uint64
		for msg := range batch.Messages() {
			got++
			total++
			if meta, err := msg.Metadata(); err == nil {
				pending = meta.NumPending
			}
			e, err := strconv.ParseUint(msg.Headers().Get("Sp-Epoch"), 10, 64)
			if err != nil {
				t.Fatalf("a message of the log without its epoch: %v", err)
			}
			if e < highest {
				stale++
			}
			highest = max(highest, e)
		}
		if got == 0 || pending == 0 {
			return stale, total
		}
	}
}

func TestAHolderPausedEightSecondsDoublesNothingAndItsStaleEventsAreFenced(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	ps := startPages(t, ctx, rs, replicas.AddOperators(t, dsn, operators))
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 22))

	time.Sleep(10 * time.Second) // the fault's timing, 10 s into the calls
	h, epoch := replicas.Holder(t, rs)
	pages := ps.on(h)
	at := time.Now()
	if err := h.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A stopped replica accepts connections and answers none: ask only
	// the others.
	var next *replicas.Replica
	oracletest.WaitLong(t, "another replica takes the box", func() bool {
		for _, r := range rs {
			if r != h && r.Holds() > epoch {
				next = r
				return true
			}
		}
		return false
	})
	takeover := time.Since(at)
	time.Sleep(8*time.Second - time.Since(at)) // paused 8 s: the fault's length
	if err := h.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	oracletest.WaitLong(t, "the paused replica knows it lost the box", func() bool { return h.Holds() == 0 })
	noticed := time.Since(resumed)
	if now, e := replicas.Holder(t, rs); now != next || e <= epoch {
		t.Errorf("after the pause %s holds the box (epoch %d); want %s, which took it over from epoch %d", now.Name, e, next.Name, epoch)
	}
	st := <-done
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	blind := []oracletest.Window{{From: at, To: at.Add(takeover + time.Second)}}
	want := oracletest.Seeable(truth, blind)
	oracletest.WaitProgressLong(t, "every call that could be seen is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= want })
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	v := oracletest.Judge(truth, records, blind)
	// Every stale entry in the log is fenced off by every replica's
	// tracker (all three followed the whole log: none restarted).
	stale, entries := staleEntries(t, nats.URL)
	var fenced []float64
	for _, r := range rs {
		fenced = append(fenced, r.Metric("screenpop_cluster_log_fenced_total"))
	}
	t.Logf("%d calls; holder %s (epoch %d, %d pages on it) paused 8 s: %s took the box over after %s; the paused one knew it had lost the box %s after it resumed; %d of the log's %d messages stale (appended under an older epoch after a newer one); entries fenced off by each replica's tracker: %v; %d rows",
		calls, h.Name, epoch, pages, next.Name, takeover.Round(time.Millisecond), noticed.Round(time.Millisecond), stale, entries, fenced, len(records))
	v.Report(t)
	if v.Exact+v.Flagged+v.Excused != calls {
		t.Errorf("exact %d + flagged %d + unseen %d != %d calls", v.Exact, v.Flagged, v.Excused, calls)
	}
	for i, f := range fenced {
		// A tracker counts entries (events), the log holds batches of
		// them: at least one entry for each stale message.
		if (stale == 0) != (f == 0) || f < float64(stale) {
			t.Errorf("replica %s fenced off %g entries; the log has %d stale messages", rs[i].Name, f, stale)
		}
	}
	// Pops: the pages on the paused replica hear nothing for 8 s and move
	// (their watchdog), so no bound on their time offline here.
	wantLegs, excused := wantPops(truth, oracle, []oracletest.Window{{From: at.Add(-2 * time.Second), To: at.Add(takeover + time.Second)}})
	ps.check(t, wantLegs, excused, ps.lost(wantLegs), 0)
	for _, r := range rs {
		r.Stop(syscall.SIGTERM)
	}
}

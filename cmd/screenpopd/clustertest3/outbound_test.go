package clustertest3_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/screenpop"
)

// The calls run in real time (the simulator at Speed 1) with three
// daemons, three NATS nodes, PostgreSQL and the simulator on one loaded
// 2-core machine, and the package must end within go test's ten
// minutes: 1,000 calls at 5 a second, not the study's 2,000.
// SCREENPOP_OUTBOUND_CALLS sets another count (2000 with -timeout 20m).
const (
	defaultCalls = 1000
	callRate     = 5 // a second
	killPeriod   = 30 * time.Second
)

func callCount(t *testing.T) int {
	if s := os.Getenv("SCREENPOP_OUTBOUND_CALLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("SCREENPOP_OUTBOUND_CALLS=%q: want a number of calls", s)
		}
		return n
	}
	return defaultCalls
}

// kill is one kill -9 of the holder: when, the epoch it held, and how
// long until a replica held the box under a newer one.
type kill struct {
	at       time.Time
	epoch    uint64
	takeover time.Duration
}

// killEvery kills the holder every period while the calls run,
// restarting it 2 s later.
func killEvery(t *testing.T, rs []*replicas.Replica, done <-chan arisim.Stats, period time.Duration) (arisim.Stats, []kill) {
	t.Helper()
	var kills []kill
	for {
		select {
		case st := <-done:
			return st, kills
		case <-time.After(period): // the fault's timing, not a wait for something
		}
		victim, epoch := replicas.Holder(t, rs)
		at := time.Now()
		victim.Stop(syscall.SIGKILL)
		oracletest.WaitLong(t, "another replica takes the box", func() bool {
			for _, r := range rs {
				if r != victim && r.Holds() > epoch {
					return true
				}
			}
			return false
		})
		kills = append(kills, kill{at: at, epoch: epoch, takeover: time.Since(at)})
		// Down 2 s: the fault's length.
		time.Sleep(2*time.Second - time.Since(at))
		victim.Start()
		victim.Ready()
	}
}

func TestKillingTheHolderOfAsteriskOutboundWebsocketLosesAndDoublesNoCall(t *testing.T) {
	calls := callCount(t)
	natsURL := natsProcesses(t)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)

	var rs []*replicas.Replica
	var addrs []string
	for i := range 3 {
		r := newReplica(t, fmt.Sprintf("r%d", i+1), natsURL, dsn)
		rs, addrs = append(rs, r), append(addrs, r.HTTP)
		r.Start()
	}
	for _, r := range rs {
		r.Ready()
	}
	lb := newBalancer(t, addrs)
	out, err := s.Outbound(arisim.OutboundConfig{URI: "ws://" + lb.addr() + "/ari/events", Username: oracletest.SimUser, Password: oracletest.SimPassword,
		SubscribeAll: true, ReconnectInterval: 500 * time.Millisecond, ConnectionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := replicas.Holder(t, rs) // the replica Asterisk reached took the box
	t.Logf("replica %s took the box on Asterisk's first connection", first.Name)

	start := time.Now()
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 14))
	st, kills := killEvery(t, rs, done, killPeriod)
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	// Should calls be missing, the verdict below names them.
	for last, since := replicas.Rows(dsn), time.Now(); replicas.Rows(dsn) < calls && time.Since(since) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		if n := replicas.Rows(dsn); n != last {
			last, since = n, time.Now()
		}
	}
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	// What a killed holder had read (or Asterisk had written into its
	// socket) but not yet appended to the log died with it: a call that
	// began and ended in that hole was never known to anyone but Asterisk,
	// which believes it delivered. Every other call must be there.
	holes := holesLeft(t, natsURL, kills, out.Ended())
	v := oracletest.JudgeAnswerFlags(truth, records, holes)
	var takeovers []time.Duration
	for _, k := range kills {
		takeovers = append(takeovers, k.takeover)
	}

	slow := 0
	for _, d := range takeovers {
		if d > 5*time.Second {
			slow++
		}
	}
	var fenced, turned float64
	for _, r := range rs {
		// A replica not answering counts none.
		fenced += max(r.Metric("screenpop_cluster_log_fenced_total"), 0)
		turned += max(r.Metric("screenpop_outbound_turned_away_total"), 0)
	}
	t.Logf("%d calls at %d/s in %s, %d rows; %d kill -9 of the holder, every %s; takeovers (kill to a new holder): %v, p50 %s, max %s",
		calls, callRate, time.Since(start).Round(time.Second), len(records), len(kills), killPeriod,
		takeovers, replicas.Percentile(slices.Clone(takeovers), 0.5), replicas.Percentile(slices.Clone(takeovers), 1))
	t.Logf("Asterisk's outbound websocket: %d connections, %d attempts failed (turned away with 503 or no replica listening; %v turned away by the replicas now running, since their last start), %d events queued while no replica had it, %d written into a socket already dead; balancer spread %v; log entries fenced off by the replicas now running: %v",
		out.Connects(), out.Failed(), turned, out.QueuedTotal(), out.Lost(), lb.spread(), fenced)
	t.Logf("holes the kills left (the killed holder's last logged event to Asterisk's finding its websocket gone): %v", holes)
	v.Report(t)
	if len(kills) == 0 {
		t.Error("no holder was killed: the test tried nothing")
	}
	if slow > 0 {
		t.Errorf("%d takeovers took longer than 5 s", slow)
	}
	if v.Exact+v.Flagged+v.Excused != calls {
		t.Errorf("exact %d + flagged %d + in a hole %d != %d calls", v.Exact, v.Flagged, v.Excused, calls)
	}
	if out.QueuedTotal() == 0 {
		t.Error("Asterisk queued no event: the takeovers were never tried with events waiting")
	}
}

// holesLeft reads the box's log and returns, for each kill, the time
// from the last event logged under the killed holder's epoch to when
// Asterisk found its websocket gone (ended: its connections' ends): until
// then it wrote events into a socket whose reader was dead, or dying (a
// process killed takes milliseconds to close its sockets, and the
// balancer more to pass the close on), and believes them delivered.
func holesLeft(t *testing.T, natsURL string, kills []kill, ended []time.Time) []oracletest.Window {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, "SP_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"sp.ev.pbx1.*"}})
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	last := map[uint64]time.Time{} // by epoch, the latest event logged
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatalf("read the log: %v", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			epoch, _ := strconv.ParseUint(msg.Headers().Get("Sp-Epoch"), 10, 64)
			var evs []struct {
				Kind screenpop.EventKind
				At   time.Time
			}
			if err := json.Unmarshal(msg.Data(), &evs); err != nil {
				t.Fatalf("an entry of the log: %v", err)
			}
			for _, ev := range evs {
				if ev.Kind != screenpop.EventTick && ev.Kind != screenpop.EventResync && ev.At.After(last[epoch]) {
					last[epoch] = ev.At
				}
			}
		}
		if n == 0 {
			break
		}
	}
	var holes []oracletest.Window
	for _, k := range kills {
		from, ok := last[k.epoch]
		if !ok || from.After(k.at) {
			from = k.at
		}
		to := k.at
		if i, _ := slices.BinarySearchFunc(ended, k.at, time.Time.Compare); i < len(ended) {
			to = ended[i] // the first end Asterisk saw after the kill
		}
		holes = append(holes, oracletest.Window{From: from, To: to})
	}
	return holes
}

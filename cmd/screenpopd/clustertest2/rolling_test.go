package clustertest2_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
)

func TestARollingRestartKeepsEveryRecordExactAndNoPageOfflineLongerThanTwoSeconds(t *testing.T) {
	nats := natstest.Start(t, 3)
	s, simURL := oracletest.Sim(t)
	dsn := replicas.FreshSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	rs := replicas.Cluster(t, 3, simURL, nats.URL, dsn, 3)
	replicas.Holder(t, rs)
	ps := startPages(t, ctx, rs, replicas.AddOperators(t, dsn, operators))
	done := oracletest.RunLoad(t, ctx, s, oracletest.Load(calls, callRate, 24))

	type restart struct {
		name           string
		holder         bool
		pages          int
		stop, handover time.Duration
	}
	var restarts []restart
	for _, r := range rs {
		time.Sleep(6 * time.Second) // the upgrade's pace: one replica every 6 s or so
		_, epoch := replicas.Holder(t, rs)
		x := restart{name: r.Name, holder: r.Holds() != 0, pages: ps.on(r)}
		at := time.Now()
		r.Stop(syscall.SIGTERM)
		x.stop = time.Since(at)
		if x.holder {
			oracletest.WaitLong(t, "another replica takes the box", func() bool {
				for _, o := range rs {
					if o != r && o.Holds() > epoch {
						return true
					}
				}
				return false
			})
			x.handover = time.Since(at)
		}
		restarts = append(restarts, x)
		r.Start()
		r.Ready()
	}
	st := <-done
	if st.Completed != calls {
		t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
	}
	truth := oracletest.Truth(t, oracle, calls)
	// A rolling restart hands the box over without a gap. A holder whose
	// lease renewals time out (a machine loaded far past its cores) loses
	// the box instead: its successor resyncs, as after a crash, and a call
	// that began and ended in between cannot be known. Those are counted
	// apart, from the replicas' logs.
	blind, gapless := leaseLosses(t, rs)
	want, excused := wantPops(truth, oracle, blind)
	mayMiss := 0
	for _, c := range truth {
		if oracletest.InsideOne(c, blind) {
			mayMiss++
		}
	}
	lost := ps.lost(want)
	defer func() {
		if !t.Failed() {
			return
		}
		have := map[string]bool{}
		for _, c := range replicas.Stored(t, dsn) {
			have[c.ID] = true
		}
		for id, c := range truth {
			if !have[id] {
				t.Logf("not in the call log: %s %s started %s ended %s", id, c.Status, c.StartedAt.Format("15:04:05.000"), c.EndedAt.Format("15:04:05.000"))
			}
		}
	}()
	oracletest.WaitProgressLong(t, "every call is in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= calls-mayMiss })
	replicas.Settle(t, dsn) // a doubled row would come late
	records := replicas.Stored(t, dsn)
	v := oracletest.Judge(truth, records, blind)
	t.Logf("%d calls; rolling SIGTERM and restart of each replica:", calls)
	for _, x := range restarts {
		t.Logf("  %s (holder %v, %d pages on it): exited in %s; box handed over in %s", x.name, x.holder, x.pages,
			x.stop.Round(time.Millisecond), x.handover.Round(time.Millisecond))
	}
	v.Report(t)
	// A handover leaves no gap: Asterisk gives the application to the
	// new holder's connection, the old holder appends all it read and
	// its mark, and the new holder's events follow (natsbus/handover.go).
	// Every record is what a daemon that saw every event writes.
	t.Logf("handovers without a gap: %d; leases lost to the machine's load: %d", gapless, len(blind))
	switch {
	case len(blind) == 0 && v.Exact != calls:
		t.Errorf("%d of %d calls exact (%d flagged): a rolling restart must leave every record exact", v.Exact, calls, v.Flagged)
	case len(blind) > 0 && v.Exact+v.Flagged+v.Excused != calls:
		t.Errorf("exact %d + flagged %d + not seen %d != %d calls", v.Exact, v.Flagged, v.Excused, calls)
	}
	if len(v.Wrong)+len(v.Doubled)+len(v.Lost) > 0 {
		t.Errorf("%d wrong, %d doubled, %d lost", len(v.Wrong), len(v.Doubled), len(v.Lost))
	}
	if !slices.ContainsFunc(restarts, func(x restart) bool { return x.holder }) {
		t.Error("the holder was never restarted: the test tried nothing")
	}
	ps.check(t, want, excused, lost, 2*time.Second)
	for _, r := range rs {
		r.Stop(syscall.SIGTERM)
	}
}

// leaseTTL is the cluster's lease_ttl in these tests (rig_test.go).
const leaseTTL = 3 * time.Second

// leaseLosses reads the replicas' logs: each lease lost because its
// renewals did not land within the TTL is a blind window, from a TTL
// before the loss was logged (when the holder stopped reading, at the
// latest) to the next holder's connection to Asterisk; gapless counts
// the handovers that left no gap.
func leaseLosses(t *testing.T, rs []*replicas.Replica) (blind []oracletest.Window, gapless int) {
	t.Helper()
	type line struct {
		Time time.Time `json:"time"`
		Msg  string    `json:"msg"`
	}
	var lost, connected []time.Time
	for _, r := range rs {
		b, err := os.ReadFile(r.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			var x line
			if json.Unmarshal([]byte(l), &x) != nil {
				continue
			}
			switch x.Msg {
			case "lost a box's lease":
				lost = append(lost, x.Time)
			case "connected to ARI":
				connected = append(connected, x.Time)
			case "took the box over without a gap: the old holder's events end where ours begin":
				gapless++
			}
		}
	}
	slices.SortFunc(connected, time.Time.Compare)
	for _, at := range lost {
		w := oracletest.Window{From: at.Add(-leaseTTL), To: time.Now()}
		if i := slices.IndexFunc(connected, func(c time.Time) bool { return c.After(at) }); i >= 0 {
			w.To = connected[i]
		}
		blind = append(blind, w)
	}
	return blind, gapless
}

package clustertest4_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
	"github.com/screenpop/screenpop/natsbus/natstest"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// TestAHolderKilledLeavesOneUnseenPeriodInTheCallLog: the holder of a
// box is killed (kill -9) during the calls; the replica that takes the
// box over resyncs with Asterisk, and the time between the last event
// the cluster saw and that resync is an unseen period, kept once in
// PostgreSQL under the box's name however many replicas found it, and
// told by screenpopd calls.
func TestAHolderKilledLeavesOneUnseenPeriodInTheCallLog(t *testing.T) {
	nats := natstest.Start(t, 1)
	s, simURL := boxSim(t, "")
	dsn := replicas.FreshSchema(t)
	rs := cluster(t, 3, simURL, "", nats.URL, dsn)
	h, epoch := replicas.BoxHolder(t, rs, "", long)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.Oracle(t, ctx, simURL)
	done := make(chan arisim.Stats, 1)
	go func() {
		st, err := s.Run(ctx, boxLoad(60, 2, nil))
		if err != nil {
			t.Errorf("the calls: %v", err)
		}
		done <- st
	}()
	oracletest.WaitProgressWithin(t, long, "ten calls in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= 10 })
	if n := unseenRows(t, dsn); n != 0 {
		t.Fatalf("%d unseen periods before any fault, want none", n)
	}
	killed := time.Now()
	h.Stop(syscall.SIGKILL)
	var others []*replicas.Replica
	for _, r := range rs {
		if r != h {
			others = append(others, r)
		}
	}
	h2, epoch2 := replicas.BoxHolder(t, others, "", long)
	t.Logf("holder %s (epoch %d) killed; %s took the box (epoch %d) %s later", h.Name, epoch, h2.Name, epoch2, time.Since(killed).Round(time.Millisecond))
	st := <-done
	truth := oracletest.Truth(t, oracle, st.Completed)

	db, err := store.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var periods []screenpop.UnseenPeriod
	oracletest.WaitWithin(t, long, "the unseen period in the call log", func() bool {
		periods, err = db.UnseenPeriods(context.Background(), time.Time{}, time.Time{}, 0)
		return err == nil && len(periods) > 0
	})
	// A call that began and ended within the period (the takeover takes
	// seconds on a loaded machine) cannot be in the call log; every
	// other one must be, once.
	var blind []oracletest.Window
	for _, p := range periods {
		blind = append(blind, oracletest.Window{From: p.From, To: p.To})
	}
	want := oracletest.Seeable(truth, blind)
	oracletest.ProgressLong(t, "every call the cluster could see in the call log", func() int { return replicas.Rows(dsn) }, func() bool { return replicas.Rows(dsn) >= want })
	replicas.Settle(t, dsn)
	t.Logf("calls: %d completed, %d outside the unseen period, %d rows; unseen periods: %+v", st.Completed, want, replicas.Rows(dsn), periods)
	oracletest.Judge(truth, replicas.Stored(t, dsn), blind).Report(t)
	if len(periods) != 1 {
		t.Fatalf("unseen periods: %d, want the one of the kill", len(periods))
	}
	p := periods[0]
	if p.PBX != "pbx1" || p.Reason != screenpop.UnseenARIDrop || !p.To.After(p.From) || p.To.Before(killed) || p.From.After(killed) || p.Duration() > time.Minute {
		t.Errorf("the unseen period: %+v; want box pbx1, an ARI drop from before the kill (%s) to after it", p, killed.UTC())
	}

	// The admin page on any replica lists it.
	token := replicas.AdminToken(t, dsn)
	for _, r := range others {
		as, err := r.AdminStatus(token)
		if err != nil {
			t.Fatalf("replica %s's admin status: %v", r.Name, err)
		}
		if len(as.Unseen) != 1 || as.Unseen[0].PBX != "pbx1" || as.Unseen[0].Reason != string(screenpop.UnseenARIDrop) {
			t.Errorf("replica %s's admin page lists the unseen periods %+v, want the one of the kill", r.Name, as.Unseen)
		}
	}

	// An analyst listing the calls is told of it.
	config := filepath.Join(t.TempDir(), "screenpop.yaml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(replicas.Daemon(), "calls", "--config", config, "--store-dsn", dsn, "--limit", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("screenpopd calls: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	warned := 0
	for _, l := range lines {
		if strings.Contains(l, "the call log did not see pbx pbx1 from ") && strings.Contains(l, "(ARI drop)") {
			warned++
		}
	}
	t.Logf("screenpopd calls says: %q", lines[len(lines)-1])
	if warned != 1 {
		t.Errorf("screenpopd calls told of the period %d times, want once:\n%s", warned, out)
	}
}

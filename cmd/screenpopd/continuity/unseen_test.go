package continuity_test

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
)

// TestRestartsLeaveUnseenPeriodsInTheCallLog kills the daemon (a real
// child process) and starts it again, then stops it cleanly and starts it
// again: the call log keeps a period for each time the daemon was not
// watching, from its last saved state to the resync after the start, and
// `screenpopd calls` over that range says so.
func TestRestartsLeaveUnseenPeriodsInTheCallLog(t *testing.T) {
	_, url := oracletest.Sim(t)
	d := newChild(t, url)
	ready := d.start()
	// No call comes: Asterisk's pongs alone tell the daemon it is still
	// seeing everything, so the period after a kill begins seconds before
	// it, not at the daemon's start.
	oracletest.WaitLong(t, "the daemon has saved that it heard Asterisk after it was ready", func() bool { return d.savedAt().After(ready) })

	killed := time.Now()
	d.Stop(syscall.SIGKILL)
	killedFrom := d.savedAt()
	back := d.start()
	oracletest.WaitLong(t, "the restarted daemon counts the unseen period", func() bool { return d.Metric("screenpop_unseen_periods_total") == 1 })

	stopped := time.Now()
	d.Stop(syscall.SIGTERM)
	stoppedFrom := d.savedAt()
	back2 := d.start()
	oracletest.WaitLong(t, "the restarted daemon counts the unseen period", func() bool { return d.Metric("screenpop_unseen_periods_total") == 1 })
	d.Stop(syscall.SIGTERM)

	from := killedFrom.Add(-time.Minute).Format(time.RFC3339)
	out, err := exec.Command(replicas.Daemon(), "calls", "--config", d.Args[2], "--store-data-dir", d.DataDir, "--from", from,
		"--to", time.Now().Add(time.Minute).Format(time.RFC3339)).CombinedOutput()
	if err != nil {
		t.Fatalf("screenpopd calls: %v\n%s", err, out)
	}
	warning := regexp.MustCompile(`^the call log did not see Asterisk from (.+) to (.+) \((.+)\): calls that began and ended then are not in it$`)
	type period struct {
		from, to time.Time
		reason   string
	}
	var got []period
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		m := warning.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f, err1 := time.ParseInLocation(time.DateTime, m[1], time.Local)
		to, err2 := time.ParseInLocation(time.DateTime, m[2], time.Local)
		if err1 != nil || err2 != nil {
			t.Fatalf("times in %q: %v %v", sc.Text(), err1, err2)
		}
		got = append(got, period{f, to, m[3]})
	}
	if len(got) != 2 {
		t.Fatalf("screenpopd calls printed %d unseen periods, want 2 (the kill, the stop):\n%s", len(got), out)
	}
	second := func(at time.Time) time.Time { return at.Truncate(time.Second) }
	for i, c := range []struct {
		reason           string
		from, down, back time.Time
	}{
		{"daemon killed or crashed", killedFrom, killed, back},
		{"daemon stopped", stoppedFrom, stopped, back2},
	} {
		p := got[i]
		if p.reason != c.reason || !p.from.Equal(second(c.from.Local())) {
			t.Errorf("period %d: %s from %v, want %s from the last saved state %v", i, p.reason, p.from, c.reason, second(c.from.Local()))
		}
		if p.to.Before(second(c.down)) || p.to.After(c.back) {
			t.Errorf("period %d (%s) ends %v, want between the stop %v and the daemon back %v", i, p.reason, p.to, c.down, c.back)
		}
	}
	t.Logf("last state saved %s before the kill, %s before the stop; screenpopd calls said:\n%s",
		killed.Sub(killedFrom).Round(time.Millisecond), stopped.Sub(stoppedFrom).Round(time.Millisecond), out)
}

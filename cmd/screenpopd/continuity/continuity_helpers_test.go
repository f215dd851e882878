package continuity_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// What the continuity tests share: the simulator, an oracle (call
// tracking on an unbroken connection to it, which sees every event), and
// the comparison of a daemon's records with the oracle's.

const simPassword = "pw"

// continuitySim is a simulator in real time (Speed 1: the daemon's clock
// and Asterisk's agree, as on a PBX) with six operators and the
// recommended channelvars.
func continuitySim(t *testing.T) (*arisim.Sim, string) {
	t.Helper()
	s := arisim.New(arisim.Config{Username: "screenpop", Password: simPassword, ChannelVars: true, Speed: 1,
		Operators: []string{"101", "102", "103", "104", "105", "106"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// continuityLoad is n generated calls at rate a second, ringing 1-6 s
// and talking 2-15 s.
func continuityLoad(n int, rate float64, seed uint64) arisim.Load {
	return arisim.Load{Rate: rate, Calls: n, Seed: seed, RingFor: [2]time.Duration{time.Second, 6 * time.Second},
		TalkFor: [2]time.Duration{2 * time.Second, 15 * time.Second}}
}

// recordLog keeps the records call tracking hands the call log.
type recordLog struct {
	mu    sync.Mutex
	calls []screenpop.Call
}

func (l *recordLog) Record(c screenpop.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *recordLog) records() []screenpop.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// ringLog keeps which operators' phones call tracking told to pop, by call.
type ringLog struct {
	mu       sync.Mutex
	rung     map[string]map[string]bool
	answered map[string]map[string]bool // by call, who call tracking said answered
}

func (r *ringLog) Notice(n screenpop.Notice) {
	var m map[string]map[string]bool
	switch n.Kind {
	case screenpop.NoticeRinging:
		m = r.rung
	case screenpop.NoticeAnswered:
		m = r.answered
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m[n.CallID] == nil {
		m[n.CallID] = map[string]bool{}
	}
	m[n.CallID][n.Operator] = true
}

func (r *ringLog) popped(callID, op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rung[callID][op]
}

// answeredBy reports whether call tracking said op answered the call: the
// pop takes the card to them (Popper's TakeOver) if they had none.
func (r *ringLog) answeredBy(callID, op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered[callID][op]
}

// tracked is the daemon's ARI side and call tracking as serve runs them:
// the real client, intake and tracker (its Run, with its clock and
// linger), writing records to log and pops' notices to rings.
type tracked struct {
	client  *ari.Client
	tracker *screenpop.Tracker
	metrics *ari.Metrics
	log     *recordLog
	rings   *ringLog

	mu      sync.Mutex
	resyncs []time.Time // when each resync reached call tracking
	// lastSeen is, for each resync, the latest time stamp of the events
	// call tracking had before it: the daemon saw nothing that happened
	// after it until that resync.
	lastSeen []time.Time
	// ringing is, for each resync, the operators' phones its channel list
	// shows ringing for a call whose caller is still there: each of them
	// must get the pop.
	ringing [][]ringingPhone
}

// ringingPhone is an operator's phone ringing for a call.
type ringingPhone struct{ call, operator string }

// ringingIn is the operators' phones a resync's channel list shows
// ringing (Asterisk's Ringing state) for a call whose first channel is
// still there.
func ringingIn(ops screenpop.EndpointPatterns, chans []screenpop.Channel) []ringingPhone {
	present := map[string]bool{}
	for _, ch := range chans {
		present[ch.ID] = true
	}
	var ringing []ringingPhone
	for _, ch := range chans {
		if op := ops.Operator(ch.Name); op != "" && ch.State == "Ringing" && ch.LinkedID != ch.ID && present[ch.LinkedID] {
			ringing = append(ringing, ringingPhone{ch.LinkedID, op})
		}
	}
	return ringing
}

// runTracked runs a client and call tracking until ctx is done.
func runTracked(t *testing.T, ctx context.Context, cfg ari.Config) *tracked {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	d := &tracked{metrics: ari.NewMetrics(nil), log: &recordLog{}, rings: &ringLog{rung: map[string]map[string]bool{}, answered: map[string]map[string]bool{}}}
	raw, events := make(chan screenpop.Event, 1<<14), make(chan screenpop.Event, 1<<14) // as deep as the daemon's queue
	in := ari.NewIntake(ari.NewDecoder("FROM_DID"), raw, d.metrics, quiet)
	c, err := ari.NewClient(cfg, in, d.metrics, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones"})
	if err != nil {
		t.Fatal(err)
	}
	d.client = c
	d.tracker = screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}, d.log, d.rings)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() {
		defer wg.Done()
		defer close(events)
		var latest time.Time
		for {
			select {
			case ev := <-raw:
				if ev.Kind == screenpop.EventResync {
					d.mu.Lock()
					d.resyncs = append(d.resyncs, ev.At)
					d.lastSeen = append(d.lastSeen, latest)
					d.ringing = append(d.ringing, ringingIn(ops, ev.Channels))
					d.mu.Unlock()
				} else if ev.At.After(latest) {
					latest = ev.At
				}
				events <- ev
			case <-ctx.Done():
				return
			}
		}
	}()
	// Records are read once every call is over; what the tracker records
	// when its events end comes after that.
	go func() { defer wg.Done(); _ = d.tracker.Run(context.Background(), events) }()
	t.Cleanup(wg.Wait)
	return d
}

func (d *tracked) open(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.tracker.Snapshot(ctx)
	if err != nil {
		t.Fatalf("tracker snapshot: %v", err)
	}
	return s.OpenCount
}

func (d *tracked) resyncTimes() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.resyncs)
}

// blindSince is when the daemon's view stopped before resync n (of
// resyncTimes) began it again: the time stamp of the latest event it had
// by then, or cut if that was later. Events Asterisk sent before a drop
// but still on their way to the daemon (in the proxy, in a socket's
// buffers, more of them on a loaded machine) die with the connection, so
// the daemon can be blind from before the moment the test cut it. What
// the daemon itself lost (an event dropped by the intake) does not move
// this time: its calls are not excused.
func (d *tracked) blindSince(n int, cut time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last := d.lastSeen[n]; !last.IsZero() && last.Before(cut) {
		return last
	}
	return cut
}

// ringingAt is what ringingIn found in each resync's channel list.
func (d *tracked) ringingAt() [][]ringingPhone {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ringing)
}

func (d *tracked) reconnects() int { return int(testutil.ToFloat64(d.metrics.Reconnects)) }

// oracleRecords waits until the oracle has recorded n calls and is
// following none, and returns its records by call ID.
func oracleRecords(t *testing.T, oracle *tracked, n int) map[string]screenpop.Call {
	t.Helper()
	waitProgressLong(t, "the oracle has recorded every call", func() int { return len(oracle.log.records()) },
		func() bool { return len(oracle.log.records()) >= n && oracle.open(t) == 0 })
	if got := oracle.reconnects(); got != 0 {
		t.Fatalf("the oracle's own connection broke %d times: it is no oracle", got)
	}
	truth := map[string]screenpop.Call{}
	for _, c := range oracle.log.records() {
		if _, dup := truth[c.ID]; dup {
			t.Fatalf("the oracle recorded call %s twice", c.ID)
		}
		truth[c.ID] = c
	}
	if len(truth) != n {
		t.Fatalf("the oracle recorded %d calls, want %d", len(truth), n)
	}
	return truth
}

// window is a time the daemon could not see Asterisk: a call that began
// and ended inside one cannot be known.
type window struct{ from, to time.Time }

func insideOne(c screenpop.Call, blind []window) bool {
	for _, w := range blind {
		if !c.StartedAt.Before(w.from) && !c.EndedAt.After(w.to) {
			return true
		}
	}
	return false
}

// answeredUnseen reports whether the call was answered and ended inside
// one blind window: the daemon cannot know it was answered (the record
// must say so, GapAnswer, which Unflagged checks).
func answeredUnseen(c screenpop.Call, blind []window) bool {
	if c.AnsweredAt == nil {
		return false
	}
	for _, w := range blind {
		if !c.AnsweredAt.Before(w.from) && !c.EndedAt.After(w.to) {
			return true
		}
	}
	return false
}

// spans reports whether the call was in progress at one of the times.
func spans(c screenpop.Call, at []time.Time) bool {
	for _, a := range at {
		if c.StartedAt.Before(a) && c.EndedAt.After(a) {
			return true
		}
	}
	return false
}

// verdict is a daemon's records against the oracle's.
type verdict struct {
	exact, flagged, excused                  int
	gaps                                     map[screenpop.Gap]int
	doubled, phantom, lost, wrong, notAnswer []string
}

// judge compares records (every one the daemon handed over, in order)
// with the truth; calls that began and ended inside one blind window may
// be missing.
func judge(truth map[string]screenpop.Call, records []screenpop.Call, blind []window) verdict {
	v := verdict{gaps: map[screenpop.Gap]int{}}
	got := map[string]screenpop.Call{}
	for _, c := range records {
		if _, dup := got[c.ID]; dup {
			v.doubled = append(v.doubled, c.ID)
		}
		got[c.ID] = c
		if _, ok := truth[c.ID]; !ok {
			v.phantom = append(v.phantom, c.ID)
		}
	}
	for id, want := range truth {
		c, ok := got[id]
		switch {
		case !ok && insideOne(want, blind):
			v.excused++
			continue
		case !ok:
			v.lost = append(v.lost, fmt.Sprintf("%s (%s %s-%s)", id, want.Status, want.StartedAt.Format("15:04:05.000"), want.EndedAt.Format("15:04:05.000")))
			continue
		}
		if want.Status == screenpop.StatusAnswered && c.Status != screenpop.StatusAnswered && !answeredUnseen(want, blind) {
			v.notAnswer = append(v.notAnswer, fmt.Sprintf("%s answered by %s, stored %s (gaps %v)", id, *want.AnsweredBy, c.Status, c.Gaps))
		}
		if bad := c.Unflagged(want); len(bad) > 0 {
			v.wrong = append(v.wrong, fmt.Sprintf("%s: %v differ, gaps %v", id, bad, c.Gaps))
			continue
		}
		if len(c.Gaps) == 0 {
			v.exact++
			continue
		}
		v.flagged++
		for _, g := range c.Gaps {
			v.gaps[g]++
		}
	}
	return v
}

func (v verdict) report(t *testing.T) {
	t.Helper()
	t.Logf("records: %d exact, %d flagged (gaps: start %d, offers %d, answer %d, end %d), %d wrong and unflagged; %d doubled, %d phantom, %d lost, %d not recorded because they began and ended while the daemon could not see them; %d answered calls stored otherwise",
		v.exact, v.flagged, v.gaps[screenpop.GapStart], v.gaps[screenpop.GapOffers], v.gaps[screenpop.GapAnswer], v.gaps[screenpop.GapEnd],
		len(v.wrong), len(v.doubled), len(v.phantom), len(v.lost), v.excused, len(v.notAnswer))
	for _, list := range []struct {
		what string
		ids  []string
	}{{"wrong and unflagged", v.wrong}, {"doubled", v.doubled}, {"phantom", v.phantom}, {"lost", v.lost}, {"answered but stored otherwise", v.notAnswer}} {
		failList(t, list.what, list.ids)
	}
}

func failList(t *testing.T, what string, items []string) {
	t.Helper()
	if len(items) > 0 {
		sort.Strings(items)
		t.Errorf("%d %s: %s", len(items), what, strings.Join(items[:min(len(items), 10)], "; "))
	}
}

// waitLong waits for what a loaded machine may take seconds to do: it
// gives up after 30 s.
func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitProgressLong waits for cond as long as progress (a count that grows
// while the work goes on) has grown within the last 30 s.
func waitProgressLong(t testing.TB, what string, progress func() int, cond func() bool) {
	t.Helper()
	last, since := progress(), time.Now()
	for !cond() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > 30*time.Second {
			t.Fatalf("gave up waiting until %s: no progress for 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

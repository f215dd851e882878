package oracletest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// RecordLog keeps the records call tracking hands the call log.
type RecordLog struct {
	mu    sync.Mutex
	calls []screenpop.Call
}

func (l *RecordLog) Record(c screenpop.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// Records is every record so far, in the order call tracking handed them.
func (l *RecordLog) Records() []screenpop.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// RingLog keeps which operators' phones call tracking told to pop, by call.
type RingLog struct {
	mu       sync.Mutex
	rung     map[string]map[string]bool
	answered map[string]map[string]bool // by call, who call tracking said answered
}

func (r *RingLog) Notice(n screenpop.Notice) {
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

// Popped reports whether call tracking told op's phone to pop for the call.
func (r *RingLog) Popped(callID, op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rung[callID][op]
}

// AnsweredBy reports whether call tracking said op answered the call: the
// pop takes the card to them (Popper's TakeOver) if they had none.
func (r *RingLog) AnsweredBy(callID, op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered[callID][op]
}

// Tracked is the daemon's ARI side and call tracking as serve runs them:
// the real client, intake and tracker (its Run, with its clock and
// linger), writing records to Log and pops' notices to Rings.
type Tracked struct {
	Client  *ari.Client
	Tracker *screenpop.Tracker
	Metrics *ari.Metrics
	Log     *RecordLog
	Rings   *RingLog

	mu      sync.Mutex
	resyncs []time.Time // when each resync reached call tracking
	// lastSeen is, for each resync, the latest time stamp of the events
	// call tracking had before it: the daemon saw nothing that happened
	// after it until that resync.
	lastSeen []time.Time
	// ringing is, for each resync, the operators' phones its channel list
	// shows ringing for a call whose caller is still there: each of them
	// must get the pop.
	ringing [][]RingingPhone
}

// RingingPhone is an operator's phone ringing for a call.
type RingingPhone struct{ Call, Operator string }

// RingingIn is the operators' phones a resync's channel list shows
// ringing (Asterisk's Ringing state) for a call whose first channel is
// still there.
func RingingIn(ops screenpop.EndpointPatterns, chans []screenpop.Channel) []RingingPhone {
	present := map[string]bool{}
	for _, ch := range chans {
		present[ch.ID] = true
	}
	var ringing []RingingPhone
	for _, ch := range chans {
		if op := ops.Operator(ch.Name); op != "" && ch.State == "Ringing" && ch.LinkedID != ch.ID && present[ch.LinkedID] {
			ringing = append(ringing, RingingPhone{ch.LinkedID, op})
		}
	}
	return ringing
}

// RunTracked runs a client and call tracking until ctx is done. Run with
// an App of its own and SubscribeAll, it is the oracle.
func RunTracked(t *testing.T, ctx context.Context, cfg ari.Config) *Tracked {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	d := &Tracked{Metrics: ari.NewMetrics(nil), Log: &RecordLog{}, Rings: &RingLog{rung: map[string]map[string]bool{}, answered: map[string]map[string]bool{}}}
	raw, events := make(chan screenpop.Event, 1<<14), make(chan screenpop.Event, 1<<14) // as deep as the daemon's queue
	in := ari.NewIntake(ari.NewDecoder("FROM_DID"), raw, d.Metrics, quiet)
	c, err := ari.NewClient(cfg, in, d.Metrics, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones"})
	if err != nil {
		t.Fatal(err)
	}
	d.Client = c
	d.Tracker = screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}, d.Log, d.Rings)
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
					d.ringing = append(d.ringing, RingingIn(ops, ev.Channels))
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
	go func() { defer wg.Done(); _ = d.Tracker.Run(context.Background(), events) }()
	t.Cleanup(wg.Wait)
	return d
}

// Open is how many calls call tracking follows now.
func (d *Tracked) Open(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.Tracker.Snapshot(ctx)
	if err != nil {
		t.Fatalf("tracker snapshot: %v", err)
	}
	return s.OpenCount
}

// ResyncTimes is when each resync reached call tracking.
func (d *Tracked) ResyncTimes() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.resyncs)
}

// Resynced reports whether the client is connected and call tracking has
// had the resync of that connection. The client is ready once it has
// handed the resync on, which may be before RunTracked's goroutine has
// taken it: a test that counted ResyncTimes on Ready alone could count
// one short, and take this connection's resync, arriving late, for the
// next one's. For a client that resyncs on each connection (the events
// websocket): the one after a reconnect is counted in Reconnects before
// the client is ready.
func (d *Tracked) Resynced() bool {
	if !d.Client.Ready() {
		return false
	}
	connections := d.Reconnects() + 1
	return len(d.ResyncTimes()) >= connections
}

// BlindSince is when the daemon's view stopped before resync n (of
// ResyncTimes) began it again: the time stamp of the latest event it had
// by then, or cut if that was later. Events Asterisk sent before a drop
// but still on their way to the daemon (in the proxy, in a socket's
// buffers, more of them on a loaded machine) die with the connection, so
// the daemon can be blind from before the moment the test cut it. What
// the daemon itself lost (an event dropped by the intake) does not move
// this time: its calls are not excused.
func (d *Tracked) BlindSince(n int, cut time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last := d.lastSeen[n]; !last.IsZero() && last.Before(cut) {
		return last
	}
	return cut
}

// RingingAt is what RingingIn found in each resync's channel list.
func (d *Tracked) RingingAt() [][]RingingPhone {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ringing)
}

// Reconnects is how many times the client connected again.
func (d *Tracked) Reconnects() int { return int(testutil.ToFloat64(d.Metrics.Reconnects)) }

// Truth waits until the oracle has recorded n calls and is following
// none, and returns its records by call ID.
func Truth(t *testing.T, oracle *Tracked, n int) map[string]screenpop.Call {
	t.Helper()
	WaitProgressLong(t, "the oracle has recorded every call", func() int { return len(oracle.Log.Records()) },
		func() bool { return len(oracle.Log.Records()) >= n && oracle.Open(t) == 0 })
	if got := oracle.Reconnects(); got != 0 {
		t.Fatalf("the oracle's own connection broke %d times: it is no oracle", got)
	}
	truth := map[string]screenpop.Call{}
	for _, c := range oracle.Log.Records() {
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

// RungFor reports whether call tracking told op's phone to pop for any
// call.
func (r *RingLog) RungFor(op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ops := range r.rung {
		if ops[op] {
			return true
		}
	}
	return false
}

package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

const simPassword = "pw"

// newSim is a simulator in real time with six operators, listening for
// inbound connections (the oracle's).
func newSim(t *testing.T, eid string) (*arisim.Sim, string) {
	t.Helper()
	s := arisim.New(arisim.Config{Username: "screenpop", Password: simPassword, ChannelVars: true, Speed: 1, EntityID: eid,
		Operators: []string{"101", "102", "103", "104", "105", "106"}}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// outboundServer serves an OutboundServer at /ari/events and returns the
// ws:// address Asterisk is to dial.
func outboundServer(t *testing.T) (*OutboundServer, string) {
	t.Helper()
	srv := NewOutboundServer(nil)
	mux := http.NewServeMux()
	mux.Handle("/ari/events", srv)
	// As the daemon's HTTP server listens: Asterisk's events are handed
	// on a read at a time.
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener = HookListener(hs.Listener)
	hs.Start()
	t.Cleanup(hs.Close)
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ari/events"
}

// outboundConfig is a box in outbound mode with waits short enough for
// tests.
func outboundConfig(pbx, user string) Config {
	return Config{PBX: pbx, Username: user, Password: simPassword, App: "screenpop", SubscribeAll: true, Outbound: true,
		PingInterval: 5 * time.Second}
}

func TestAsteriskConnectsOutboundAndTheClientResyncsOverTheWebsocket(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	o, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The first connection: Asterisk's ApplicationRegistered (queued at
	// registration) comes first, then the resync built over the socket.
	ev := h.nextResync(t)
	if len(ev.Channels) != 0 {
		t.Errorf("resync of an idle PBX lists %d channels", len(ev.Channels))
	}
	waitFor(t, "the client is ready", h.c.Ready)
	if !o.Connected() {
		t.Fatal("the simulator says its outbound websocket is down")
	}
	// REST over the websocket, with no HTTP address at all.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eid, err := h.c.EntityID(ctx)
	if err != nil || eid != "02:fc:00:00:00:01" {
		t.Fatalf("EntityID over the websocket = %q, %v", eid, err)
	}
	if err := h.c.SetVariable(ctx, "no-such-channel", "X", "1"); err == nil {
		t.Fatal("setting a variable on a channel that does not exist worked")
	} else if se := (*StatusError)(nil); !errors.As(err, &se) || se.Code != http.StatusNotFound || se.Message != "Channel not found" {
		t.Fatalf("SetVariable on a missing channel: %v, want Asterisk's 404 Channel not found", err)
	}
	if _, err := s.Place(ctx, arisim.Call{Scenario: arisim.Answered, Caller: "+74951234567", DID: "74951112233", Operators: []string{"101"}, RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for !seen["ChannelDestroyed"] || !seen["Dial"] {
		seen[h.next(t).Type] = true
	}
}

// Asterisk's outbound websocket hands on together the events of one read,
// as the events websocket does, and before it waits for more: the last
// events of a call, with nothing after them, reach call tracking though no
// pong comes to flush them (the ping interval is an hour).
func TestOutboundEventsGoOnBeforeTheReaderWaits(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	cfg := outboundConfig("pbx1", "screenpop")
	cfg.PingInterval = time.Hour
	h := startClient(t, cfg)
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	h.nextResync(t)
	waitFor(t, "the client is ready", h.c.Ready)
	if _, err := s.Place(context.Background(), arisim.Call{Scenario: arisim.Answered, Caller: "+74951234567", DID: "74951112233", Operators: []string{"101"},
		RingFor: 100 * time.Millisecond, TalkFor: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// The call is over: Asterisk wrote every event of it.
	created, destroyed := 0, 0
	for created == 0 || destroyed < created {
		switch h.next(t).Type {
		case "ChannelCreated":
			created++
		case "ChannelDestroyed":
			destroyed++
		}
	}
}

func TestBadCredentialsOnTheOutboundWebsocketAreRefusedWithAClearError(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, password, want string
	}{
		{"a wrong password", "screenpop", "nope", `wrong password for ARI user "screenpop" (box "pbx1")`},
		{"a user that is no box's", "mallory", simPassword, `ARI user "mallory" is no box's`},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			before := srv.Refused()
			o, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: tc.user, Password: tc.password, Apps: []string{"app-" + tc.user + tc.password},
				ReconnectInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the connection is refused", func() bool { return o.LastError() != nil && srv.Refused() > before })
			err = o.LastError()
			if !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Asterisk was told %q, want a 401 saying %q", err, tc.want)
			}
			if o.Connects() != 0 || h.c.Ready() {
				t.Fatal("a refused Asterisk got connected")
			}
		})
	}
	if !strings.Contains(h.logs.String(), "") || len(h.logs.loud(t)) != 0 {
		// The box's own log is quiet: the refusals are the server's.
		t.Logf("client log: %s", h.logs)
	}
}

func TestOutboundWebsocketOfAnotherProtocolIsRefused(t *testing.T) {
	s, _ := newSim(t, "")
	srv, uri := outboundServer(t)
	h := startClient(t, outboundConfig("pbx1", "screenpop"))
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	o, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, Protocols: "media", ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection is refused", func() bool { return o.LastError() != nil })
	if err := o.LastError(); !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), `protocols = ari`) {
		t.Fatalf("Asterisk was told %q", err)
	}
}

func TestABoxIsRefusedWhenItsEntityIDIsAnotherBoxsOrChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boxes.json")
	ids, err := OpenIdentities(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, url1 := newSim(t, "02:00:00:00:00:01")
	_, url2 := newSim(t, "02:00:00:00:00:01") // the same entity ID: a copied VM
	cfg := func(pbx, url string) Config {
		return Config{PBX: pbx, URL: url, Username: "screenpop", Password: simPassword, App: "screenpop", SubscribeAll: true,
			Identities: ids, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}
	}
	h1 := startClient(t, cfg("pbx1", url1))
	waitFor(t, "pbx1 is connected", h1.c.Ready)
	h2 := startClient(t, cfg("pbx2", url2))
	waitFor(t, "pbx2 is refused", func() bool { return strings.Contains(h2.logs.String(), "box identity refused") })
	if h2.c.Ready() {
		t.Fatal("a second box with pbx1's entity ID got connected")
	}
	want := fmt.Sprintf(`box "pbx2" at %s has entity ID 02:00:00:00:00:01, which box "pbx1" already has`, url2)
	if !strings.Contains(errsLogged(t, h2), want) {
		t.Fatalf("the log does not say %q:\n%s", want, h2.logs)
	}

	// The next run: pbx1 is now another Asterisk.
	ids2, err := OpenIdentities(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids2.EntityID("pbx1"); got != "02:00:00:00:00:01" {
		t.Fatalf("pbx1's entity ID remembered as %q", got)
	}
	_, url3 := newSim(t, "02:00:00:00:00:99")
	c3 := cfg("pbx1", url3)
	c3.Identities = ids2
	h3 := startClient(t, c3)
	waitFor(t, "the changed pbx1 is refused", func() bool { return strings.Contains(h3.logs.String(), "box identity refused") })
	want = fmt.Sprintf(`box "pbx1" at %s now has entity ID 02:00:00:00:00:99, but had 02:00:00:00:00:01 when last seen`, url3)
	if !strings.Contains(errsLogged(t, h3), want) || h3.c.Ready() {
		t.Fatalf("the log does not say %q (ready %t):\n%s", want, h3.c.Ready(), h3.logs)
	}
}

// errsLogged is every err the client logged, one a line.
func errsLogged(t *testing.T, h *harness) string {
	var errs []string
	for _, r := range h.logs.records(t) {
		if e, ok := r["err"].(string); ok {
			errs = append(errs, e)
		}
	}
	return strings.Join(errs, "\n")
}

func TestOutboundEventsOfAnotherAsteriskAreRefused(t *testing.T) {
	ids, err := OpenIdentities("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ids.Bind("pbx1", "somewhere", "02:00:00:00:00:01"); err != nil {
		t.Fatal(err)
	}
	s, _ := newSim(t, "02:00:00:00:00:02")
	srv, uri := outboundServer(t)
	cfg := outboundConfig("pbx1", "screenpop")
	cfg.Identities = ids
	h := startClient(t, cfg)
	if err := srv.Add(h.c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the box is refused", func() bool {
		return strings.Contains(errsLogged(t, h), `now has entity ID 02:00:00:00:00:02, but had 02:00:00:00:00:01`)
	})
	if h.c.Ready() {
		t.Fatal("another Asterisk's outbound websocket was taken for pbx1")
	}
	select {
	case ev := <-h.out:
		t.Fatalf("call tracking got %s from the refused Asterisk", ev.Type)
	default:
	}
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

// tracked is a client and call tracking as the daemon runs them.
type tracked struct {
	client  *Client
	tracker *screenpop.Tracker
	metrics *Metrics
	log     *recordLog
	logs    *logBuffer // warnings and errors
	resyncs func() int
}

func runTracked(t *testing.T, ctx context.Context, cfg Config) *tracked {
	t.Helper()
	d := &tracked{metrics: NewMetrics(nil), log: &recordLog{}, logs: &logBuffer{}}
	quiet := slog.New(slog.NewJSONHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	raw, events := make(chan screenpop.Event, 1<<14), make(chan screenpop.Event, 1<<14)
	c, err := NewClient(cfg, NewIntake(NewDecoder("FROM_DID"), raw, d.metrics, quiet), d.metrics, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones"})
	if err != nil {
		t.Fatal(err)
	}
	d.client = c
	d.tracker = screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}, d.log, nil)
	var (
		mu      sync.Mutex
		resyncs int
		wg      sync.WaitGroup
	)
	d.resyncs = func() int {
		mu.Lock()
		defer mu.Unlock()
		return resyncs
	}
	wg.Add(3)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() {
		defer wg.Done()
		defer close(events)
		for {
			select {
			case ev := <-raw:
				if ev.Kind == screenpop.EventResync {
					mu.Lock()
					resyncs++
					mu.Unlock()
				}
				events <- ev
			case <-ctx.Done():
				return
			}
		}
	}()
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

// TestEventsQueuedByAsteriskWhileDisconnectedKeepEveryRecordExact runs
// calls while the simulated Asterisk's outbound websocket is dropped again
// and again, queueing events meanwhile, and compares every record of the
// daemon's call tracking with an oracle's (call tracking on an unbroken
// inbound connection to the same Asterisk).
func TestEventsQueuedByAsteriskWhileDisconnectedKeepEveryRecordExact(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 60 calls in real time")
	}
	dropAndCompare(t, 60, true)
}

// TestAnAbruptDropIsResyncedWithNothingLostOrDoubled breaks the outbound
// websocket with no close: events may have died in it, so each new
// connection resyncs, and a record may then say what it does not know,
// but none is lost or doubled.
func TestAnAbruptDropIsResyncedWithNothingLostOrDoubled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 40 calls in real time")
	}
	calls := 40
	if s := os.Getenv("SCREENPOP_OUTBOUND_DROP_CALLS"); s != "" {
		calls, _ = strconv.Atoi(s) // more calls and drops, to hunt rare orders
	}
	dropAndCompare(t, calls, false)
}

// dropAndCompare runs calls while the outbound websocket is dropped again
// and again (with Asterisk's close when clean, else none) and compares
// the records with an oracle's.
func dropAndCompare(t *testing.T, calls int, clean bool) {
	s, url := newSim(t, "")
	srv, uri := outboundServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := runTracked(t, ctx, Config{URL: url, Username: "screenpop", Password: simPassword, App: "oracle", SubscribeAll: true})
	dut := runTracked(t, ctx, outboundConfig("pbx1", "screenpop"))
	if err := srv.Add(dut.client); err != nil {
		t.Fatal(err)
	}
	o, err := s.Outbound(arisim.OutboundConfig{URI: uri, Username: "screenpop", Password: simPassword, SubscribeAll: true, ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both are connected", func() bool { return oracle.client.Ready() && dut.client.Ready() })

	loadDone := make(chan arisim.Stats, 1)
	var finished atomic.Bool
	go func() {
		st, err := s.Run(ctx, arisim.Load{Rate: 6, Calls: calls, Seed: 14, RingFor: [2]time.Duration{time.Second, 3 * time.Second},
			TalkFor: [2]time.Duration{time.Second, 4 * time.Second}})
		if err != nil {
			t.Errorf("load: %v", err)
		}
		finished.Store(true)
		loadDone <- st
	}()
	drops, queuedBefore := 0, 0
	for running := true; running; {
		select {
		case st := <-loadDone:
			if st.Completed != calls {
				t.Fatalf("the simulator completed %d calls of %d", st.Completed, calls)
			}
			running = false
			continue
		default:
		}
		waitFor(t, "Asterisk reconnected and the daemon is live on that connection", func() bool {
			return o.Connected() && o.Queued() == 0 && dut.client.Ready() && int(testutil.ToFloat64(dut.metrics.Reconnects)) == o.Connects()-1
		})
		// Up for a few events, then down until 40 more wait in Asterisk.
		n := s.Events()
		waitFor(t, "events flow", func() bool { return s.Events() >= n+20 || finished.Load() })
		o.Disconnect(clean)
		waitFor(t, "events queue in Asterisk", func() bool { return o.QueuedTotal() >= queuedBefore+40 || finished.Load() })
		queuedBefore = o.QueuedTotal()
		o.Reconnect()
		drops++
	}
	waitFor(t, "every call is recorded by both", func() bool {
		return len(oracle.log.records()) >= calls && len(dut.log.records()) >= calls && oracle.open(t) == 0 && dut.open(t) == 0
	})
	t.Logf("%d calls, %d drops, %d events queued by Asterisk while disconnected, %d lost in dead sockets, %d connections, %d resyncs",
		calls, drops, o.QueuedTotal(), o.Lost(), o.Connects(), dut.resyncs())
	if drops < 5 {
		t.Fatalf("only %d drops happened during the calls", drops)
	}
	if got := dut.resyncs(); clean && got != 1 {
		t.Errorf("the daemon resynced %d times; Asterisk kept every event, so only the first connection needs one; its log:\n%s", got, dut.logs)
	} else if !clean && got != o.Connects() {
		t.Errorf("the daemon resynced %d times in %d connections; each connection after a broken one needs one", got, o.Connects())
	}
	if got := testutil.ToFloat64(dut.metrics.Dropped); got != 0 {
		t.Errorf("the intake dropped %v events", got)
	}
	byID := func(recs []screenpop.Call) map[string]screenpop.Call {
		m := map[string]screenpop.Call{}
		for _, c := range recs {
			if _, dup := m[c.ID]; dup {
				t.Errorf("call %s recorded twice", c.ID)
			}
			m[c.ID] = c
		}
		return m
	}
	truth, got := byID(oracle.log.records()), byID(dut.log.records())
	if len(truth) != calls {
		t.Fatalf("the oracle recorded %d calls, want %d", len(truth), calls)
	}
	exact, flagged := 0, 0
	for id, want := range truth {
		c, ok := got[id]
		d := cmp.Diff(want, c)
		switch {
		case !ok:
			t.Errorf("call %s (%s) lost", id, want.Status)
		case d == "":
			exact++
		case !clean && len(c.Unflagged(want)) == 0:
			flagged++
		case !clean:
			t.Errorf("call %s: %v differ from the oracle's, unflagged (gaps %v; -oracle +daemon):\n%s", id, c.Unflagged(want), c.Gaps, d)
		default:
			t.Errorf("call %s differs from the oracle's, unflagged (-oracle +daemon):\n%s", id, d)
		}
	}
	t.Logf("%d of %d records exact, %d flagged, %d records in all", exact, calls, flagged, len(got))
	if len(got) != len(truth) {
		t.Errorf("the daemon recorded %d calls, the oracle %d", len(got), len(truth))
	}
}

package continuity_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/screenpop"
)

// listingGate holds Asterisk's answer to GET /channels, once armed, until
// released: the time between the events websocket's connect and the
// channel list a resync is built from, which a loaded machine (or the
// entity ID and event filter requests before it) makes long.
type listingGate struct {
	armed    atomic.Bool
	heldOnce sync.Once
	held     chan struct{} // closed when a GET /channels is held
	release  chan struct{}
}

func (g *listingGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/ari/channels" && g.armed.Load() {
			g.heldOnce.Do(func() { close(g.held) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// TestCallEndedBeforeTheChannelListIsExactOrFlagged reproduces, step by
// step, what a loaded restart did: two calls begin and ring while the
// daemon cannot see Asterisk; it connects the events websocket; the calls
// end (abandoned, missed) before Asterisk answers its GET /channels, so
// the resync does not have them, and the events read meanwhile (the
// Dials' ends, the hangups) reach call tracking after it. Their records
// must be exact or flagged: the Dials' begins and the ringing were not
// seen.
func TestCallEndedBeforeTheChannelListIsExactOrFlagged(t *testing.T) {
	s := arisim.New(arisim.Config{Username: "screenpop", Password: oracletest.SimPassword, ChannelVars: true, Speed: 1,
		Operators: []string{"101", "102", "103", "104", "105", "106"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	gate := &listingGate{held: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(gate.wrap(s.Handler()))
	t.Cleanup(func() {
		gate.armed.Store(false)
		s.Close()
		srv.Close()
	})
	url := srv.URL + "/ari"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oracle := oracletest.RunTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: oracletest.SimPassword, App: "oracle", SubscribeAll: true})
	oracletest.WaitLong(t, "the oracle is connected", oracle.Client.Ready)
	gate.armed.Store(true)

	// Long enough rings that the daemon's websocket is up before they
	// end, on a loaded machine too (checked below, not assumed).
	const ring = 8e9
	calls := []arisim.Call{
		{Caller: "+79161110001", DID: "74951112233", Scenario: arisim.Abandoned, Operators: []string{"101"}, RingFor: ring},
		{Caller: "+79161110002", DID: "74951112233", Scenario: arisim.Missed, Operators: []string{"102"}, RingFor: ring},
	}
	ended := make([]chan string, len(calls))
	for i, c := range calls {
		ended[i] = make(chan string, 1)
		go func() {
			res, err := s.Place(ctx, c)
			if err != nil {
				t.Errorf("place the %s call: %v", c.Scenario, err)
			}
			ended[i] <- res.CallID
		}()
	}
	oracletest.WaitLong(t, "both phones ring (the oracle saw it)", func() bool { return oracle.Rings.RungFor("101") && oracle.Rings.RungFor("102") })

	// The daemon connects now: blind until its resync, as after a restart.
	dut := oracletest.RunTracked(t, ctx, ari.Config{URL: url, Username: "screenpop", Password: oracletest.SimPassword, App: "screenpop", SubscribeAll: true})
	oracletest.WaitLong(t, "the daemon's websocket is connected and its GET /channels held", func() bool {
		select {
		case <-gate.held:
			return true
		default:
			return false
		}
	})
	for i := range ended {
		if len(ended[i]) > 0 {
			t.Fatalf("the %s call ended before the daemon's websocket was connected: the machine is too slow for this test's %v rings", calls[i].Scenario, ring)
		}
	}
	ids := make([]string, len(calls))
	for i := range ended {
		ids[i] = <-ended[i]
	}
	close(gate.release)
	oracletest.WaitLong(t, "the daemon is resynced", dut.Client.Ready)

	truth := oracletest.Truth(t, oracle, len(calls))
	oracletest.WaitLong(t, "the daemon has recorded both calls and follows none", func() bool {
		return len(dut.Log.Records()) >= len(calls) && dut.Open(t) == 0
	})
	got := map[string]screenpop.Call{}
	for _, c := range dut.Log.Records() {
		if _, dup := got[c.ID]; dup {
			t.Errorf("call %s recorded twice", c.ID)
		}
		got[c.ID] = c
	}
	for i, id := range ids {
		c, ok := got[id]
		if !ok {
			t.Errorf("the %s call %s was not recorded, though the daemon had its events", calls[i].Scenario, id)
			continue
		}
		w := truth[id]
		t.Logf("%s call %s: the oracle recorded %s offered to %v; the daemon %s offered to %v, gaps %v",
			calls[i].Scenario, id, w.Status, w.OfferedTo, c.Status, c.OfferedTo, c.Gaps)
		if bad := c.Unflagged(w); len(bad) > 0 {
			t.Errorf("the %s call %s: %v differ from the oracle's record, gaps %v", calls[i].Scenario, id, bad, c.Gaps)
		}
	}
}

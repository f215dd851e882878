package arisim_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/arisim"
	"github.com/screenpop/screenpop/screenpop"
)

// daemon is the daemon's ARI side as serve wires it: the real client and
// intake, feeding call tracking, with the Stasis handler continuing calls.
type daemon struct {
	t       *testing.T
	client  *ari.Client
	events  chan screenpop.Event
	tracker *screenpop.Tracker
	log     *callLog
	stasis  *screenpop.Stasis
	metrics *ari.Metrics
}

func startDaemon(t *testing.T, url string) *daemon {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	d := &daemon{t: t, events: make(chan screenpop.Event, 10000), log: &callLog{}, metrics: ari.NewMetrics(nil)}
	in := ari.NewIntake(ari.NewDecoder("FROM_DID"), d.events, d.metrics, quiet)
	c, err := ari.NewClient(ari.Config{URL: url, Username: testUser, Password: testPassword, App: "screenpop", SubscribeAll: true}, in, d.metrics, quiet)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	d.client = c
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones"})
	if err != nil {
		t.Fatal(err)
	}
	d.stasis = screenpop.NewStasis(c, nil, 0, quiet)
	d.tracker = screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU"}, d.log, d.stasis)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("client Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		d.stasis.Wait()
	})
	return d
}

// next is the next event call tracking receives.
func (d *daemon) next() screenpop.Event {
	d.t.Helper()
	select {
	case ev := <-d.events:
		return ev
	case <-time.After(10 * time.Second):
		d.t.Fatal("no event reached call tracking")
		return screenpop.Event{}
	}
}

// track hands call tracking every event until the call record of callID
// is written, and returns it.
func (d *daemon) track(callID string) screenpop.Call {
	d.t.Helper()
	for {
		ev := d.next()
		d.tracker.Handle(ev)
		// Past the Linger of a call that ended: Asterisk's next event
		// would do this, the tracker's clock in serve does it too.
		d.tracker.Advance(ev.At.Add(screenpop.DefaultLinger))
		for _, c := range d.log.records() {
			if c.ID == callID {
				return c
			}
		}
	}
}

func TestTheDaemonsARIClientResyncsAndReceivesTheEvents(t *testing.T) {
	// However long the daemon takes on a busy machine, the Stasis call
	// below waits for its continue.
	s, url := newSim(t, arisim.Config{ChannelVars: true, Speed: 10, StasisTimeout: time.Hour})
	// The call talks until the test ends it: however long the daemon
	// takes to connect, it joins the call in progress.
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	wait := startCall(t, s, ctx, arisim.Call{ID: "call-1", Caller: "+79161234567", DID: "74951112233",
		Operators: []string{"101"}, RingFor: 10 * time.Second, TalkFor: time.Hour})
	waitUntil(t, "the phone rings", func() bool { return len(s.Channels()) == 4 })

	d := startDaemon(t, url)
	if err := d.client.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	resync := d.next()
	if resync.Kind != screenpop.EventResync {
		t.Fatalf("the first event is %s, want the resync", resync.Type)
	}
	var names []string
	for _, ch := range resync.Channels {
		if ch.LinkedID != "call-1" {
			t.Errorf("resync channel %s has linked ID %q", ch.Name, ch.LinkedID)
		}
		names = append(names, ch.Name)
	}
	if !slices.Equal(names, s.Channels()) {
		t.Errorf("the resync lists %v, want the channels alive %v", names, s.Channels())
	}
	d.tracker.Handle(resync)
	waitUntil(t, "the client is ready", d.client.Ready)
	waitUntil(t, "the operator answers", func() bool {
		return slices.ContainsFunc(channelsOf(t, url), func(ch channelJSON) bool {
			return strings.HasPrefix(ch.Name, "Local/101@phones") && ch.State == "Up"
		})
	})
	hangUp()

	rec := d.track("call-1")
	if _, err := wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Place returned %v, want the context's error", err)
	}
	if rec.Status != screenpop.StatusAnswered || rec.AnsweredBy == nil || *rec.AnsweredBy != "101" || rec.DID != "74951112233" || rec.Caller != "+79161234567" {
		t.Errorf("the call joined in progress was recorded as %+v", rec)
	}

	// A Stasis call: the daemon's Stasis handler continues it through
	// the client's REST call.
	wait = startCall(t, s, context.Background(), arisim.Call{ID: "call-2", Caller: "anonymous", CallerName: "Anonymous", DID: "74951112233",
		Scenario: arisim.Stasis, Operators: []string{"102"}})
	rec = d.track("call-2")
	if res, err := wait(); err != nil || !res.Continued {
		t.Fatalf("Place returned %+v, %v; want the daemon to have continued the call", res, err)
	}
	if rec.Status != screenpop.StatusAnswered || !rec.Withheld || rec.AnsweredBy == nil || *rec.AnsweredBy != "102" {
		t.Errorf("the Stasis call was recorded as %+v", rec)
	}
	if tot := d.metrics.Totals(); tot.Unknown+tot.Malformed+tot.Dropped > 0 {
		t.Errorf("the intake could not use every event: %+v", tot)
	}
}

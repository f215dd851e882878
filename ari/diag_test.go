package ari

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

func TestDiagnosticsOfTheConnection(t *testing.T) {
	t.Run("a wrong password shows as one auth error, counted, and not connected", func(t *testing.T) {
		s := newARIServer(t, false)
		cfg := testConfig(s)
		cfg.Password = "wrong-Pa55word"
		cfg.ReconnectMin, cfg.ReconnectMax = 5*time.Millisecond, 20*time.Millisecond
		before := time.Now()
		h := startClient(t, cfg)
		// The client's own count, not the server's: the server sees a
		// handshake before the client has recorded its failure.
		waitFor(t, "the client to record three failed tries", func() bool {
			d := h.c.Diagnostics()
			return len(d.Errors) > 0 && d.Errors[len(d.Errors)-1].Count >= 3
		})

		d := h.c.Diagnostics()
		if d.Connected || d.URL != cfg.URL || d.App != "screenpop" || d.Failures < 3 || d.Since.Before(before) {
			t.Errorf("diagnostics say connected %t to %s (app %s) with %d failures since %v; want not connected to %s, 3+ failures since the start",
				d.Connected, d.URL, d.App, d.Failures, d.Since, cfg.URL)
		}
		if len(d.Errors) != 1 {
			t.Fatalf("got %d errors, want the one repeated: %+v", len(d.Errors), d.Errors)
		}
		e := d.Errors[0]
		if e.Kind != ErrorAuth || !strings.Contains(e.Text, "rejected the username or password") || e.Count < 3 || e.Last.Before(e.First) {
			t.Errorf("error is %+v, want an auth error about the password, counted 3+ times", e)
		}
		if strings.Contains(fmt.Sprint(d), cfg.Password) {
			t.Error("the diagnostics hold the password")
		}
	})

	t.Run("a dropped socket is listed, counted as a reconnect, and the connection is back", func(t *testing.T) {
		s := newARIServer(t, false)
		h := startClient(t, testConfig(s))
		conn := s.accept()
		h.nextResync(t)
		waitFor(t, "the client is ready", h.c.Ready)
		d := h.c.Diagnostics()
		if !d.Connected || d.Reconnects != 0 || len(d.Errors) != 0 {
			t.Fatalf("after connecting: %+v, want connected, no reconnect, no error", d)
		}
		upAt := d.Since

		conn.drop()
		s.accept()
		h.nextResync(t)
		waitFor(t, "the client is ready again", h.c.Ready)
		d = h.c.Diagnostics()
		if !d.Connected || d.Reconnects != 1 || !d.Since.After(upAt) || d.Failures != 0 {
			t.Errorf("after the reconnect: connected %t, %d reconnects, since %v (first up %v), %d failures; want connected again, 1 reconnect, since later",
				d.Connected, d.Reconnects, d.Since, upAt, d.Failures)
		}
		if len(d.Errors) != 1 || d.Errors[0].Kind != ErrorSocket || !strings.Contains(d.Errors[0].Text, "websocket") {
			t.Errorf("errors %+v, want the dropped socket", d.Errors)
		}
	})

	t.Run("malformed events are listed, newest first", func(t *testing.T) {
		s := newARIServer(t, false)
		h := startClient(t, testConfig(s))
		conn := s.accept()
		h.nextResync(t)
		conn.send([]byte(`not json at all`), []byte(`{"type":"ChannelCreated","timestamp":"2026-11-24T23:00:36.321+0000","channel":{"id":`))
		waitFor(t, "both are listed", func() bool { return len(h.c.Diagnostics().Errors) == 2 })
		errs := h.c.Diagnostics().Errors
		if errs[0].Kind != ErrorMalformed || !strings.Contains(errs[0].Text, "ChannelCreated") || errs[1].Kind != ErrorMalformed {
			t.Errorf("errors %+v, want the broken ChannelCreated, then the message that is not JSON", errs)
		}
	})
}

func TestDiagnosticsKeepTheLatestErrors(t *testing.T) {
	var d diag
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i := range keepErrors + 5 {
		d.record(t0.Add(time.Duration(i)*time.Second), ErrorConnect, fmt.Sprintf("attempt %d", i))
	}
	d.record(t0.Add(time.Minute), ErrorConnect, fmt.Sprintf("attempt %d", keepErrors+4))
	base, err := parseBase("http://pbx:8088/ari")
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{in: &Intake{}, base: base}
	c.diag.errs, c.diag.n = d.errs, d.n
	errs := c.Diagnostics().Errors
	if len(errs) != keepErrors {
		t.Fatalf("kept %d errors, want %d", len(errs), keepErrors)
	}
	if errs[0].Text != fmt.Sprintf("attempt %d", keepErrors+4) || errs[0].Count != 2 || !errs[0].Last.Equal(t0.Add(time.Minute)) {
		t.Errorf("newest %+v, want the last attempt, seen twice", errs[0])
	}
	if got := errs[keepErrors-1].Text; got != "attempt 5" {
		t.Errorf("oldest kept is %q, want attempt 5", got)
	}
}

func TestRecentEvents(t *testing.T) {
	out := make(chan screenpop.Event, 1000)
	in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	lines := traceLines(t, "answered.jsonl")
	before := time.Now()
	for _, l := range lines {
		in.Feed(context.Background(), l)
	}
	dial := lines[slices.IndexFunc(lines, func(l []byte) bool { return bytes.Contains(l, []byte(`"dialstring":"101@phones"`)) })]
	in.Feed(context.Background(), dial)
	in.Feed(context.Background(), []byte(`{"type":"CallBroadcast","timestamp":"2026-11-24T23:00:36.321+0000","channel":{"id":"c","name":"PJSIP/trunk-00000001"}}`))
	in.Feed(context.Background(), []byte(`not json at all`))

	after := time.Now()
	got := in.RecentEvents()
	if len(got) != keepEvents {
		t.Fatalf("kept %d events, want the last %d", len(got), keepEvents)
	}
	t.Run("the newest come first, each with its type, channel and what became of it", func(t *testing.T) {
		type seen struct{ Type, Channel, Peer, Detail, Result string }
		var gotHead []seen
		for _, e := range got[:4] {
			gotHead = append(gotHead, seen{e.Type, e.Channel, e.Peer, e.Detail, e.Result})
		}
		want := []seen{
			{"", "", "", "", EventMalformed},
			{"CallBroadcast", "PJSIP/trunk-00000001", "", "", EventUnknown},
			{"Dial", "Local/74951112233@from-trunk-0000003c;2", "Local/101@phones-0000003d;1", "", EventUsed},
			// The trace's last event, skipped, named from its first bytes.
			{"DeviceStateChanged", "Local/74951112233@from-trunk", "", "", EventSkipped},
		}
		if d := cmp.Diff(want, gotHead); d != "" {
			t.Errorf("newest events (-want +got):\n%s", d)
		}
		var types, wantTypes []string
		for i, e := range got[3:] {
			typ, _ := EventType(lines[len(lines)-1-i])
			types, wantTypes = append(types, e.Type), append(wantTypes, typ)
		}
		if d := cmp.Diff(wantTypes, types); d != "" {
			t.Errorf("then the trace's last events, newest first (-want +got):\n%s", d)
		}
	})
	t.Run("skipped events are named by their channel (bridges have none), read from their first bytes", func(t *testing.T) {
		n := 0
		for _, e := range got {
			if e.Result != EventSkipped {
				continue
			}
			n++
			if !strings.HasPrefix(e.Type, "Bridge") && !strings.HasPrefix(e.Channel, "Local/") {
				t.Errorf("skipped %s names channel %q", e.Type, e.Channel)
			}
		}
		if n == 0 {
			t.Error("no skipped event among the last ones; the trace has many")
		}
	})
	t.Run("times are when they were received, newest first", func(t *testing.T) {
		for i, e := range got {
			if e.At.Before(before) || e.At.After(after) {
				t.Fatalf("event %d received at %v, not while the test fed it (%v to %v)", i, e.At, before, after)
			}
			if i > 0 && e.At.After(got[i-1].At) {
				t.Fatalf("event %d received at %v, after the newer %v", i, e.At, got[i-1].At)
			}
		}
	})
}

func TestRecentEventsAreSafeToReadWhileEventsArrive(t *testing.T) {
	out := make(chan screenpop.Event, 100)
	in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.DiscardHandler))
	lines := traceLines(t, "queue.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // call tracking
		defer wg.Done()
		for {
			select {
			case <-out:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			for _, l := range lines {
				in.Feed(ctx, l)
			}
		}
		cancel()
	}()
	for ctx.Err() == nil {
		for _, e := range in.RecentEvents() {
			if e.Type == "" {
				t.Fatalf("an event without its type: %+v", e)
			}
		}
	}
	wg.Wait()
}

func TestFirstName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a channel event gives the channel's name", `{"type":"ChannelVarset","channel":{"id":"1","name":"PJSIP/101-0000002a","caller":{"name":"Ivan"}}}`, "PJSIP/101-0000002a"},
		{"a bridge's empty name is passed over", `{"bridge":{"name":"","id":"b"},"channel":{"name":"PJSIP/102-1"}}`, "PJSIP/102-1"},
		{"a name cut off by the end is not given", `{"channel":{"name":"PJSIP/10`, ""},
		{"an event without a name gives none", `{"type":"ApplicationReplaced"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstName([]byte(tt.in)); got != tt.want {
				t.Errorf("firstName = %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkIntakeFeed measures what keeping the recent events costs per
// event: compare with -bench 'IntakeFeed/not'.
func BenchmarkIntakeFeed(b *testing.B) {
	lines := traceLines(b, "queue.jsonl")
	for _, keep := range []bool{true, false} {
		name := "keeping recent events"
		if !keep {
			name = "not keeping them"
		}
		b.Run(name, func(b *testing.B) {
			out := make(chan screenpop.Event, 1<<16)
			in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.DiscardHandler))
			if !keep {
				in.recent = nil
			}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				in.Feed(ctx, lines[i%len(lines)])
				if len(out) > 1<<15 {
					for len(out) > 0 {
						<-out
					}
				}
			}
		})
	}
}

func TestCheckTellsAWebServerFromARI(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body>It works!</body></html>")
	}))
	t.Cleanup(web.Close)
	cfg := Config{URL: web.URL + "/ari", Username: "screenpop", Password: "pw", App: "screenpop"}
	err := newTestClient(t, cfg).Check(context.Background())
	if !errors.Is(err, ErrNotARI) || !strings.Contains(err.Error(), "text/html") || !strings.Contains(err.Error(), web.URL+"/ari") {
		t.Errorf("Check = %v, want ErrNotARI naming %s/ari and what it answered", err, web.URL)
	}
}

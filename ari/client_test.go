package ari

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/screenpop/screenpop/screenpop"
)

func TestRunResyncsOnConnect(t *testing.T) {
	s := newARIServer(t, false)
	data, chans := channelsOf(t, "answered.jsonl", 2)
	s.setChannels(data...)
	before := time.Now()
	h := startClient(t, testConfig(s))
	conn := s.accept()

	t.Run("the resync comes first and lists the channels Asterisk has", func(t *testing.T) {
		ev := h.nextResync(t)
		want := screenpop.Event{Kind: screenpop.EventResync, Type: "Resync", Channels: chans, Bridges: map[string][]string{}}
		if d := cmp.Diff(want, ev, ignoreAt); d != "" {
			t.Errorf("resync (-want +got):\n%s", d)
		}
		if ev.At.Before(before) || ev.At.After(time.Now()) || ev.At.Location() != time.UTC {
			t.Errorf("resync at %v, want now in UTC", ev.At)
		}
	})
	t.Run("the client is ready and says so in its metrics", func(t *testing.T) {
		waitFor(t, "the client is ready", h.c.Ready)
		if got := testutil.ToFloat64(h.m.Connected); got != 1 {
			t.Errorf("connected gauge = %v, want 1", got)
		}
		if got := testutil.ToFloat64(h.m.Reconnects); got != 0 {
			t.Errorf("reconnects = %v, want 0", got)
		}
	})
	t.Run("the connection is logged with the URL", func(t *testing.T) {
		var got []any
		for _, rec := range h.logs.records(t) {
			if rec["msg"] == "connected to ARI" {
				got = append(got, rec["url"])
			}
		}
		if d := cmp.Diff([]any{s.URL()}, got); d != "" {
			t.Errorf("URLs of the connected records (-want +got):\n%s", d)
		}
	})
	t.Run("the websocket asks for the application and every call", func(t *testing.T) {
		want := url.Values{"app": {"screenpop"}, "subscribeAll": {"true"}}
		got, _ := url.ParseQuery(conn.query)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("events websocket query (-want +got):\n%s", d)
		}
	})
	t.Run("the event filter allows exactly the events call tracking reads", func(t *testing.T) {
		filters := s.eventFilters()
		if len(filters) != 1 {
			t.Fatalf("%d event filters set, want 1", len(filters))
		}
		var body map[string][]map[string]string
		if err := json.Unmarshal([]byte(filters[0]), &body); err != nil {
			t.Fatalf("event filter body %s: %v", filters[0], err)
		}
		var allowed []string
		for _, a := range body["allowed"] {
			allowed = append(allowed, a["type"])
			if len(a) != 1 {
				t.Errorf("allowed entry %v has more than a type", a)
			}
		}
		if d := cmp.Diff(AllowedEvents, allowed); d != "" {
			t.Errorf("allowed events (-want +got):\n%s", d)
		}
		if len(body) != 1 {
			t.Errorf("event filter %s has more than an allowed list", filters[0])
		}
	})
}

func TestRunObservesOnlyStasisWhenAsked(t *testing.T) {
	s := newARIServer(t, false)
	cfg := testConfig(s)
	cfg.SubscribeAll = false
	startClient(t, cfg)
	conn := s.accept()
	got, _ := url.ParseQuery(conn.query)
	if got.Get("subscribeAll") != "false" || got.Get("app") != "screenpop" {
		t.Errorf("events websocket query %s, want app=screenpop and subscribeAll=false", conn.query)
	}
}

func TestRunForwardsEventsInOrder(t *testing.T) {
	for _, trace := range []string{"answered.jsonl", "queue.jsonl", "stasis.jsonl", "iax-answered.jsonl", "burst.jsonl", "minimal-config/missed.jsonl"} {
		t.Run(trace+" reaches call tracking whole and in order", func(t *testing.T) {
			s := newARIServer(t, false)
			h := startClient(t, testConfig(s))
			conn := s.accept()
			h.nextResync(t)
			lines := traceLines(t, trace)
			want := wantEvents(t, lines)
			conn.send(lines...)
			if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			h.nothingFor(t, 50*time.Millisecond)
			if got := testutil.ToFloat64(h.m.Dropped) + testutil.ToFloat64(h.m.Malformed) + testutil.ToFloat64(h.m.Unknown); got != 0 {
				t.Errorf("dropped+malformed+unknown = %v, want 0", got)
			}
		})
	}
}

// The reader hands on together the events one read brought, and must do
// so before it waits for more: an event followed by silence goes on at
// once, not with the next read. Lock-step: each event is sent only once
// the one before reached call tracking, and no pong comes to flush them
// (the ping interval is an hour).
func TestRunHandsOnALoneEventWithoutWaitingForTheNext(t *testing.T) {
	s := newARIServer(t, false)
	cfg := testConfig(s)
	cfg.PingInterval = time.Hour
	h := startClient(t, cfg)
	conn := s.accept()
	h.nextResync(t)
	lines := traceLines(t, "answered.jsonl")
	want := wantEvents(t, lines)
	var got []screenpop.Event
	for _, line := range lines {
		conn.send(line)
		if len(got) < len(want) && len(wantEvents(t, [][]byte{line})) == 1 {
			got = append(got, h.next(t))
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestRunReconnectsAfterDrop(t *testing.T) {
	s := newARIServer(t, false)
	data, chans := channelsOf(t, "queue.jsonl", 4)
	s.setChannels(data[:1]...)
	h := startClient(t, testConfig(s))
	lines := traceLines(t, "queue.jsonl")
	half := len(lines) / 2

	conn := s.accept()
	h.nextResync(t)
	want := wantEvents(t, lines[:half])
	conn.send(lines[:half]...)
	if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
		t.Fatalf("events before the drop (-want +got):\n%s", d)
	}

	s.setChannels(data...)
	conn.drop()
	conn = s.accept()

	t.Run("a new resync lists what Asterisk has now", func(t *testing.T) {
		ev := h.nextResync(t)
		if d := cmp.Diff(chans, ev.Channels); d != "" {
			t.Errorf("resync channels (-want +got):\n%s", d)
		}
	})
	t.Run("events go on after the resync", func(t *testing.T) {
		want := wantEvents(t, lines[half:])
		conn.send(lines[half:]...)
		if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
			t.Errorf("events after the drop (-want +got):\n%s", d)
		}
	})
	t.Run("the event filter is set again, as Asterisk forgot it", func(t *testing.T) {
		if n := len(s.eventFilters()); n != 2 {
			t.Errorf("event filter set %d times, want 2", n)
		}
	})
	t.Run("the reconnect is counted and logged once", func(t *testing.T) {
		waitFor(t, "the client is ready", h.c.Ready)
		if got := testutil.ToFloat64(h.m.Reconnects); got != 1 {
			t.Errorf("reconnects = %v, want 1", got)
		}
		if got := testutil.ToFloat64(h.m.Connected); got != 1 {
			t.Errorf("connected gauge = %v, want 1", got)
		}
		loud := h.logs.loud(t)
		if len(loud) != 1 || !strings.Contains(loud[0], "lost the ARI connection") {
			t.Errorf("warnings and errors logged: %q, want one about the lost connection", loud)
		}
	})
}

func TestRunSetsEventFilterOnceTheAppExists(t *testing.T) {
	s := newARIServer(t, false)
	// Asterisk has answered the handshake but not yet registered the app.
	s.filterStatusOnce = []int{http.StatusNotFound}
	h := startClient(t, testConfig(s))
	s.accept()
	h.nextResync(t)
	if n := len(s.eventFilters()); n != 2 {
		t.Errorf("event filter set %d times, want 2", n)
	}
	if loud := h.logs.loud(t); len(loud) != 0 {
		t.Errorf("warnings logged: %q, want none", loud)
	}
}

func TestRunCarriesOnWithoutEventFilter(t *testing.T) {
	for _, status := range []int{404, 405} {
		t.Run(fmt.Sprintf("an Asterisk answering %d to the event filter is still used", status), func(t *testing.T) {
			s := newARIServer(t, false)
			s.filterStatus = status
			h := startClient(t, testConfig(s))
			conn := s.accept()
			h.nextResync(t)
			lines := traceLines(t, "answered.jsonl")
			want := wantEvents(t, lines)
			conn.send(lines...)
			if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			loud := h.logs.loud(t)
			if len(loud) != 1 || !strings.Contains(loud[0], "event filter") {
				t.Errorf("warnings logged: %q, want one about the event filter", loud)
			}
		})
	}
}

func TestRunKeepsTryingWhenItCannotConnect(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (Config, *ariServer)
		want  string // in the error and the log
	}{
		{
			name: "a wrong password is reported as such",
			setup: func(t *testing.T) (Config, *ariServer) {
				s := newARIServer(t, false)
				cfg := testConfig(s)
				cfg.Password = "wrong-Pa55word"
				return cfg, s
			},
			want: "rejected the username or password",
		},
		{
			name: "an Asterisk that is not running is reported unreachable",
			setup: func(t *testing.T) (Config, *ariServer) {
				s := newARIServer(t, false)
				cfg := testConfig(s)
				cfg.URL = "http://" + closedPort(t) + "/ari"
				return cfg, nil
			},
			want: "is unreachable",
		},
		{
			name: "a self-signed certificate without its CA file is a TLS error",
			setup: func(t *testing.T) (Config, *ariServer) {
				s := newARIServer(t, true)
				return testConfig(s), nil
			},
			want: "TLS: the certificate of ARI at",
		},
		{
			name: "a URL without /ari says ARI is not found",
			setup: func(t *testing.T) (Config, *ariServer) {
				s := newARIServer(t, false)
				cfg := testConfig(s)
				cfg.URL = s.srv.URL
				return cfg, s
			},
			want: "does not end in /ari",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := tt.setup(t)
			cfg.ReconnectMin, cfg.ReconnectMax = 5*time.Millisecond, 20*time.Millisecond
			h := startClient(t, cfg)

			err := h.c.Check(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), cfg.URL) {
				t.Errorf("Check = %v, want an error naming %s and saying %q", err, cfg.URL, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), cfg.Password) {
				t.Errorf("Check's error %q holds the password", err)
			}
			waitFor(t, "the client to record five failed tries", func() bool {
				d := h.c.Diagnostics()
				return d.Failures >= 5 && len(d.Errors) > 0 && d.Errors[len(d.Errors)-1].Count >= 5
			})
			if h.c.Ready() || testutil.ToFloat64(h.m.Connected) != 0 {
				t.Error("the client says it is connected")
			}
			loud := h.logs.loud(t)
			if len(loud) != 1 || !strings.Contains(loud[0], tt.want) {
				t.Errorf("warnings and errors logged: %q, want one saying %q", loud, tt.want)
			}
			if strings.Contains(h.logs.String(), cfg.Password) {
				t.Error("the log holds the password")
			}
		})
	}
}

func TestRunOverTLS(t *testing.T) {
	s := newARIServer(t, true)
	data, chans := channelsOf(t, "answered.jsonl", 1)
	s.setChannels(data...)
	cfg := testConfig(s)
	cfg.CAFile = writeCA(t, s)
	h := startClient(t, cfg)
	if err := h.c.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if !strings.HasPrefix(h.c.events, "wss://") {
		t.Errorf("events URL %s, want wss://", h.c.events)
	}
	conn := s.accept()
	if d := cmp.Diff(chans, h.nextResync(t).Channels); d != "" {
		t.Errorf("resync channels (-want +got):\n%s", d)
	}
	lines := traceLines(t, "answered.jsonl")
	want := wantEvents(t, lines)
	conn.send(lines...)
	if d := cmp.Diff(want, h.nextN(t, len(want))); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestRunStopsPromptly(t *testing.T) {
	tests := []struct {
		name string
		// setup starts the client and returns once it is in the state
		// named; the returned func, if any, checks the aftermath.
		setup func(t *testing.T) (*harness, func())
	}{
		{
			name: "while connected, closing the socket cleanly",
			setup: func(t *testing.T) (*harness, func()) {
				s := newARIServer(t, false)
				h := startClient(t, testConfig(s))
				conn := s.accept()
				h.nextResync(t)
				return h, func() {
					conn.waitGone(time.Second)
					if conn.closeCode != 1000 {
						t.Errorf("the client closed with code %d, want 1000 (normal closure)", conn.closeCode)
					}
				}
			},
		},
		{
			name: "during the resync",
			setup: func(t *testing.T) (*harness, func()) {
				s := newARIServer(t, false)
				s.channelsGate = make(chan struct{})
				h := startClient(t, testConfig(s))
				<-s.channelsAsked
				return h, nil
			},
		},
		{
			name: "while waiting to reconnect",
			setup: func(t *testing.T) (*harness, func()) {
				s := newARIServer(t, false)
				cfg := testConfig(s)
				cfg.Password = "wrong"
				cfg.ReconnectMin, cfg.ReconnectMax = time.Hour, time.Hour
				h := startClient(t, cfg)
				waitFor(t, "the first attempt failed", func() bool { return s.handshakeCount() == 1 })
				return h, nil
			},
		},
		{
			name: "while Asterisk does not answer the handshake",
			setup: func(t *testing.T) (*harness, func()) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				accepted := make(chan net.Conn, 1)
				go func() {
					c, err := l.Accept()
					if err == nil {
						accepted <- c
					}
				}()
				t.Cleanup(func() {
					l.Close()
					select {
					case c := <-accepted:
						c.Close()
					default:
					}
				})
				h := startClient(t, Config{URL: "http://" + l.Addr().String() + "/ari", Username: "u", Password: "p", App: "screenpop"})
				c := <-accepted
				accepted <- c
				return h, nil
			},
		},
	}
	for _, tt := range tests {
		t.Run("Run returns "+tt.name, func(t *testing.T) {
			// Cleanups run last-in first-out: this one, after the
			// servers have closed.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

			h, after := tt.setup(t)
			start := time.Now()
			h.stop()
			select {
			case <-h.done:
			case <-time.After(time.Second):
				t.Fatal("Run did not return within a second")
			}
			t.Logf("Run returned after %s", time.Since(start))
			if h.c.Ready() || testutil.ToFloat64(h.m.Connected) != 0 {
				t.Error("the client says it is still connected")
			}
			if after != nil {
				after()
			}
		})
	}
}

func TestRunRetriesAFlappingLinkPromptly(t *testing.T) {
	s := newARIServer(t, false)
	cfg := testConfig(s)
	// A wait that doubled on every drop would reach minutes by the tenth.
	cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, time.Hour
	h := startClient(t, cfg)
	conn := s.accept()
	h.nextResync(t)
	const drops = 10
	var blind time.Duration
	for range drops {
		dropped := time.Now()
		conn.drop()
		conn = s.accept()
		h.nextResync(t)
		blind += time.Since(dropped)
	}
	t.Logf("%d drops of a connection that had been resynced: %s blind in all, %s on average (reconnect_min %s)",
		drops, blind.Round(time.Millisecond), (blind / drops).Round(time.Millisecond), cfg.ReconnectMin)
	// Each retry waits reconnect_min; a doubling wait would sum to about
	// 50 ms·2^10 = 51 s. The bound leaves a loaded machine room.
	if blind > 10*time.Second {
		t.Errorf("%d drops left the daemon blind %s: the wait grew although every connection worked", drops, blind)
	}
}

package ari

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

const secret = "s3cret-Pa55"

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	m := NewMetrics(nil)
	c, err := NewClient(cfg, NewIntake(NewDecoder("FROM_DID"), make(chan screenpop.Event, 1), m, nil), m, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Config{URL: "http://127.0.0.1:8088/ari", Username: "screenpop", Password: secret, App: "screenpop"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"an empty URL is refused", func(c *Config) { c.URL = "" }, "URL is empty"},
		{"a URL that is not http is refused", func(c *Config) { c.URL = "ftp://pbx/ari" }, "must start with http"},
		{"a URL without a host is refused", func(c *Config) { c.URL = "http:///ari" }, "has no host"},
		{"a URL that does not parse is refused without repeating it", func(c *Config) { c.URL = "http://u:" + secret + "@pbx:80:80/%zz" }, "not a URL"},
		{"a URL with credentials is refused without printing them", func(c *Config) { c.URL = "http://u:" + secret + "@pbx/ari" }, "holds credentials"},
		{"a URL with a query is refused", func(c *Config) { c.URL = "http://pbx/ari?app=x" }, "query"},
		{"no application name is refused", func(c *Config) { c.App = "" }, "application name is empty"},
		{"no username is refused", func(c *Config) { c.Username = "" }, "username is empty"},
		{"a missing CA file is refused", func(c *Config) { c.CAFile = filepath.Join(t.TempDir(), "none.pem") }, "read ARI CA file"},
		{"a CA file without a certificate is refused", func(c *Config) { c.CAFile = notPEM }, "no PEM certificate"},
		{"a maximum wait below the minimum is refused", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Second, time.Millisecond }, "reconnect wait"},
		{"a negative ping interval is refused", func(c *Config) { c.PingInterval = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			m := NewMetrics(nil)
			_, err := NewClient(cfg, NewIntake(NewDecoder("FROM_DID"), nil, m, nil), m, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewClient = %v, want an error saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
}

func TestNewClientFillsDefaults(t *testing.T) {
	c := newTestClient(t, Config{URL: "http://127.0.0.1:8088/ari", Username: "u", Password: "p", App: "screenpop"})
	got := [3]time.Duration{c.cfg.PingInterval, c.cfg.ReconnectMin, c.cfg.ReconnectMax}
	want := [3]time.Duration{5 * time.Second, 500 * time.Millisecond, 30 * time.Second}
	if got != want {
		t.Errorf("ping, reconnect min, max = %v, want %v", got, want)
	}
}

func TestNewClientBuildsEventsURL(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "http becomes ws and every call is asked for",
			cfg:  Config{URL: "http://127.0.0.1:8088/ari", App: "screenpop", SubscribeAll: true},
			want: "ws://127.0.0.1:8088/ari/events?app=screenpop&subscribeAll=true",
		},
		{
			name: "https becomes wss and a trailing slash is dropped",
			cfg:  Config{URL: "https://pbx.example.com/asterisk/ari/", App: "screenpop"},
			want: "wss://pbx.example.com/asterisk/ari/events?app=screenpop&subscribeAll=false",
		},
		{
			name: "the application name is escaped",
			cfg:  Config{URL: "http://pbx:8088/ari", App: "call centre&x"},
			want: "ws://pbx:8088/ari/events?app=call+centre%26x&subscribeAll=false",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Username = "u"
			c := newTestClient(t, tt.cfg)
			if c.events != tt.want {
				t.Errorf("events URL = %s, want %s", c.events, tt.want)
			}
		})
	}
}

func TestConfigNeverPrintsPassword(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"the password field is hidden", Config{URL: "http://pbx:8088/ari", Username: "screenpop", Password: secret, App: "screenpop"}},
		{"a password put in the URL is hidden", Config{URL: "http://screenpop:" + secret + "@pbx:8088/ari", Username: "screenpop", App: "screenpop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkHidden(t, tt.cfg) })
	}
}

func checkHidden(t *testing.T, cfg Config) {
	t.Helper()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "ari", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "ari", cfg)
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", &cfg),
		logged.String(),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the password", s)
		}
		if !strings.Contains(s, "pbx:8088") {
			t.Errorf("%s does not show the URL", s)
		}
	}
}

func TestCheck(t *testing.T) {
	plain := newARIServer(t, false)
	tlsSrv := newARIServer(t, true)
	tests := []struct {
		name string
		cfg  Config
		want string // "" for no error
	}{
		{
			name: "the right URL and credentials pass",
			cfg:  testConfig(plain),
		},
		{
			name: "a wrong password is named as such",
			cfg:  func() Config { c := testConfig(plain); c.Password = "wrong-" + secret; return c }(),
			want: "rejected the username or password",
		},
		{
			name: "a wrong username is named as such",
			cfg:  func() Config { c := testConfig(plain); c.Username = "admin"; return c }(),
			want: "rejected the username or password",
		},
		{
			name: "a URL without /ari says where ARI should be",
			cfg:  func() Config { c := testConfig(plain); c.URL = plain.srv.URL; return c }(),
			want: "ARI is not enabled there (http.conf and ari.conf enabled = yes) or the URL does not end in /ari",
		},
		{
			name: "a port where nothing listens is unreachable",
			cfg:  func() Config { c := testConfig(plain); c.URL = "http://" + closedPort(t) + "/ari"; return c }(),
			want: "is unreachable",
		},
		{
			name: "a self-signed certificate with its CA file passes",
			cfg:  func() Config { c := testConfig(tlsSrv); c.CAFile = writeCA(t, tlsSrv); return c }(),
		},
		{
			name: "a self-signed certificate without its CA file names the CA file",
			cfg:  testConfig(tlsSrv),
			want: "signed by an unknown authority (give the CA that signed it as the CA file)",
		},
		{
			name: "a certificate for another host is named as such",
			cfg: func() Config {
				c := testConfig(tlsSrv)
				c.CAFile = writeCA(t, tlsSrv)
				c.URL = strings.Replace(tlsSrv.URL(), "127.0.0.1", "localhost", 1)
				return c
			}(),
			want: "is not valid for localhost",
		},
		{
			name: "https to a plain-text ARI says to use http",
			cfg: func() Config {
				c := testConfig(plain)
				c.URL = strings.Replace(plain.URL(), "http:", "https:", 1)
				return c
			}(),
			want: "does not speak TLS (use http://)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newTestClient(t, tt.cfg).Check(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check passed, want an error saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.cfg.URL) {
				t.Errorf("Check = %q, want it to name %s and say %q", err, tt.cfg.URL, tt.want)
			}
			if strings.Contains(err.Error(), tt.cfg.Password) || strings.Contains(err.Error(), secret) {
				t.Errorf("Check = %q holds the password", err)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	s := newARIServer(t, false)
	c := newTestClient(t, testConfig(s))
	ctx := context.Background()
	tests := []struct {
		name string
		do   func() error
		want call
	}{
		{
			name: "continue posts to the channel",
			do:   func() error { return c.Continue(ctx, "1764025236.42") },
			want: call{Path: "/ari/channels/1764025236.42/continue"},
		},
		{
			name: "a variable is set with name and value in the body",
			do:   func() error { return c.SetVariable(ctx, "1764025236.42", "CALLERID(name)", "Ivan Petrov") },
			want: call{Path: "/ari/channels/1764025236.42/variable", Body: `{"value":"Ivan Petrov","variable":"CALLERID(name)"}`},
		},
		{
			name: "a subscription names the event source",
			do:   func() error { return c.Subscribe(ctx, "channel:1764025236.42") },
			want: call{Path: "/ari/applications/screenpop/subscription", Query: "eventSource=channel%3A1764025236.42"},
		},
		{
			name: "a channel ID is escaped in the path",
			do:   func() error { return c.Continue(ctx, "a/b") },
			want: call{Path: "/ari/channels/a%2Fb/continue"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.postCalls())
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]call{tt.want}, s.postCalls()[before:]); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
		})
	}
}

func TestCommandErrors(t *testing.T) {
	s := newARIServer(t, false)
	c := newTestClient(t, testConfig(s))
	ctx := context.Background()
	tests := []struct {
		name     string
		do       func() error
		wantCode int
		wantText string
	}{
		{
			name:     "continuing a channel that is gone says so",
			do:       func() error { return c.Continue(ctx, "gone") },
			wantCode: http.StatusNotFound,
			wantText: "continue channel gone: ARI at " + s.URL() + " answered POST /channels/gone/continue with 404 Not Found: Channel not found",
		},
		{
			name:     "setting a variable outside Stasis is a conflict",
			do:       func() error { return c.SetVariable(ctx, "not-in-stasis", "CALLERID(name)", "Ivan") },
			wantCode: http.StatusConflict,
			wantText: "Channel not in Stasis application",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.wantCode {
				t.Fatalf("error = %v, want a StatusError with code %d", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to say %q", err, tt.wantText)
			}
		})
	}
}

func TestChannels(t *testing.T) {
	s := newARIServer(t, false)
	c := newTestClient(t, testConfig(s))
	t.Run("no channels is an empty list", func(t *testing.T) {
		got, err := c.Channels(context.Background())
		if err != nil || len(got) != 0 {
			t.Errorf("Channels = %v, %v; want none", got, err)
		}
	})
	t.Run("channels are converted as the decoder converts them", func(t *testing.T) {
		data, want := channelsOf(t, "iax-answered.jsonl", 6)
		s.setChannels(data...)
		got, err := c.Channels(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("channels (-want +got):\n%s", d)
		}
	})
}

func TestBackoff(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		name           string
		lo, hi         time.Duration
		n              int
		wantLo, wantHi time.Duration
	}{
		{"the first retry waits the minimum", 500 * time.Millisecond, 30 * time.Second, 1, 500 * time.Millisecond, 500 * time.Millisecond},
		{"the ceiling doubles with each retry", 500 * time.Millisecond, 30 * time.Second, 3, 500 * time.Millisecond, 2 * time.Second},
		{"the ceiling stops at the maximum", 500 * time.Millisecond, 30 * time.Second, 8, 500 * time.Millisecond, 30 * time.Second},
		{"a huge retry count does not overflow", 500 * time.Millisecond, 30 * time.Second, 1 << 20, 500 * time.Millisecond, 30 * time.Second},
		{"equal bounds give a fixed wait", time.Second, time.Second, 5, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.lo, tt.hi, tt.n, lowest); got != tt.wantLo {
				t.Errorf("shortest wait = %s, want %s", got, tt.wantLo)
			}
			if got := backoff(tt.lo, tt.hi, tt.n, highest); got != tt.wantHi {
				t.Errorf("longest wait = %s, want %s", got, tt.wantHi)
			}
		})
	}
	t.Run("the jitter spreads the waits", func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for range 100 {
			seen[backoff(time.Millisecond, time.Second, 10, rand.Int64N)] = true
		}
		if len(seen) < 50 {
			t.Errorf("%d different waits in 100, want a spread", len(seen))
		}
	})
}

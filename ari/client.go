package ari

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config says how to reach Asterisk's REST interface.
type Config struct {
	// URL is the ARI base, e.g. http://127.0.0.1:8088/ari; https:// makes
	// the events websocket wss://.
	URL      string
	Username string
	// Password is never printed, logged or put in an error.
	Password string
	// App is the ARI application name (ari.conf has no list of them: any
	// name works, but two daemons with the same name steal each other's
	// events).
	App string
	// SubscribeAll observes every call on the PBX; false observes only
	// channels that enter Stasis(App).
	SubscribeAll bool
	// CAFile is a PEM file of the CA that signed Asterisk's certificate,
	// for https; empty trusts the system roots.
	CAFile string
	// PingInterval is how often the events websocket is pinged; a dead
	// socket is noticed within about twice that. Default 5s.
	PingInterval time.Duration
	// ReconnectMin and ReconnectMax bound the wait between reconnect
	// attempts: ReconnectMin after a connection that was resynced, then
	// doubling (with jitter) while connecting keeps failing. Defaults
	// 500ms and 30s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// PBX names the box (asterisk.boxes[].name); "" for a single box.
	PBX string
	// Identities, when set, binds the box to its Asterisk's entity ID on
	// every connection and refuses an Asterisk that is not the box.
	Identities *Identities
	// Outbound: Asterisk connects to the daemon (ari.conf type =
	// outbound_websocket) instead of the daemon to Asterisk; the client
	// then takes the websockets an OutboundServer hands it, and Username
	// and Password are what Asterisk must present (websocket_client.conf).
	// URL may be empty: REST calls go over the websocket.
	Outbound bool
	// RESTOverHTTP, with Outbound, sends the commands (continue, set a
	// variable, subscribe, originate) to URL over HTTP. What a connection
	// needs in order with its events (identity, event filter, channel
	// lists) always goes over the websocket.
	RESTOverHTTP bool
}

// Defaults for the zero fields of Config.
const (
	DefaultPingInterval = 5 * time.Second
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// String prints the config without the password, so that %v of a Config
// is safe in a log or an error.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "(set)"
	}
	return fmt.Sprintf("{URL:%s Username:%s Password:%s App:%s SubscribeAll:%t CAFile:%s PingInterval:%s ReconnectMin:%s ReconnectMax:%s}",
		redactURL(c.URL), c.Username, pw, c.App, c.SubscribeAll, c.CAFile, c.PingInterval, c.ReconnectMin, c.ReconnectMax)
}

// GoString keeps %#v from printing the password too.
func (c Config) GoString() string { return "ari.Config" + c.String() }

// LogValue logs the config without the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.String("app", c.App),
		slog.Bool("subscribe_all", c.SubscribeAll),
		slog.String("ca_file", c.CAFile),
		slog.Duration("ping_interval", c.PingInterval),
		slog.Duration("reconnect_min", c.ReconnectMin),
		slog.Duration("reconnect_max", c.ReconnectMax),
	)
}

// redactURL hides a password someone put in the URL (NewClient refuses
// such a URL, but a config is printed before it is checked).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}

// Client is the connection to one Asterisk: it keeps the events websocket
// up (Run) and carries out REST commands. REST methods may be called from
// any goroutine, also while Run is not running.
type Client struct {
	cfg    Config
	base   *url.URL // cfg.URL without a trailing slash
	events string   // the events websocket URL
	http   *http.Client
	dialer *websocket.Dialer
	in     *Intake
	m      *Metrics
	log    *slog.Logger

	// follow carries what to subscribe to in stasis mode: the channels
	// our calls dial, and ("bridge:ID") the bridges they enter, where an
	// attended transfer brings its target; Run's goroutine drains it.
	follow chan string

	ready atomic.Bool
	// answered: ARI at this URL answered a request once; a bare 404 later
	// is Asterisk restarting, not a wrong URL.
	answered atomic.Bool
	// diag is the connection's state and recent errors, for the admin page.
	diag diag

	// out is the outbound mode's state (nil inbound).
	out *outbound
}

// requestTimeout bounds each REST call and the websocket handshake: a PBX
// that takes longer is as good as down.
const requestTimeout = 10 * time.Second

// NewClient checks cfg and returns a client; it does not connect. Events
// go to in; m is where the connection is counted; log may be nil.
func NewClient(cfg Config, in *Intake, m *Metrics, log *slog.Logger) (*Client, error) {
	if in == nil || m == nil {
		return nil, errors.New("ari client: intake and metrics are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = DefaultReconnectMax
	}
	var (
		base *url.URL
		err  error
	)
	if !cfg.Outbound || cfg.URL != "" || cfg.RESTOverHTTP {
		if base, err = parseBase(cfg.URL); err != nil {
			return nil, err
		}
	} else {
		// No HTTP address: what prints the URL says where events come from.
		base = &url.URL{Scheme: "outbound", Opaque: cfg.Username}
	}
	switch {
	case cfg.App == "":
		return nil, errors.New("ARI application name is empty")
	case cfg.Username == "":
		return nil, errors.New("ARI username is empty")
	case cfg.PingInterval < 0:
		return nil, fmt.Errorf("ARI ping interval %s is negative", cfg.PingInterval)
	case cfg.ReconnectMin < 0 || cfg.ReconnectMax < cfg.ReconnectMin:
		return nil, fmt.Errorf("ARI reconnect wait must grow from a positive minimum to a maximum, not %s to %s", cfg.ReconnectMin, cfg.ReconnectMax)
	}

	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ARI CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ARI CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The Stasis handler sets a call's variables together and many calls
	// wait at once: keep their connections instead of opening new ones.
	if tr.MaxIdleConnsPerHost < 64 {
		tr.MaxIdleConnsPerHost = 64
	}
	tr.TLSClientConfig = tlsConf

	var ev url.URL
	if !cfg.Outbound {
		ev = *base
		ev.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
		ev.Path += "/events"
		ev.RawPath = ""
		ev.RawQuery = url.Values{
			"app":          {cfg.App},
			"subscribeAll": {fmt.Sprint(cfg.SubscribeAll)},
		}.Encode()
	}

	c := &Client{
		cfg:    cfg,
		base:   base,
		events: ev.String(),
		http:   &http.Client{Transport: tr},
		dialer: &websocket.Dialer{
			Proxy: http.ProxyFromEnvironment,
			// Its own copy: the HTTP transport writes to its config.
			TLSClientConfig:  tlsConf.Clone(),
			HandshakeTimeout: requestTimeout,
			// A burst of events (a dozen when a call changes, hundreds
			// after a pause) comes in one read.
			ReadBufferSize: 64 << 10,
		},
		in:     in,
		m:      m,
		log:    log,
		follow: make(chan string, 1024),
	}
	if cfg.Outbound {
		c.out = newOutbound()
	}
	in.errs = &c.diag
	if !cfg.SubscribeAll {
		in.dialled = func(peer string) {
			select {
			case c.follow <- peer:
			default: // following is best effort; the Dial events still come
			}
		}
	}
	return c, nil
}

func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("ARI URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, which may hold a password.
		return nil, errors.New("ARI URL is not a URL")
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("ARI URL %s holds credentials; give the username and password in their own settings", u.Redacted())
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("ARI URL %s must start with http:// or https://", u)
	case u.Host == "":
		return nil, fmt.Errorf("ARI URL %s has no host", u)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("ARI URL %s must not have a query or fragment", u)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Ready reports whether the events websocket is connected and call
// tracking has been resynced on it.
func (c *Client) Ready() bool { return c.ready.Load() && !c.in.Replaced() }

// logFailureGap is how often a PBX that stays down is logged.
const logFailureGap = time.Minute

// Run connects the events websocket and keeps it connected, resyncing call
// tracking on every connection, until ctx is done; then it closes the
// socket and returns nil. It must not be called twice at once.
func (c *Client) Run(ctx context.Context) error {
	defer c.http.CloseIdleConnections()
	if !c.cfg.SubscribeAll {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			c.followPeers(ctx)
		}()
	}
	var (
		retries  int       // attempts since the last lasting connection
		loggedAt time.Time // last failure logged; zero: log the next one
	)
	if c.out != nil {
		c.out.run(true)
		defer c.out.run(false)
	}
	c.diag.starting(time.Now())
	for {
		connect := c.connect
		if c.out != nil {
			connect = c.connectOutbound
		}
		up, err := connect(ctx, retries)
		if ctx.Err() != nil {
			return nil
		}
		c.diag.down(time.Now(), up > 0, err)
		switch {
		case up > 0:
			c.log.Warn("lost the ARI connection; reconnecting", "url", c.where(), "after", up.Round(time.Millisecond), "err", err)
			loggedAt = time.Now()
			// The connection worked (it was resynced): a link that flaps
			// is tried again within ReconnectMin, however short it lasted.
			// The wait grows only while connecting keeps failing.
			retries = 0
		case loggedAt.IsZero():
			c.log.Error("cannot connect to ARI; retrying", "url", c.where(), "err", err)
			loggedAt = time.Now()
		case time.Since(loggedAt) >= logFailureGap:
			c.log.Warn("still cannot connect to ARI; retrying", "url", c.where(), "attempts", retries+1, "err", err)
			loggedAt = time.Now()
		}
		retries++
		wait := backoff(c.cfg.ReconnectMin, c.cfg.ReconnectMax, retries, rand.Int64N)
		if c.out != nil {
			// Asterisk dials again by itself (reconnect_interval): the
			// next connection is taken as soon as it comes.
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// followPeers subscribes to the channels our calls dial, in stasis mode,
// so their ringing and hangup reach us. Until ctx ends.
func (c *Client) followPeers(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-c.follow:
			sctx, cancel := context.WithTimeout(ctx, requestTimeout)
			src := id
			if !strings.HasPrefix(id, "bridge:") {
				src = "channel:" + id
			}
			if err := c.Subscribe(sctx, src); err != nil && ctx.Err() == nil {
				c.log.Debug("cannot follow a dialled channel", "channel", id, "err", err)
			}
			cancel()
		}
	}
}

// backoff is the wait before reconnect attempt n (1, 2, ...): uniformly
// random between lo and lo·2^(n-1) capped at hi. The jitter keeps several
// daemons (or one daemon's restarts) from hitting Asterisk in step.
// randN is rand.Int64N, replaceable in tests.
func backoff(lo, hi time.Duration, n int, randN func(int64) int64) time.Duration {
	ceil := lo
	for i := 1; i < n && ceil < hi; i++ {
		if ceil > hi/2 {
			ceil = hi
			break
		}
		ceil *= 2
	}
	ceil = min(ceil, hi)
	if ceil <= lo {
		return lo
	}
	return lo + time.Duration(randN(int64(ceil-lo)+1))
}

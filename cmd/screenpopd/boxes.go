package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// Box is one Asterisk the daemon follows: asterisk.boxes[] in the config,
// or the one box of ari.* when that list is empty.
type Box struct {
	// Name is the box's pbx, "" for the one box of a config that names
	// none.
	Name     string
	URL      string // "" only for an outbound box whose REST goes over its websocket
	Username string
	Password Secret
	CAFile   string
	// Connect is "inbound" (the daemon dials ARI) or "outbound" (Asterisk
	// dials the daemon: ari.conf type = outbound_websocket).
	Connect string
	// REST, for an outbound box: "websocket" or "http" (commands over URL).
	REST string
}

// The ways a box connects.
const (
	connectInbound  = "inbound"
	connectOutbound = "outbound"
)

// boxes is every box: cfg.Boxes, or the one box of ari.*.
func (c Config) boxes() []Box {
	if len(c.Boxes) > 0 {
		return c.Boxes
	}
	return []Box{{URL: c.ARIURL, Username: c.ARIUsername, Password: c.ARIPassword, CAFile: c.ARICAFile, Connect: c.ARIConnect, REST: c.ARIREST}}
}

var boxNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// configBoxes reads asterisk.boxes: a list of {name, url, username,
// password, password_file, ca_file, connect, rest}; what a box leaves out
// comes from ari.* (c).
func configBoxes(raw any, c Config, bad func(format string, args ...any)) []Box {
	var list []any
	switch r := raw.(type) {
	case nil:
		return nil
	case []any:
		list = r
	case []map[string]any:
		for _, m := range r {
			list = append(list, m)
		}
	case string:
		if s := strings.TrimSpace(r); s == "" || s == "[]" {
			return nil
		}
		bad("set it in the config file as a list of {name, url, username, password_file, ...}, not as %q", r)
		return nil
	default:
		bad("want a list of {name, url, username, password_file, ...}, got %T", raw)
		return nil
	}
	var (
		boxes []Box
		names = map[string]bool{}
		users = map[string]string{}
	)
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			bad("entry %d: want {name, url, username, ...}, got %v", i+1, item)
			continue
		}
		text := func(k, def string) string {
			if v, ok := m[k]; ok && v != nil {
				return strings.TrimSpace(fmt.Sprint(v))
			}
			return def
		}
		for k := range m {
			switch k {
			case "name", "url", "username", "password", "password_file", "ca_file", "connect", "rest":
			default:
				bad("entry %d: unknown key %q (name, url, username, password, password_file, ca_file, connect, rest)", i+1, k)
			}
		}
		b := Box{
			Name: text("name", ""), URL: strings.TrimRight(text("url", ""), "/"), Username: text("username", c.ARIUsername),
			CAFile: text("ca_file", c.ARICAFile), Connect: text("connect", c.ARIConnect), REST: text("rest", c.ARIREST),
		}
		what := fmt.Sprintf("box %q", b.Name)
		switch {
		case b.Name == "":
			bad("entry %d: name must be set: it names the box's calls (pbx) and is bound to its Asterisk's entity ID", i+1)
			what = fmt.Sprintf("entry %d", i+1)
		case !boxNameRE.MatchString(b.Name):
			bad("%s: a name is 1-32 of a-z, 0-9, _ . - (starting with a letter or digit)", what)
		case names[b.Name]:
			bad("%s is listed twice", what)
		}
		names[b.Name] = true
		pw, pwFile := text("password", ""), text("password_file", "")
		switch {
		case pw != "" && pwFile != "":
			bad("%s: set either password or password_file, not both", what)
		case pwFile != "":
			raw, err := os.ReadFile(pwFile)
			if err != nil {
				bad("%s: password_file: %v", what, err)
			}
			b.Password = Secret(strings.TrimSpace(string(raw)))
		case pw != "":
			b.Password = Secret(pw)
		default:
			b.Password = c.ARIPassword
		}
		if b.Username == "" {
			bad("%s: username must be set", what)
		}
		checkBox(b, what, func(format string, args ...any) { bad(format, args...) })
		if b.Connect == connectOutbound {
			if other, dup := users[b.Username]; dup {
				bad("%s and box %q both use username %q: Asterisk's outbound websocket is known by its username, so each box needs its own", what, other, b.Username)
			}
			users[b.Username] = b.Name
		}
		if b.CAFile != "" {
			if _, err := os.Stat(b.CAFile); err != nil {
				bad("%s: ca_file: %v", what, err)
			}
		}
		boxes = append(boxes, b)
	}
	return boxes
}

// checkBox reports what is wrong with a box's address and connection
// mode; what names it in the report.
func checkBox(b Box, what string, bad func(format string, args ...any)) {
	switch b.Connect {
	case connectInbound, connectOutbound:
	default:
		bad("%s: connect: want inbound or outbound, got %q", what, b.Connect)
	}
	switch b.REST {
	case "websocket", "http":
	default:
		bad("%s: rest: want websocket or http, got %q", what, b.REST)
	}
	needURL := b.Connect != connectOutbound || b.REST == "http"
	if b.URL == "" && !needURL {
		return
	}
	if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("%s: url: want http://host:port/ari or https://..., got %q", what, b.URL)
	} else if u.User != nil {
		bad("%s: url: put the username and password in their own settings, not in the URL", what)
	}
}

// openIdentities opens the file that binds the boxes to their Asterisks'
// entity IDs, in the data directory.
func openIdentities(cfg Config, log *slog.Logger) (*ari.Identities, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return ari.OpenIdentities(filepath.Join(cfg.DataDir, "boxes.json"), log)
}

// boxRegisterer is where a box's metrics go: with a pbx label once boxes
// are named, so that several boxes' series stand side by side.
func boxRegisterer(reg prometheus.Registerer, b Box) prometheus.Registerer {
	if b.Name == "" {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"pbx": b.Name}, reg)
}

// boxARIConfig is the ARI client config of box b.
func boxARIConfig(cfg Config, b Box, ids *ari.Identities) ari.Config {
	return ari.Config{
		URL: b.URL, Username: b.Username, Password: string(b.Password), App: cfg.ARIApp,
		SubscribeAll: cfg.ARIMode != "stasis", CAFile: b.CAFile, PingInterval: cfg.PingInterval,
		ReconnectMin: cfg.ReconnectMin, ReconnectMax: cfg.ReconnectMax,
		PBX: b.Name, Identities: ids, Outbound: b.Connect == connectOutbound, RESTOverHTTP: b.REST == "http",
	}
}

// newBoxClient is the ARI client of box b.
func newBoxClient(cfg Config, b Box, ids *ari.Identities, in *ari.Intake, m *ari.Metrics, log *slog.Logger) (*ari.Client, error) {
	c, err := ari.NewClient(boxARIConfig(cfg, b, ids), in, m, log)
	if err != nil {
		if b.Name != "" {
			return nil, fmt.Errorf("box %q: %w", b.Name, err)
		}
		return nil, err
	}
	return c, nil
}

// tagPBX names the box on every call record it passes on.
type tagPBX struct {
	pbx  string
	next screenpop.CallLog
}

func (t tagPBX) Record(c screenpop.Call) {
	c.PBX = t.pbx
	t.next.Record(c)
}

// boxRun is a box after the first: its own client, intake and call
// tracking, whose pops go to the shared popper, keyed by box (OnBox).
type boxRun struct {
	box     Box
	client  *ari.Client
	tracker *screenpop.Tracker
	stasis  *screenpop.Stasis
	events  chan screenpop.Event
}

// moreBoxes runs the boxes after the first.
type moreBoxes struct {
	runs     []*boxRun
	ariWG    sync.WaitGroup
	trackWG  sync.WaitGroup
	mu       sync.Mutex
	runErrs  []error
	outbound *ari.OutboundServer
}

// boxDeps is what every box's call tracking shares.
type boxDeps struct {
	base    context.Context // what each box's Stasis work runs on; ends at shutdown
	cfg     Config
	ids     *ari.Identities
	reg     prometheus.Registerer
	calls   screenpop.CallLog // untagged: each box tags its records
	popper  *screenpop.Popper
	access  *screenpop.Access
	log     *slog.Logger
	primary *ari.Client
}

// newMoreBoxes builds the clients and call tracking of boxes, the ones
// after the first, and the server of every outbound box's websocket
// (first included).
func newMoreBoxes(d boxDeps, boxes []Box) (*moreBoxes, error) {
	mb := &moreBoxes{outbound: ari.NewOutboundServer(d.log)}
	if d.primary != nil && d.cfg.boxes()[0].Connect == connectOutbound {
		if err := mb.outbound.Add(d.primary); err != nil {
			return nil, err
		}
	}
	for _, b := range boxes {
		log := d.log.With("pbx", b.Name)
		reg := boxRegisterer(d.reg, b)
		events := make(chan screenpop.Event, eventQueue)
		am := ari.NewMetrics(reg)
		in := ari.NewIntake(ari.NewDecoder(d.cfg.DIDVariable), events, am, log)
		client, err := newBoxClient(d.cfg, b, d.ids, in, am, log)
		if err != nil {
			return nil, err
		}
		if b.Connect == connectOutbound {
			if err := mb.outbound.Add(client); err != nil {
				return nil, err
			}
		}
		stasis := screenpop.NewStasis(client, d.popper, d.cfg.StasisDeadline, log)
		stasis.Base = d.base
		stasis.Took = ari.StasisTimes(reg)
		tracker := screenpop.NewTracker(d.cfg.trackerConfig(), tagPBX{b.Name, d.calls}, screenpop.OnBox(b.Name, screenpop.Observers{stasis, d.popper}))
		dir := filepath.Join(d.cfg.DataDir, "boxes", b.Name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("box %q: create its data directory: %w", b.Name, err)
		}
		keepTrackerState(tracker, dir, reg, log)
		tracker.Resynced = func(n screenpop.ResyncCounts) {
			log.Info("resynced with Asterisk", "channels", n.Channels, "calls_ended_unseen", n.Ended,
				"calls_first_seen", n.FirstSeen, "calls_in_progress", n.Open)
		}
		tracker.Observe(screenpop.OnBox(b.Name, d.access))
		mb.runs = append(mb.runs, &boxRun{box: b, client: client, tracker: tracker, stasis: stasis, events: events})
	}
	return mb, nil
}

// hasOutbound reports whether any box connects outbound.
func (mb *moreBoxes) hasOutbound(cfg Config) bool {
	for _, b := range cfg.boxes() {
		if b.Connect == connectOutbound {
			return true
		}
	}
	return false
}

// start runs every box's client until ariCtx ends and its call tracking
// until trackCtx ends.
func (mb *moreBoxes) start(ariCtx, trackCtx context.Context) {
	for _, r := range mb.runs {
		mb.ariWG.Add(1)
		mb.trackWG.Add(1)
		go func() {
			defer mb.ariWG.Done()
			mb.keep(r.client.Run(ariCtx))
		}()
		go func() {
			defer mb.trackWG.Done()
			mb.keep(r.tracker.Run(trackCtx, r.events))
		}()
	}
}

func (mb *moreBoxes) keep(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	mb.mu.Lock()
	mb.runErrs = append(mb.runErrs, err)
	mb.mu.Unlock()
}

// waitARI waits for the clients, once their context ended.
func (mb *moreBoxes) waitARI() { mb.ariWG.Wait() }

// waitTracking waits for call tracking and the Stasis continues, once
// the tracking context ended; it returns what went wrong.
func (mb *moreBoxes) waitTracking() error {
	mb.trackWG.Wait()
	for _, r := range mb.runs {
		r.stasis.Wait()
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return errors.Join(mb.runErrs...)
}

// boxesReady is every box's readiness, for /readyz.
type boxesReady struct {
	first Box
	c     *ari.Client
	more  *moreBoxes
}

// notReady names the boxes whose ARI is not connected; nil when all are.
func (b boxesReady) notReady() []string {
	var down []string
	if !b.c.Ready() {
		down = append(down, b.first.Name)
	}
	for _, r := range b.more.runs {
		if !r.client.Ready() {
			down = append(down, r.box.Name)
		}
	}
	return down
}

// Ready reports whether every box is connected.
func (b boxesReady) Ready() bool { return len(b.notReady()) == 0 }

// What says which boxes are not connected, for /readyz.
func (b boxesReady) What() string {
	down := b.notReady()
	if len(down) == 1 && down[0] == "" {
		return "ARI: not connected to Asterisk"
	}
	return "ARI: not connected to box " + strings.Join(down, ", ")
}

// withOutbound serves Asterisk's outbound websockets at ari.OutboundPath
// next to h, when a box connects outbound.
func withOutbound(h *http.ServeMux, cfg Config, mb *moreBoxes) *http.ServeMux {
	if mb.hasOutbound(cfg) {
		h.Handle(ari.OutboundPath, mb.outbound)
	}
	return h
}

// checkBoxes checks every box for screenpopd check: an inbound one (or
// an outbound one whose commands go over HTTP) answers at its URL with
// the credentials, and its entity ID is its own: no other box's, and the
// one it had when the daemon last saw it. An outbound box can only be
// waited for.
func checkBoxes(ctx context.Context, cfg Config, report func(name string, p *problem, okNote string)) {
	ids, err := ari.OpenIdentities(filepath.Join(cfg.DataDir, "boxes.json"), nil)
	if err != nil {
		report("asterisk", &problem{err.Error(), ""}, "")
		ids = nil
	}
	seen := map[string]string{} // box name by entity ID
	for _, b := range cfg.boxes() {
		name := "asterisk"
		if b.Name != "" {
			name = "asterisk " + b.Name
		}
		if b.Connect == connectOutbound && b.REST != "http" {
			report(name, nil, fmt.Sprintf(" (outbound: waits for Asterisk to connect to %s as user %s)", outboundAddress(cfg), b.Username))
			continue
		}
		bcfg := cfg
		bcfg.ARIURL, bcfg.ARIUsername, bcfg.ARIPassword, bcfg.ARICAFile = b.URL, b.Username, b.Password, b.CAFile
		client, err := ari.NewClient(ari.Config{URL: b.URL, Username: b.Username, Password: string(b.Password), App: cfg.ARIApp, CAFile: b.CAFile},
			ari.NewIntake(ari.NewDecoder(cfg.DIDVariable), nil, ari.NewMetrics(nil), discard()), ari.NewMetrics(nil), discard())
		eid := ""
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, checkTimeout)
			eid, err = client.EntityID(actx)
			cancel()
		}
		if err != nil {
			report(name, ariProblem(bcfg, err), "")
			continue
		}
		switch other, dup := seen[eid]; {
		case dup:
			report(name, &problem{fmt.Sprintf("%s has entity ID %s, like box %q: they are the same Asterisk", b.URL, eid, other),
				"give each Asterisk its own entityid in asterisk.conf, or list it once in asterisk.boxes"}, "")
			continue
		case ids != nil && b.Name != "" && ids.EntityID(b.Name) != "" && ids.EntityID(b.Name) != eid:
			report(name, &problem{fmt.Sprintf("%s has entity ID %s, but box %q had %s when last seen: it is another Asterisk", b.URL, eid, b.Name, ids.EntityID(b.Name)),
				fmt.Sprintf("correct its url, or, if the box was replaced on purpose, remove %q from %s", b.Name, filepath.Join(cfg.DataDir, "boxes.json"))}, "")
			continue
		}
		seen[eid] = b.Name
		report(name, nil, " (entity ID "+eid+")")
	}
}

// outboundAddress is where Asterisk's outbound websocket is to connect:
// websocket_client.conf uri.
func outboundAddress(cfg Config) string {
	if cfg.PublicURL != nil {
		u := *cfg.PublicURL
		u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
		if u.Scheme == "" {
			u.Scheme = "ws"
		}
		u.Path = strings.TrimRight(u.Path, "/") + ari.OutboundPath
		return u.String()
	}
	scheme := "ws"
	if cfg.TLSCert != "" {
		scheme = "wss"
	}
	return scheme + "://" + cfg.HTTPListen + ari.OutboundPath
}

// tracked is each further box with its tracker.
func (mb *moreBoxes) tracked() []trackedBox {
	var out []trackedBox
	for _, r := range mb.runs {
		out = append(out, trackedBox{r.box.Name, r.tracker})
	}
	return out
}

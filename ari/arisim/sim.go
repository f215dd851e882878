package arisim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the simulated PBX. The zero value of each field but
// Username and Password has a default.
type Config struct {
	// Username and Password are the ari.conf user the REST calls and the
	// events websocket must authenticate as (Basic auth, or ?api_key=u:p).
	Username string
	Password string
	// App is the ARI application the dialplan sends Stasis calls to, as in
	// Stasis(screenpop,inbound,DID). Default "screenpop".
	App string
	// Operators are the operators' extensions ("101", "102"): the phones
	// a call rings when it names none, and Run's pool.
	Operators []string
	// InboundContext is the dialplan context calls from the trunk start
	// in. Default "from-trunk".
	InboundContext string
	// Tech names the channels. TechLocal (the default) is the topology of
	// the recorded traces: the caller is a Local pair whose ;2 half runs
	// the inbound context, each phone a Local/{ext}@phones pair. TechPJSIP
	// is a production PBX: one PJSIP/trunk-0000000a channel for the caller
	// and one PJSIP/{ext}-0000000b channel for each phone dialled, shaped
	// after the call-centre legs of iax-answered.jsonl.
	Tech string
	// ChannelVars adds channelvars {"CHANNEL(linkedid)", "FROM_DID"} to
	// every channel object, as ari.conf channelvars does in the
	// configuration the daemon recommends. False is a stock ari.conf.
	ChannelVars bool
	// Speed compresses time: 1 (the default) is real time, 10 runs ten
	// times faster. Event timestamps are simulated time: a phone that
	// rings 2 s rings 0.2 s of wall time at Speed 10 but its events are
	// stamped 2 s apart, so call records show the scenario's ring and
	// talk times at any speed. Simulated time starts at the wall clock
	// when New is called and runs Speed times faster from there.
	Speed float64
	// StasisTimeout is how long, in simulated time, a caller sent to
	// Stasis waits for the application to continue the channel before
	// hanging up. Asterisk itself never gives up on a channel in Stasis:
	// the call waits until the caller hangs up, which is what this
	// models. Default 30 s.
	StasisTimeout time.Duration
	// OnSend, if set, is told of every event frame right after it was
	// written to an events websocket: a load run measures from it how
	// long the daemon takes to act on an event. It is called from the
	// socket's writer goroutine, so it must return at once (record and
	// go): while it runs, that socket sends nothing, and a socket that
	// falls behind is dropped as a slow client.
	OnSend func(Sent)
	// EntityID is the simulated Asterisk's entity ID (asterisk.conf
	// entityid): GET /asterisk/info says it as system.entity_id and every
	// event as asterisk_id. Default 02:fc:00:00:00:01, the traces'.
	EntityID string
}

// Sent is an event frame as it left the simulator, for Config.OnSend.
type Sent struct {
	// App is the application whose websocket the frame went to.
	App  string
	Type string
	// CallID is CHANNEL(linkedid) of the channel the event is about: the
	// call's ID. Channel is that channel's name and State its state as
	// the event shows it. For Dial they are the peer's, the channel
	// dialled (Local/101@phones-0000003d;1); for events about no channel
	// (devices, bridges alone) all three are empty.
	CallID, Channel, State string
	// DialStatus is a Dial's dialstatus (RINGING, ANSWER, ...).
	DialStatus string
	// At is the wall clock when the frame was written.
	At time.Time
}

// Channel technologies (Config.Tech).
const (
	TechLocal = "Local"
	TechPJSIP = "PJSIP"
)

// Facts about the simulated Asterisk, as the traces show them.
const (
	asteriskID      = "02:fc:00:00:00:01"
	asteriskVersion = "22.10.1"
	phonesContext   = "phones"
	defaultApp      = "screenpop"
)

// Sim is a simulated Asterisk. Its methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	clock clock

	// mu guards the PBX state: channels, applications and the counters
	// that name channels. Every event is built and queued under it, so
	// that the order of events on every websocket is the order in which
	// the state changed, and GET /channels is consistent with them.
	mu      sync.Mutex
	chans   map[string]*channel // alive channels by ID
	bridges map[string]*bridge  // bridges by ID, from BridgeCreated to BridgeDestroyed
	apps    map[string]*app     // registered applications by name
	// inStasis are the channels in Stasis, by application name: an
	// app's description lists them without a walk of every channel.
	inStasis   map[string]map[string]bool
	conns      map[*conn]bool // every events websocket open
	originates []Originate
	uniq       int // Asterisk's uniqueid counter
	localSeq   int // Local/...-0000003c;1
	techSeq    int // PJSIP/101-0000002a
	chanSeq    int // creation order, for GET /channels
	events     atomic.Int64

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // websocket goroutines, originated calls, the listener's server
	srv       *http.Server
}

// New returns a simulator; it serves nothing until Handler or Listen. log
// may be nil.
func New(cfg Config, log *slog.Logger) *Sim {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.App == "" {
		cfg.App = defaultApp
	}
	if cfg.EntityID == "" {
		cfg.EntityID = asteriskID
	}
	if cfg.InboundContext == "" {
		cfg.InboundContext = "from-trunk"
	}
	if cfg.Tech == "" {
		cfg.Tech = TechLocal
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.StasisTimeout <= 0 {
		cfg.StasisTimeout = 30 * time.Second
	}
	cfg.Operators = slices.Clone(cfg.Operators)
	now := time.Now()
	return &Sim{
		cfg:      cfg,
		log:      log,
		clock:    clock{wall: now, sim: now.Round(0).UTC(), speed: cfg.Speed},
		chans:    map[string]*channel{},
		bridges:  map[string]*bridge{},
		apps:     map[string]*app{},
		inStasis: map[string]map[string]bool{},
		conns:    map[*conn]bool{},
		done:     make(chan struct{}),
	}
}

// check reports a config the simulator cannot run.
func (s *Sim) check() error {
	switch s.cfg.Tech {
	case TechLocal, TechPJSIP:
	default:
		return fmt.Errorf("arisim: technology %q is neither %s nor %s", s.cfg.Tech, TechLocal, TechPJSIP)
	}
	if s.cfg.Username == "" {
		return errors.New("arisim: no ARI username")
	}
	return nil
}

// Listen serves the simulator on addr ("127.0.0.1:0" picks a port) until
// Close, and returns the ARI base URL to configure the daemon with, e.g.
// http://127.0.0.1:41234/ari.
func (s *Sim) Listen(addr string) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("arisim: listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.isClosed() || s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("arisim: closed or already listening")
	}
	s.srv = srv
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("arisim: serve", "err", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/ari", nil
}

// Close ends every events websocket and originated call, stops the
// listener if Listen started one, and waits for their goroutines. Calls
// under way in Place and Run end too: they return an error.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	srv := s.srv
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
	}
	// Shutdown does not wait for hijacked connections: end them here.
	for _, c := range conns {
		c.stop(reasonShutdown)
	}
	s.wg.Wait()
	return err
}

func (s *Sim) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Events is how many events the simulator has generated, whether or not a
// websocket took them.
func (s *Sim) Events() int64 { return s.events.Load() }

// Now is the simulator's clock: simulated time.
func (s *Sim) Now() time.Time { return s.clock.now() }

// Channels is the names of the channels alive now, in creation order.
func (s *Sim) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, ch := range s.aliveChannels() {
		names = append(names, ch.name)
	}
	return names
}

// aliveChannels is the channels alive, in creation order; s.mu is held.
func (s *Sim) aliveChannels() []*channel {
	chans := make([]*channel, 0, len(s.chans))
	for _, ch := range s.chans {
		chans = append(chans, ch)
	}
	slices.SortFunc(chans, func(a, b *channel) int { return a.seq - b.seq })
	return chans
}

// Connected reports whether an events websocket is open for app.
func (s *Sim) Connected(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[app] != nil
}

// clock is simulated time: it starts at the wall clock and runs speed
// times faster.
type clock struct {
	wall  time.Time // when it started, with the monotonic reading
	sim   time.Time // the simulated time then
	speed float64
}

func (c clock) now() time.Time {
	return c.sim.Add(time.Duration(float64(time.Since(c.wall)) * c.speed))
}

// wallUntil is the wall time left until simulated time t.
func (c clock) wallUntil(t time.Time) time.Duration {
	return time.Duration(float64(t.Sub(c.now())) / c.speed)
}

// sleepUntil waits until simulated time t. It returns an error when ctx
// is done or the simulator closed first.
func (s *Sim) sleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := s.clock.wallUntil(t)
		if d <= 0 {
			return s.alive(ctx)
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-s.done:
			timer.Stop()
			return errClosed
		case <-timer.C:
		}
	}
}

var errClosed = errors.New("arisim: simulator closed")

// alive is nil while ctx is not done and the simulator is open.
func (s *Sim) alive(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errClosed
	}
	return nil
}

// localName names a new Local channel pair: Local/101@phones-0000003d.
func (s *Sim) localName(exten, context string) string {
	s.localSeq++
	return fmt.Sprintf("Local/%s@%s-%08x", exten, context, s.localSeq)
}

// techName names a new channel of Config.Tech: PJSIP/101-0000002a.
func (s *Sim) techName(endpoint string) string {
	s.techSeq++
	return fmt.Sprintf("%s/%s-%08x", s.cfg.Tech, endpoint, s.techSeq)
}

// endpointOf is the endpoint of a channel name, as Asterisk's device
// state and endpoint subscriptions name it: Local/101@phones, PJSIP/101.
func endpointOf(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

package ari

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

const (
	// maxMessage bounds one event; the largest real one is a few KiB.
	maxMessage = 4 << 20
	// queueLen is how many events a connection holds while the resync's
	// GET /channels is under way. Overflowing it means that call would
	// have lost events anyway: the connection starts over.
	queueLen = 16384
	// closeWait is how long a shutdown waits for Asterisk to answer the
	// close frame.
	closeWait = 500 * time.Millisecond
)

var errQueueFull = fmt.Errorf("more than %d ARI events arrived before they could be handed on", queueLen)

// errOverrun ends a connection whose events call tracking fell too far
// behind to keep: the next connection's resync says what they would have.
var errOverrun = errors.New("call tracking fell more than its backlog of ARI events behind; events were given up, starting over to resync")

// connect makes one connection and serves it until it breaks or ctx is
// done. up is how long it was ready (0: it never was); err says why it
// ended. retries is how many attempts came before, for the log.
//
// The order matters: the reader starts at once, so that Asterisk never
// waits on us, and queues what it reads; then the event filter and the
// channel list; only after the resync built from that list are the queued
// events handed on. A call that changes during the GET /channels is thus
// in the list or in the queue, perhaps both (the tracker takes an event
// that repeats the list idempotently), and never lost. Once the queue is
// empty the reader hands events on itself: a goroutine fewer between
// Asterisk and the pop.
func (c *Client) connect(ctx context.Context, retries int) (up time.Duration, err error) {
	ws, err := c.dial(ctx)
	if err != nil {
		return 0, err
	}
	r := &reader{
		ws:   ws,
		wait: 2 * c.cfg.PingInterval,
		msgs: make(chan []byte, queueLen),
		done: make(chan struct{}),
		m:    c.m,
		errs: &c.diag,
	}
	hc := hookOf(ws.NetConn())
	if hc != nil {
		hc.before = r.flushed
	}
	// Batched only with the hook, which flushes before every read.
	c.in.batched = hc != nil
	go r.run()
	stopPing := make(chan struct{})
	pingErr := make(chan error, 1)
	go ping(ws, c.cfg.PingInterval, stopPing, pingErr)
	defer func() {
		close(stopPing)
		if ctx.Err() != nil {
			// Shutting down: say goodbye and give Asterisk a moment to
			// answer, so neither side logs a broken connection.
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "shutting down"),
				time.Now().Add(closeWait))
			select {
			case <-r.done:
			case <-time.After(closeWait):
			}
		}
		ws.Close()
		<-r.done
		// What this goroutine decoded before the reader took over, if
		// the connection ended first, goes on with the rest.
		c.in.Flush(ctx)
	}()

	if err := c.checkIdentity(ctx); err != nil {
		return 0, err
	}
	if err := c.filterEvents(ctx); err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		// Asterisk older than 16.23/18.9 has no event filter; the decoder
		// skips unused events anyway, it only costs bandwidth.
		c.diag.record(time.Now(), ErrorFilter, "event filter not set, so Asterisk sends every event: "+err.Error())
		c.log.Warn("ARI event filter not set; all events will be sent", "err", err)
	}
	chans, err := c.Channels(ctx)
	if err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	// Bridges tell who answered while we were away when the channels do
	// not carry CHANNEL(linkedid). Without them the resync still works
	// from the channels' states.
	bridges, err := c.Bridges(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		c.log.Warn("cannot list Asterisk's bridges; calls answered while the events were missed are found from their channels' states only", "err", err)
		bridges = nil
	}
	// Channels that entered our app while we were away, or whose continue
	// was lost with the old socket, wait there: they go through the Stasis
	// handler like new ones.
	waiting, err := c.waitingInApp(ctx)
	if err != nil {
		c.log.Warn("cannot list the channels waiting in our Stasis app; any left there wait for the caller to hang up", "err", err)
	}
	select {
	case <-r.done:
		// The socket broke during the resync: the next connection will
		// resync again.
		return 0, r.reason()
	default:
	}
	c.in.SendResync(ctx, screenpop.Event{Kind: screenpop.EventResync, Type: "Resync", At: time.Now().UTC(), Channels: chans, Waiting: waiting, Bridges: bridges})

	start := time.Now()
	c.m.Connected.Set(1)
	if c.diag.up(start) {
		c.m.Reconnects.Inc()
	}
	c.log.Info("connected to ARI", "url", c.base.String(), "app", c.cfg.App, "subscribe_all", c.cfg.SubscribeAll, "channels", len(chans), "attempts", retries+1)
	// Ready last: whoever sees it ready sees the metrics and the log line.
	c.ready.Store(true)
	defer func() {
		c.ready.Store(false)
		c.m.Connected.Set(0)
		up = max(time.Since(start), time.Nanosecond)
	}()

	feed := func(data []byte) {
		if ctx.Err() == nil { // nothing more once shutting down
			c.in.Feed(ctx, data)
		}
	}
	heard := func(sent time.Time) {
		if ctx.Err() == nil {
			c.in.Heard(ctx, sent)
		}
	}
	flush := func() { c.in.Flush(ctx) }
	for live := false; !live; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case data, ok := <-r.msgs:
			if !ok {
				return 0, r.reason()
			}
			feed(data)
		case err := <-pingErr:
			return 0, fmt.Errorf("ping Asterisk: %w", err)
		case <-c.in.Overrun():
			return 0, errOverrun
		default:
			// What this goroutine gathered goes on before the reader
			// takes over.
			c.in.Flush(ctx)
			live = r.goLive(feed, heard, flush)
		}
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.done:
		return 0, r.reason()
	case err := <-pingErr:
		return 0, fmt.Errorf("ping Asterisk: %w", err)
	case <-c.in.Overrun():
		return 0, errOverrun
	}
}

// filterEvents sets the event filter. Asterisk registers the application
// only after it has answered the websocket handshake, so a filter set at
// once can find no application (404): that is tried again, briefly.
func (c *Client) filterEvents(ctx context.Context) error {
	const tries, pause = 3, 100 * time.Millisecond
	for i := 1; ; i++ {
		err := c.setEventFilter(ctx)
		var se *StatusError
		if err == nil || i == tries || !errors.As(err, &se) || se.Code != http.StatusNotFound {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// dial opens the events websocket. A cancelled ctx also aborts a handshake
// that Asterisk accepted but does not answer.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	var (
		mu sync.Mutex
		nc net.Conn
	)
	d := *c.dialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		nc = conn
		mu.Unlock()
		return &hookConn{Conn: conn}, nil
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if nc != nil {
			nc.Close()
		}
	})
	defer stop()

	h := http.Header{}
	h.Set("Authorization", basicAuth(c.cfg.Username, c.cfg.Password))
	ws, resp, err := d.DialContext(ctx, c.events, h)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return nil, fmt.Errorf("open events websocket: ARI at %s: %w", c.base, err)
			}
			return nil, fmt.Errorf("open events websocket: %w", c.statusError(resp, http.MethodGet, "/events"))
		}
		return nil, fmt.Errorf("open events websocket: %w", c.transportError(err))
	}
	return ws, nil
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// reader is the one goroutine reading a connection. It queues what it
// reads until the resync is done, then hands each event to the intake,
// which never waits: neither call tracking nor the database can make
// Asterisk wait. It ends when the socket fails or is closed.
type reader struct {
	ws   *websocket.Conn
	wait time.Duration // the longest silence, pongs included, before the socket is declared dead
	msgs chan []byte   // closed when the reader ends
	done chan struct{} // closed when the reader ends, after err is set
	err  error
	m    *Metrics
	errs *diag
	// rest, when set, takes the answers to REST over the websocket
	// (outbound mode): it reports whether a message was one.
	rest func([]byte) bool

	mu sync.Mutex
	// feed, once set, takes every event read from then on, in the reader;
	// until then they queue in msgs. heard, set with it, is told of each
	// pong by the time its ping was sent.
	feed  func([]byte)
	heard func(sent time.Time)
	// flush, set with feed when the intake is batched, hands on what feed
	// gathered; the reader calls it before each read from the network
	// (hookConn) and when it ends.
	flush func()
}

// flushed is the hook the connection calls before each read: what was
// decoded from the bytes already read goes on before the reader may wait.
func (r *reader) flushed() {
	r.mu.Lock()
	flush := r.flush
	r.mu.Unlock()
	if flush != nil {
		flush()
	}
}

// goLive makes the reader hand events to feed itself, if none are queued;
// it reports whether it did. The caller has handed on every event it took
// from msgs, so the order is kept.
func (r *reader) goLive(feed func([]byte), heard func(sent time.Time), flush func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) > 0 {
		return false
	}
	r.feed, r.heard, r.flush = feed, heard, flush
	return true
}

// pong is told of each pong, in the reader, in order with the messages:
// the ping's payload is when it was sent (ping), and Asterisk echoes it.
func (r *reader) pong(data string) {
	sent, err := strconv.ParseInt(data, 10, 64)
	if err != nil || sent <= 0 {
		return
	}
	r.mu.Lock()
	heard := r.heard
	r.mu.Unlock()
	if heard != nil {
		heard(time.Unix(0, sent))
	}
}

// hand queues a copy of data or, once live, feeds it (the intake keeps
// none of it); false when the queue is full.
func (r *reader) hand(data []byte) bool {
	r.mu.Lock()
	feed := r.feed
	if feed == nil {
		select {
		case r.msgs <- bytes.Clone(data):
		default:
			r.mu.Unlock()
			return false
		}
	}
	r.mu.Unlock()
	if feed != nil {
		feed(data)
	}
	return true
}

func (r *reader) run() {
	defer close(r.done)
	defer close(r.msgs)
	defer r.flushed()
	r.ws.SetReadLimit(maxMessage)
	alive := func() error { return r.ws.SetReadDeadline(time.Now().Add(r.wait)) }
	r.ws.SetPongHandler(func(data string) error {
		if err := alive(); err != nil {
			return err
		}
		r.pong(data)
		return nil
	})
	if r.err = alive(); r.err != nil {
		return
	}
	var buf bytes.Buffer // a message's bytes, again and again once live
	for {
		typ, msg, err := r.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(msg)
		}
		if err != nil {
			r.err = err
			return
		}
		if r.err = alive(); r.err != nil {
			return
		}
		if typ != websocket.TextMessage {
			// Asterisk sends only text; whatever this is, it is no event.
			r.m.Malformed.Inc()
			r.errs.record(time.Now(), ErrorMalformed, fmt.Sprintf("skipped a websocket message of type %d: Asterisk sends events as text", typ))
			continue
		}
		if r.rest != nil && r.rest(buf.Bytes()) {
			continue
		}
		if !r.hand(buf.Bytes()) {
			r.err = errQueueFull
			return
		}
	}
}

// reason says in words why the reader ended; call it after done is closed.
func (r *reader) reason() error {
	var ne net.Error
	var ce *websocket.CloseError
	switch {
	case errors.As(r.err, &ne) && ne.Timeout():
		return fmt.Errorf("no message or pong from Asterisk for %s: %w", r.wait, r.err)
	case errors.Is(r.err, websocket.ErrReadLimit):
		return fmt.Errorf("an ARI message was larger than %d bytes: %w", maxMessage, r.err)
	case errors.As(r.err, &ce):
		return fmt.Errorf("Asterisk closed the events websocket: %w", r.err)
	case r.err == errQueueFull:
		return r.err
	}
	return fmt.Errorf("read events websocket: %w", r.err)
}

// ping pings every interval until stop is closed; the reader sees the pong
// (or its absence). A ping that cannot be written is reported on errc.
func ping(ws *websocket.Conn, interval time.Duration, stop <-chan struct{}, errc chan<- error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// The payload, echoed in the pong, is when it was sent.
			now := time.Now()
			if err := ws.WriteControl(websocket.PingMessage, strconv.AppendInt(nil, now.UnixNano(), 10), now.Add(interval)); err != nil {
				errc <- err
				return
			}
		}
	}
}

package ari

// Asterisk's outbound websockets (Asterisk 20.15, 21.10, 22.5 and later):
// ari.conf [x] type = outbound_websocket with websocket_client.conf
// connection_type = persistent makes Asterisk dial the daemon, with the
// username and password of websocket_client.conf as Basic auth and the
// subprotocol "ari" (res/res_http_websocket.c websocket_client_handshake).
// Its applications stay registered while no daemon is connected, and the
// events for them wait in memory until the next connection, which gets
// them first (res/ari/ari_websockets.c session_send_or_queue,
// session_update). REST requests travel over the same websocket as
// RESTRequest messages and come back as RESTResponse events
// (res/ari/ari_websocket_requests.c), answered by the session's one
// thread only after the queued events were written: the answer to the
// first request is the end of what Asterisk kept for us.

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

// outboundQueueLen is how many events an outbound connection holds while
// they wait: Asterisk writes all it queued at once, and a replay cut
// short is lost from its queue.
const outboundQueueLen = 1 << 17

// restResponse is the type of Asterisk's answers to REST over a websocket.
const restResponse = "RESTResponse"

// OutboundPath is where Asterisk's outbound websockets connect, on the
// daemon's HTTP address (websocket_client.conf uri).
const OutboundPath = "/ari/events"

// Subprotocol is the websocket subprotocol of ARI (websocket_client.conf
// protocols = ari).
const Subprotocol = "ari"

// ErrNotConnected: a REST call over the outbound websocket while Asterisk
// is not connected.
var ErrNotConnected = errors.New("Asterisk's outbound websocket is not connected")

// outbound is a client's state in outbound mode.
type outbound struct {
	// incoming hands the client the websockets the server accepted for
	// its box, newest only.
	incoming chan *websocket.Conn
	sess     atomic.Pointer[wsSession]
	// stopped: Run ended, and a websocket handed now would wait for no
	// one while Asterisk wrote into it.
	mu      sync.Mutex
	stopped bool

	// What the last connection tells the next one, in Run's goroutine:
	// the Asterisk's startup time, and whether it ended with Asterisk's
	// own close, read to the end.
	startup  string
	cleanEnd bool
}

func newOutbound() *outbound {
	return &outbound{incoming: make(chan *websocket.Conn, 1)}
}

// take hands the client a new websocket; one it had not taken yet is
// closed: Asterisk has one connection per box, the newest. It reports
// false, taking nothing, once the client's Run has ended.
func (o *outbound) take(ws *websocket.Conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return false
	}
	for {
		select {
		case o.incoming <- ws:
			return true
		default:
		}
		select {
		case old := <-o.incoming:
			old.Close()
		default:
		}
	}
}

// run marks the client running (started) or ended; once ended, a
// websocket handed but not taken is closed, so that Asterisk dials
// again.
func (o *outbound) run(started bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = !started
	if started {
		return
	}
	for {
		select {
		case ws := <-o.incoming:
			closeTryAgain(ws, "the box's reader stopped")
		default:
			return
		}
	}
}

// closeTryAgain closes a websocket Asterisk opened with 1013 (try again
// later): it dials again after its reconnect_interval.
func closeTryAgain(ws *websocket.Conn, why string) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, why), time.Now().Add(closeWait))
	ws.Close()
}

// OutboundUp reports whether Asterisk's outbound websocket is attached to
// the client now (from its first byte, before the resync): false for an
// inbound client.
func (c *Client) OutboundUp() bool { return c.out != nil && c.out.sess.Load() != nil }

// where says where the client's Asterisk is, for logs and errors.
func (c *Client) where() string {
	switch {
	case c.out == nil:
		return c.base.String()
	case c.cfg.PBX != "":
		return fmt.Sprintf("the outbound websocket of box %q (user %s)", c.cfg.PBX, c.cfg.Username)
	}
	return fmt.Sprintf("the outbound websocket of user %s", c.cfg.Username)
}

// viaWebsocket marks a context whose REST calls must go over the outbound
// websocket, in order with its events.
type viaWebsocket struct{}

func (c *Client) overWebsocket(ctx context.Context) bool {
	return c.out != nil && (!c.cfg.RESTOverHTTP || ctx.Value(viaWebsocket{}) != nil)
}

// wsSession is one outbound websocket's REST traffic.
type wsSession struct {
	ws   *websocket.Conn
	wmu  sync.Mutex // one writer at a time (pings are control frames)
	mu   sync.Mutex
	next uint64
	wait map[string]chan restReply // by request_id
	done chan struct{}             // closed when the reader ended
}

type restReply struct {
	Type         string `json:"type"`
	RequestID    string `json:"request_id"`
	StatusCode   int    `json:"status_code"`
	ReasonPhrase string `json:"reason_phrase"`
	ContentType  string `json:"content_type"`
	MessageBody  string `json:"message_body"`
}

var restResponseBytes = []byte(`"` + restResponse + `"`)

// take reports whether data is an answer to a request, and hands it to
// whoever waits for it.
func (s *wsSession) take(data []byte) bool {
	if !bytes.Contains(data, restResponseBytes) {
		return false
	}
	var r restReply
	if json.Unmarshal(data, &r) != nil || r.Type != restResponse {
		return false
	}
	s.mu.Lock()
	ch := s.wait[r.RequestID]
	delete(s.wait, r.RequestID)
	s.mu.Unlock()
	if ch != nil {
		ch <- r // buffered
	}
	return true
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type restRequest struct {
	Type          string      `json:"type"`
	TransactionID string      `json:"transaction_id"`
	RequestID     string      `json:"request_id"`
	Method        string      `json:"method"`
	URI           string      `json:"uri"`
	QueryStrings  []nameValue `json:"query_strings,omitempty"`
	ContentType   string      `json:"content_type,omitempty"`
	MessageBody   string      `json:"message_body,omitempty"`
}

// doWS makes one REST call over the outbound websocket, as do does over
// HTTP.
func (c *Client) doWS(ctx context.Context, method, path string, query url.Values, body, out any) error {
	s := c.out.sess.Load()
	if s == nil {
		return fmt.Errorf("%s %s: %w", method, path, ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	s.mu.Lock()
	s.next++
	id := "sp-" + strconv.FormatUint(s.next, 10)
	ch := make(chan restReply, 1)
	s.wait[id] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.wait, id)
		s.mu.Unlock()
	}
	// Asterisk resolves the URI below /ari/, with no leading slash.
	req := restRequest{Type: "RESTRequest", TransactionID: id, RequestID: id, Method: method, URI: strings.TrimPrefix(path, "/")}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range query[k] {
			req.QueryStrings = append(req.QueryStrings, nameValue{k, v})
		}
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			forget()
			return fmt.Errorf("encode request: %w", err)
		}
		req.ContentType, req.MessageBody = "application/json", string(b)
	}
	msg, err := json.Marshal(req)
	if err != nil {
		forget()
		return fmt.Errorf("encode request: %w", err)
	}
	s.wmu.Lock()
	deadline, _ := ctx.Deadline()
	_ = s.ws.SetWriteDeadline(deadline)
	err = s.ws.WriteMessage(websocket.TextMessage, msg)
	s.wmu.Unlock()
	if err != nil {
		forget()
		return fmt.Errorf("send %s %s over %s: %w", method, path, c.where(), err)
	}
	var r restReply
	select {
	case r = <-ch:
	case <-s.done:
		forget()
		return fmt.Errorf("%s %s: the websocket closed before Asterisk answered: %w", method, path, ErrNotConnected)
	case <-ctx.Done():
		forget()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s did not answer %s %s in time (is RESTResponse let through the application's event filter?): %w", c.where(), method, path, ctx.Err())
		}
		return ctx.Err()
	}
	if r.StatusCode < 200 || r.StatusCode > 299 {
		e := &StatusError{URL: c.where(), Method: method, Path: path, Code: r.StatusCode, AnsweredBefore: c.answered.Load()}
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal([]byte(r.MessageBody), &m) == nil {
			e.Message = m.Message
			if e.Message == "" {
				e.Message = m.Error
			}
		}
		if e.Message == "" {
			e.Message = r.ReasonPhrase
		}
		return e
	}
	c.answered.Store(true)
	if out == nil || r.MessageBody == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(r.MessageBody), out); err != nil {
		return fmt.Errorf("decode answer to %s %s from %s: %w", method, path, c.where(), err)
	}
	return nil
}

// eventIdentity is the one field of an event the identity check reads.
type eventIdentity struct {
	AsteriskID string `json:"asterisk_id"`
}

// connectOutbound serves one websocket Asterisk opened, as connect serves
// one the daemon opened. Asterisk writes first the events it queued while
// nobody was connected: they are handed on as they come, in order,
// checked to come from the box's Asterisk (asterisk_id). The answer to
// GET /asterisk/info, which Asterisk writes after them, ends them. Then:
//
//   - when Asterisk is the same process as on the last connection and
//     that one ended by Asterisk's own close, read to the end, the events
//     queued are all there was: call tracking goes on with no resync,
//     and its records stay exact;
//   - otherwise (the first connection, Asterisk restarted, or the last
//     connection broke or was closed by the daemon, so events may have
//     died in it) the calls are resynced as on an inbound connection.
func (c *Client) connectOutbound(ctx context.Context, retries int) (up time.Duration, err error) {
	o := c.out
	var ws *websocket.Conn
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case ws = <-o.incoming:
	}
	sess := &wsSession{ws: ws, wait: map[string]chan restReply{}, done: make(chan struct{})}
	r := &reader{
		ws:   ws,
		wait: 2 * c.cfg.PingInterval,
		msgs: make(chan []byte, outboundQueueLen),
		done: make(chan struct{}),
		m:    c.m,
		errs: &c.diag,
		rest: sess.take,
	}
	// Batched as the events websocket is, when the daemon's HTTP server
	// accepted the connection (HookListener).
	hc := hookOf(ws.NetConn())
	if hc != nil {
		hc.before = r.flushed
	}
	c.in.batched = hc != nil
	go func() {
		r.run()
		close(sess.done)
	}()
	o.sess.Store(sess)
	stopPing := make(chan struct{})
	pingErr := make(chan error, 1)
	go ping(ws, c.cfg.PingInterval, stopPing, pingErr)
	clean := false
	// windDown is set once ctx ended on a live connection: what Asterisk
	// wrote before it read our close is still handed on, for as long as
	// the close takes, instead of being lost to both sides.
	var windDown atomic.Pointer[context.Context]
	// feedCtx is the context events are handed on with: ctx, or the
	// wind-down's once ctx ended.
	feedCtx := func() context.Context {
		if wctx := windDown.Load(); ctx.Err() != nil && wctx != nil {
			return *wctx
		}
		return ctx
	}
	defer func() {
		if up == 0 && err != nil && ctx.Err() == nil {
			// Run logs a failure to connect once a minute; here the
			// connection was there, and what it carried may be lost.
			c.log.Warn("Asterisk's outbound websocket ended before it was ready", "pbx", c.cfg.PBX, "err", err)
		}
		o.sess.CompareAndSwap(sess, nil)
		close(stopPing)
		if ctx.Err() != nil {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*closeWait)
			defer cancel()
			windDown.Store(&wctx)
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"),
				time.Now().Add(closeWait))
			select {
			case <-r.done:
			case <-time.After(closeWait):
			}
		}
		ws.Close()
		<-r.done
		// What this goroutine decoded before the reader took over, if
		// the connection ended first, goes on with the rest: a clean end
		// means every event read was handed on.
		c.in.Flush(feedCtx())
		o.cleanEnd = clean
	}()
	refuse := func(err error) error {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "refused: see the daemon's log"),
			time.Now().Add(closeWait))
		return err
	}

	feed := func(data []byte) {
		if ctx.Err() == nil {
			c.in.Feed(ctx, data)
		} else if wctx := windDown.Load(); wctx != nil && (*wctx).Err() == nil {
			c.in.Feed(*wctx, data)
		}
	}
	flush := func() { c.in.Flush(feedCtx()) }
	// The replay can be a long burst: it waits for call tracking rather
	// than overflow its queue (the reader goes on reading meanwhile, so
	// Asterisk does not wait).
	replay := func(data []byte) {
		for len(c.in.out) >= cap(c.in.out) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		feed(data)
		flush() // one at a time, so that the wait above sees each
	}
	eid := ""
	var mine []byte // "asterisk_id":"<eid>", once known
	check := func(data []byte) error {
		if mine != nil && bytes.Contains(data, mine) {
			return nil
		}
		var id eventIdentity
		if json.Unmarshal(data, &id) != nil || id.AsteriskID == "" {
			return nil // the decoder says what is wrong with it
		}
		switch {
		case eid == "":
			if err := c.bind(id.AsteriskID); err != nil {
				return err
			}
			eid = id.AsteriskID
			mine, _ = json.Marshal(id)
			mine = mine[1 : len(mine)-1]
		case id.AsteriskID != eid:
			return fmt.Errorf("%w: %s sent events of two Asterisks, %s and %s", ErrIdentity, c.where(), eid, id.AsteriskID)
		}
		return nil
	}
	wctx := context.WithValue(ctx, viaWebsocket{}, true)
	type infoResult struct {
		info boxInfo
		err  error
	}
	infoc := make(chan infoResult, 1)
	go func() {
		info, err := c.info(wctx)
		infoc <- infoResult{info, err}
	}()
	// held is what Asterisk queued for us, kept until it is known whether
	// it follows what call tracking saw last without a hole (below).
	var held [][]byte
	handQueued := func() error {
		for {
			select {
			case data, ok := <-r.msgs:
				if !ok {
					// Cut short: what Asterisk queued is held, never
					// handed on, so the next connection is not trusted
					// (clean stays false) and resyncs.
					return r.reason()
				}
				if err := check(data); err != nil {
					return refuse(err)
				}
				held = append(held, data)
			default:
				return nil
			}
		}
	}
	var info boxInfo
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case data, ok := <-r.msgs:
			if !ok {
				// Cut short before the queue could be handed on: not
				// clean, whatever Asterisk's close said.
				return 0, r.reason()
			}
			if err := check(data); err != nil {
				return 0, refuse(err)
			}
			held = append(held, data)
		case res := <-infoc:
			if res.err != nil {
				return 0, res.err
			}
			info, waiting = res.info, false
		case err := <-pingErr:
			return 0, fmt.Errorf("ping Asterisk: %w", err)
		}
	}
	if eid != "" && info.System.EntityID != eid {
		return 0, refuse(fmt.Errorf("%w: %s sent events of Asterisk %s but says it is %s", ErrIdentity, c.where(), eid, info.System.EntityID))
	}
	if err := c.bind(info.System.EntityID); err != nil {
		return 0, refuse(err)
	}
	// What came before the answer is the queue.
	if err := handQueued(); err != nil {
		return 0, err
	}

	trusted, why := false, ""
	switch {
	case o.startup == "":
		why = "first connection"
	case o.startup != info.Status.StartupTime:
		why = "Asterisk restarted: the events queued for us died with it"
	case !o.cleanEnd:
		why = "the last connection broke or was closed by screenpop: events may have died in it"
	default:
		trusted = true
	}
	o.startup, o.cleanEnd = info.Status.StartupTime, false
	if err := c.filterEvents(wctx); err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		c.diag.record(time.Now(), ErrorFilter, "event filter not set, so Asterisk sends every event: "+err.Error())
		c.log.Warn("ARI event filter not set; all events will be sent", "err", err)
	}
	// A queue that follows on from what call tracking saw last goes on
	// from there. Otherwise a hole may come before it (events that died
	// with the last connection, or with the daemon that read them), and
	// call tracking cannot tell which calls it hides: it is resynced
	// first, from channel lists taken after the queue, so that a call the
	// hole touched is reconciled with what Asterisk has (and flagged)
	// instead of being folded as if nothing were missing; the queue
	// follows, as an inbound connection hands on the events read while
	// its lists were taken.
	chans := 0
	if !trusted {
		n, err := c.resyncOver(wctx, r)
		if err != nil {
			return 0, err
		}
		chans = n
	}
	for _, data := range held {
		replay(data)
	}
	held = nil

	start := time.Now()
	c.m.Connected.Set(1)
	if c.diag.up(start) {
		c.m.Reconnects.Inc()
	}
	c.log.Info("Asterisk connected its outbound websocket", "pbx", c.cfg.PBX, "user", c.cfg.Username, "entity_id", info.System.EntityID,
		"app", c.cfg.App, "resynced", !trusted, "why", why, "channels", chans, "attempts", retries+1)
	// Ready last, as in the events websocket's connect.
	c.ready.Store(true)
	defer func() {
		c.ready.Store(false)
		c.m.Connected.Set(0)
		up = max(time.Since(start), time.Nanosecond)
	}()

	for live := false; !live; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case data, ok := <-r.msgs:
			if !ok {
				return 0, c.endOutbound(r, &clean)
			}
			feed(data)
		case err := <-pingErr:
			return 0, c.pingFailed(r, err, &clean)
		case <-c.in.Overrun():
			return 0, errOverrun
		default:
			// What this goroutine gathered goes on before the reader
			// takes over.
			flush()
			live = r.goLive(feed, func(sent time.Time) {
				if ctx.Err() == nil {
					c.in.Heard(ctx, sent)
				}
			}, flush)
		}
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.done:
		return 0, c.endOutbound(r, &clean)
	case err := <-pingErr:
		return 0, c.pingFailed(r, err, &clean)
	case <-c.in.Overrun():
		// Events were given up: the daemon ends the connection, so the
		// next one is not trusted and resyncs (clean stays false).
		return 0, errOverrun
	}
}

// pingFailed: a ping could not be written, often because Asterisk has
// just closed the connection; its close, already read or on its way, is
// waited for a moment so that the end is told right.
func (c *Client) pingFailed(r *reader, err error, clean *bool) error {
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-r.done:
		return c.endOutbound(r, clean)
	case <-t.C:
		return fmt.Errorf("ping Asterisk: %w", err)
	}
}

// endOutbound says why the connection ended, and whether Asterisk ended
// it itself with a close read to the end: then it queues what comes next.
func (c *Client) endOutbound(r *reader, clean *bool) error {
	var ce *websocket.CloseError
	// Events given up since the last resync make no end clean: the next
	// connection must resync to say what they would have.
	*clean = errors.As(r.err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) && !c.in.backlog.gaveUp()
	return r.reason()
}

// resyncOver hands call tracking a resync built from the lists Asterisk
// gives over the websocket, as connect does; it returns the channels
// listed.
func (c *Client) resyncOver(ctx context.Context, r *reader) (int, error) {
	chans, err := c.Channels(ctx)
	if err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	bridges, err := c.Bridges(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		c.log.Warn("cannot list Asterisk's bridges; calls answered while the events were missed are found from their channels' states only", "err", err)
		bridges = nil
	}
	waiting, err := c.waitingInApp(ctx)
	if err != nil {
		c.log.Warn("cannot list the channels waiting in our Stasis app; any left there wait for the caller to hang up", "err", err)
	}
	select {
	case <-r.done:
		return 0, r.reason()
	default:
	}
	c.in.SendResync(ctx, screenpop.Event{Kind: screenpop.EventResync, Type: "Resync", At: time.Now().UTC(), Channels: chans, Waiting: waiting, Bridges: bridges})
	return len(chans), nil
}

// OutboundServer accepts the websockets Asterisk opens to the daemon
// (ari.conf type = outbound_websocket) and hands each to the client of
// the box whose credentials it presented. It is an http.Handler.
type OutboundServer struct {
	log      *slog.Logger
	refused  atomic.Int64
	turned   atomic.Int64
	upgrader websocket.Upgrader

	mu    sync.Mutex
	boxes map[string]*outboundBox // by username
}

// outboundBox is a box the server takes connections for: its client
// (Add), or the admission that picks one for each connection (AddGated).
type outboundBox struct {
	pbx, user, password string
	client              *Client
	admit               Admit
}

// Admit decides, for a connection that presented its box's credentials,
// which client takes it, before the websocket is upgraded. An error
// turns it away with 503 Service Unavailable and the error's text:
// Asterisk counts that a failed attempt and dials again after its
// reconnect_interval, which a load balancer sends to another daemon. The
// client must be in outbound mode with the box's username; ctx ends with
// the request.
type Admit func(ctx context.Context) (*Client, error)

// NewOutboundServer returns a server with no boxes; log may be nil.
func NewOutboundServer(log *slog.Logger) *OutboundServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &OutboundServer{
		log:   log,
		boxes: map[string]*outboundBox{},
		upgrader: websocket.Upgrader{
			Subprotocols:    []string{Subprotocol},
			ReadBufferSize:  64 << 10,
			WriteBufferSize: 4 << 10,
			// Asterisk sends no Origin; a browser does, and has no
			// business here: the default check refuses a foreign one.
		},
	}
}

// Add makes the server accept c's box; c must be in outbound mode, and
// its username not another box's.
func (s *OutboundServer) Add(c *Client) error {
	if c.out == nil {
		return fmt.Errorf("box %q does not connect outbound", c.cfg.PBX)
	}
	return s.add(&outboundBox{pbx: c.cfg.PBX, user: c.cfg.Username, password: c.cfg.Password, client: c})
}

// AddGated makes the server accept the connections of box pbx, which
// presents user and password, each handed to the client admit picks for
// it (in clustered mode: the client of the lease this daemon holds).
func (s *OutboundServer) AddGated(pbx, user, password string, admit Admit) error {
	if user == "" || admit == nil {
		return fmt.Errorf("box %q: an outbound box needs a username and an admission", pbx)
	}
	return s.add(&outboundBox{pbx: pbx, user: user, password: password, admit: admit})
}

func (s *OutboundServer) add(b *outboundBox) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.boxes[b.user]; other != nil {
		return fmt.Errorf("boxes %q and %q both use ARI user %q: Asterisk's outbound websocket is known by its user, so each box needs its own", other.pbx, b.pbx, b.user)
	}
	s.boxes[b.user] = b
	return nil
}

// Refused is how many connections were refused (bad credentials, wrong
// protocol).
func (s *OutboundServer) Refused() int64 { return s.refused.Load() }

// TurnedAway is how many connections with the right credentials an
// admission sent elsewhere (503).
func (s *OutboundServer) TurnedAway() int64 { return s.turned.Load() }

// record notes a refusal on the box's client, when it has one of its own.
func (b *outboundBox) record(kind, text string) {
	if b.client != nil {
		b.client.diag.record(time.Now(), kind, text)
	}
}

func (s *OutboundServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this address takes Asterisk's outbound ARI websocket (ari.conf type = outbound_websocket), nothing else", http.StatusBadRequest)
		return
	}
	user, password, ok := r.BasicAuth()
	s.mu.Lock()
	b := s.boxes[user]
	s.mu.Unlock()
	if !ok || b == nil || subtle.ConstantTimeCompare([]byte(password), []byte(b.password)) != 1 {
		s.refused.Add(1)
		why := "no username and password (set username and password in websocket_client.conf)"
		switch {
		case ok && b == nil:
			why = fmt.Sprintf("ARI user %q is no box's (websocket_client.conf username must be a box's username)", user)
		case ok:
			why = fmt.Sprintf("wrong password for ARI user %q (box %q): websocket_client.conf password must be the box's password", user, b.pbx)
			b.record(ErrorAuth, "refused Asterisk's outbound websocket from "+r.RemoteAddr+": "+why)
		}
		s.log.Error("refused an outbound ARI websocket", "from", r.RemoteAddr, "reason", why)
		w.Header().Set("WWW-Authenticate", `Basic realm="screenpop"`)
		http.Error(w, "refused: "+why, http.StatusUnauthorized)
		return
	}
	if protos := websocket.Subprotocols(r); len(protos) > 0 && !slices.Contains(protos, Subprotocol) {
		s.refused.Add(1)
		why := fmt.Sprintf("subprotocols %q offered; screenpop speaks %q (websocket_client.conf protocols = ari)", strings.Join(protos, ","), Subprotocol)
		b.record(ErrorConnect, "refused Asterisk's outbound websocket from "+r.RemoteAddr+": "+why)
		s.log.Error("refused an outbound ARI websocket", "from", r.RemoteAddr, "pbx", b.pbx, "reason", why)
		http.Error(w, "refused: "+why, http.StatusBadRequest)
		return
	}
	c := b.client
	if b.admit != nil {
		var err error
		c, err = b.admit(r.Context())
		if err == nil && (c == nil || c.out == nil || c.cfg.Username != b.user) {
			err = fmt.Errorf("box %q: no outbound client of user %q to take the connection", b.pbx, b.user)
		}
		if err != nil {
			s.turned.Add(1)
			s.log.Info("turned Asterisk's outbound websocket away; it dials again", "from", r.RemoteAddr, "pbx", b.pbx, "reason", err)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "not now: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c.log.Debug("Asterisk opened its outbound websocket", "pbx", b.pbx, "from", r.RemoteAddr)
	if !c.out.take(ws) {
		// The client stopped between its admission and now (its lease
		// lost, the daemon stopping): Asterisk dials again.
		s.turned.Add(1)
		closeTryAgain(ws, "box "+b.pbx+": its reader stopped; dial again")
	}
}

package arisim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// OutboundConfig is an outbound websocket of the simulated Asterisk, as
// ari.conf [x] type = outbound_websocket with a websocket_client.conf
// connection_type = persistent configures one (Asterisk 20.15, 21.10,
// 22.5 and later).
type OutboundConfig struct {
	// URI is where Asterisk connects, ws:// or wss://
	// (websocket_client.conf uri).
	URI string
	// Username and Password are sent as Basic auth (websocket_client.conf
	// username, password).
	Username, Password string
	// Protocols is websocket_client.conf protocols; default "ari".
	Protocols string
	// Apps are the applications the connection serves (ari.conf apps);
	// default Config.App. SubscribeAll is ari.conf subscribe_all.
	Apps         []string
	SubscribeAll bool
	// ReconnectInterval is the wall time between connection attempts
	// (websocket_client.conf reconnect_interval); default 500 ms.
	ReconnectInterval time.Duration
	// ConnectionTimeout bounds an attempt, the upgrade included
	// (websocket_client.conf connection_timeout); default 1 s.
	ConnectionTimeout time.Duration
}

// Outbound is a persistent outbound websocket: Asterisk dials the client
// and dials again whenever the connection ends. Its applications stay
// registered while it is down, and their events queue in memory, to be
// written first on the next connection (res/ari/ari_websockets.c
// session_send_or_queue and session_update); on a reconnection an
// ApplicationRegistered for each application follows them. REST requests
// come over the same websocket as RESTRequest messages and are answered
// as RESTResponse events, which pass the application's event filter like
// any event (res/ari/ari_websocket_requests.c).
type Outbound struct {
	s    *Sim
	cfg  OutboundConfig
	c    *conn // what the applications send to: frames, queued or written
	kick chan struct{}

	mu        sync.Mutex
	ws        *websocket.Conn // nil while disconnected
	queue     []frame         // what waits for the next connection
	held      bool            // Disconnect: stay down until Reconnect
	dropClean bool            // how the held connection is to be closed
	connects  int
	failed    int // connection attempts that failed
	queued    int // events ever queued
	lost      int // events written into a socket that had died
	lastErr   error
	ended     []time.Time // when each connection was found gone or closed
}

// outboundQueue is how many frames the writer may fall behind by.
const outboundQueue = 1 << 16

// Outbound registers the connection's applications and starts dialing
// cfg.URI; it keeps the connection up until Close of the simulator.
func (s *Sim) Outbound(cfg OutboundConfig) (*Outbound, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if cfg.URI == "" {
		return nil, errors.New("arisim: outbound websocket with no URI")
	}
	if cfg.Protocols == "" {
		cfg.Protocols = "ari"
	}
	if len(cfg.Apps) == 0 {
		cfg.Apps = []string{s.cfg.App}
	}
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = 500 * time.Millisecond
	}
	if cfg.ConnectionTimeout <= 0 {
		cfg.ConnectionTimeout = time.Second
	}
	o := &Outbound{s: s, cfg: cfg, kick: make(chan struct{}, 1)}
	o.c = &conn{s: s, apps: cfg.Apps, out: make(chan frame, outboundQueue), quit: make(chan struct{})}
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		return nil, errClosed
	}
	for _, name := range cfg.Apps {
		if s.apps[name] != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("arisim: application %s is already served; no other connection may serve an outbound websocket's apps", name)
		}
	}
	s.conns[o.c] = true
	for _, name := range cfg.Apps {
		s.apps[name] = &app{name: name, conn: o.c, all: cfg.SubscribeAll, sources: map[string]bool{}}
		// Registered with no websocket yet: it waits in the queue.
		o.c.send(frame{msg: appEvent("ApplicationRegistered", name, s.clock.now(), s.cfg.EntityID)})
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go o.run()
	return o, nil
}

// Connected reports whether the websocket is up.
func (o *Outbound) Connected() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ws != nil
}

// Connects is how many times the websocket was opened.
func (o *Outbound) Connects() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.connects
}

// Queued is how many events wait for the next connection now; Lost how
// many were written into a socket that had died (Asterisk loses those).
func (o *Outbound) Queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// QueuedTotal is how many events ever waited for a connection.
func (o *Outbound) QueuedTotal() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued
}

// Lost is how many events were written into a socket that had died.
func (o *Outbound) Lost() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lost
}

// Ended is when each connection ended, as Asterisk saw it: up to then,
// what it wrote into the socket it believes delivered.
func (o *Outbound) Ended() []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ended)
}

// Failed is how many connection attempts failed (refused, turned away,
// nothing listening).
func (o *Outbound) Failed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

// LastError is why the last connection attempt failed, nil if it worked.
func (o *Outbound) LastError() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastErr
}

// Disconnect closes the websocket and keeps it closed until Reconnect:
// events queue meanwhile. clean sends Asterisk's close (going away) first;
// otherwise the TCP connection just ends.
func (o *Outbound) Disconnect(clean bool) {
	o.mu.Lock()
	o.held, o.dropClean = true, clean
	o.mu.Unlock()
	o.poke()
}

// Reconnect lets the websocket connect again after Disconnect.
func (o *Outbound) Reconnect() {
	o.mu.Lock()
	o.held = false
	o.mu.Unlock()
	o.poke()
}

func (o *Outbound) poke() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

func (o *Outbound) isHeld() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.held
}

// hold queues f for the next connection.
func (o *Outbound) hold(f frame) {
	o.mu.Lock()
	o.queue = append(o.queue, f)
	o.queued++
	o.mu.Unlock()
}

// run is the connection's one writer: it dials, writes the queue, then
// every frame, and queues frames while there is no connection.
func (o *Outbound) run() {
	defer o.s.wg.Done()
	first := true
	for {
		ws, err := o.waitAndDial()
		if ws == nil {
			if err == nil {
				return // the simulator closed
			}
			continue
		}
		o.serve(ws, first)
		first = false
	}
}

// waitAndDial waits while the connection is held or the last attempt
// failed, queueing frames, then dials; (nil, nil) when the simulator
// closes.
func (o *Outbound) waitAndDial() (*websocket.Conn, error) {
	var timer <-chan time.Time
	if err := o.LastError(); err != nil {
		timer = time.After(o.cfg.ReconnectInterval)
	}
	for o.isHeld() || timer != nil {
		select {
		case f := <-o.c.out:
			o.hold(f)
		case <-o.kick:
		case <-timer:
			timer = nil
		case <-o.c.quit:
			return nil, nil
		}
	}
	ws, err := o.dial()
	o.mu.Lock()
	o.lastErr = err
	if err != nil {
		o.failed++
	}
	o.mu.Unlock()
	if err != nil {
		o.s.log.Debug("arisim: outbound websocket failed to connect", "uri", o.cfg.URI, "err", err)
		return nil, err
	}
	return ws, nil
}

func (o *Outbound) dial() (*websocket.Conn, error) {
	var protocols []string
	for _, p := range strings.Split(o.cfg.Protocols, ",") {
		if p = strings.TrimSpace(p); p != "" {
			protocols = append(protocols, p)
		}
	}
	d := websocket.Dialer{HandshakeTimeout: o.cfg.ConnectionTimeout, Subprotocols: protocols}
	h := http.Header{}
	if o.cfg.Username != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.cfg.Username+":"+o.cfg.Password)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*o.cfg.ConnectionTimeout)
	defer cancel()
	go func() {
		select {
		case <-o.c.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	ws, resp, err := d.DialContext(ctx, o.cfg.URI, h)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			return nil, fmt.Errorf("%s answered %s: %s", o.cfg.URI, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, err
	}
	if p := ws.Subprotocol(); p != "" && !slices.Contains(protocols, p) {
		ws.Close()
		return nil, fmt.Errorf("%s accepted subprotocol %q, which was not asked for", o.cfg.URI, p)
	}
	return ws, nil
}

// serve writes the queue and then every frame to ws until it ends.
func (o *Outbound) serve(ws *websocket.Conn, first bool) {
	ws.SetReadLimit(maxClientMessage)
	o.mu.Lock()
	o.ws = ws
	o.connects++
	queue := o.queue
	o.queue = nil
	o.mu.Unlock()
	o.s.log.Debug("arisim: outbound websocket connected", "uri", o.cfg.URI, "queued", len(queue))
	for _, f := range queue {
		o.write(ws, f)
	}
	if !first {
		o.s.mu.Lock()
		for _, name := range o.cfg.Apps {
			o.c.send(frame{msg: appEvent("ApplicationRegistered", name, o.s.clock.now(), o.s.cfg.EntityID)})
		}
		o.s.mu.Unlock()
	}
	// The requests are read only now: their answers come after the queue,
	// as on Asterisk, whose one session thread does both.
	readDone := make(chan error, 1)
	o.s.wg.Add(1)
	go func() {
		defer o.s.wg.Done()
		readDone <- o.read(ws)
	}()
	end := func() {
		ws.Close()
		<-readDone
		o.mu.Lock()
		o.ws = nil
		o.ended = append(o.ended, time.Now())
		o.mu.Unlock()
	}
	for {
		select {
		case f := <-o.c.out:
			if !o.write(ws, f) {
				end()
				return
			}
		case err := <-readDone:
			readDone <- err
			end()
			o.s.log.Debug("arisim: outbound websocket closed by the server", "err", err)
			return
		case <-o.kick:
			if o.isHeld() {
				o.mu.Lock()
				clean := o.dropClean
				o.mu.Unlock()
				if clean {
					_ = ws.WriteControl(websocket.CloseMessage,
						websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
				}
				end()
				return
			}
		case <-o.c.quit:
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, reasonShutdown), time.Now().Add(time.Second))
			end()
			return
		}
	}
}

// write writes f; a frame written into a socket that died is lost, as on
// Asterisk ("websocket closed"), and false says the socket is gone.
func (o *Outbound) write(ws *websocket.Conn, f frame) bool {
	_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, f.msg); err != nil {
		o.mu.Lock()
		o.lost++
		o.mu.Unlock()
		return false
	}
	if f.sent != nil {
		f.sent.At = time.Now()
		o.s.cfg.OnSend(*f.sent)
	}
	return true
}

// read answers the REST requests that come over ws until it fails.
func (o *Outbound) read(ws *websocket.Conn) error {
	for {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if typ != websocket.TextMessage {
			continue
		}
		reply := o.answer(msg)
		o.s.mu.Lock()
		if a := o.s.apps[o.cfg.Apps[0]]; a != nil && a.conn == o.c && a.passes("RESTResponse") {
			o.c.send(frame{msg: reply})
		}
		o.s.mu.Unlock()
	}
}

// passes reports whether the application's event filter lets a message
// of type typ through (stasis_app_event_allowed); s.mu is held.
func (a *app) passes(typ string) bool {
	if len(a.allowed) > 0 && !slices.Contains(a.allowed, typ) {
		return false
	}
	return !slices.Contains(a.disallowed, typ)
}

// restRequest is the RESTRequest message.
type restRequest struct {
	Type          string `json:"type"`
	TransactionID string `json:"transaction_id"`
	RequestID     string `json:"request_id"`
	Method        string `json:"method"`
	URI           string `json:"uri"`
	QueryStrings  []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"query_strings"`
	ContentType string `json:"content_type"`
	MessageBody string `json:"message_body"`
}

// answer carries out one request through the simulator's REST handler,
// as the connection's local ARI user (ari.conf local_ari_user), and
// encodes the RESTResponse.
func (o *Outbound) answer(msg []byte) []byte {
	var req restRequest
	if err := json.Unmarshal(msg, &req); err != nil {
		return o.response(restRequest{}, http.StatusBadRequest, "Failed to parse request message JSON", nil)
	}
	bad := func(why string) []byte {
		body, _ := json.Marshal(map[string]string{"message": why})
		return o.response(req, http.StatusBadRequest, "Bad request", body)
	}
	switch {
	case req.Type == "":
		return bad("No 'type' property.")
	case req.Type != "RESTRequest":
		return bad("Unknown request type.")
	case req.URI == "":
		return bad("Empty or missing 'uri' property.")
	case req.Method == "":
		return bad("Unknown or missing 'method' property.")
	case req.MessageBody != "" && req.ContentType != "application/json" && req.ContentType != "application/x-www-form-urlencoded":
		return bad("Unknown content type.")
	}
	path, rawQuery, _ := strings.Cut(req.URI, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return bad("Unable to parse query string.")
	}
	for _, nv := range req.QueryStrings {
		q.Add(nv.Name, nv.Value)
	}
	r := httptest.NewRequest(strings.ToUpper(req.Method), "/ari/"+path, strings.NewReader(req.MessageBody))
	r.URL.RawQuery = q.Encode()
	if req.MessageBody != "" {
		r.Header.Set("Content-Type", req.ContentType)
	}
	r.SetBasicAuth(o.s.cfg.Username, o.s.cfg.Password)
	rec := httptest.NewRecorder()
	o.s.serveARI(rec, r)
	return o.response(req, rec.Code, http.StatusText(rec.Code), bytes.TrimSpace(rec.Body.Bytes()))
}

// response encodes a RESTResponse as Asterisk does: its fields, then the
// application, time stamp and entity ID the session adds.
func (o *Outbound) response(req restRequest, code int, reason string, body []byte) []byte {
	b := []byte(`{"type":"RESTResponse","transaction_id":`)
	b = appendString(b, req.TransactionID)
	b = append(b, `,"request_id":`...)
	b = appendString(b, req.RequestID)
	b = fmt.Appendf(b, `,"status_code":%d,"reason_phrase":`, code)
	b = appendString(b, reason)
	b = append(b, `,"uri":`...)
	b = appendString(b, req.URI)
	if len(body) > 0 {
		var compact bytes.Buffer
		if json.Compact(&compact, body) == nil {
			b = append(b, `,"content_type":"application/json","message_body":`...)
			b = appendString(b, compact.String())
		}
	}
	b = append(b, `,"application":`...)
	b = appendString(b, o.cfg.Apps[0])
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, o.s.clock.now())
	b = append(b, `,"asterisk_id":`...)
	b = appendString(b, o.s.cfg.EntityID)
	return append(b, '}')
}

// appEvent is ApplicationRegistered (or Unregistered) as
// session_send_app_event writes it.
func appEvent(typ, app string, at time.Time, eid string) []byte {
	b := []byte(`{"type":`)
	b = appendString(b, typ)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, at)
	b = append(b, `,"application":`...)
	b = appendString(b, app)
	b = append(b, `,"asterisk_id":`...)
	b = appendString(b, eid)
	return append(b, '}')
}

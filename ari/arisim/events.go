package arisim

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// event is one ARI event, encoded up to what differs per application.
type event struct {
	typ string
	at  time.Time
	// pre is the fields Asterisk writes before "type" (ChannelVarset,
	// ChannelHangupRequest), each followed by a comma; body the fields
	// after "timestamp", each preceded by one.
	pre, body []byte
	// What the event is about, for subscriptions.
	subjects []*channel
	bridge   string
	device   string
	// consult is the consult bridge of an attended transfer: Asterisk
	// sends the BridgeAttendedTransfer to an application subscribed to
	// either bridge (res/stasis/app.c).
	consult string
	// stasisApp is set on StasisStart and StasisEnd, which go to that
	// application only.
	stasisApp string
	// dialStatus is a Dial's, for Config.OnSend.
	dialStatus string
}

// encode writes the event as Asterisk sends it to app.
func (ev *event) encode(app, eid string) []byte {
	b := make([]byte, 0, len(ev.pre)+len(ev.body)+128)
	b = append(b, '{')
	if ev.typ == "DeviceStateChanged" {
		// The one type Asterisk writes in another order.
		b = append(b, `"type":"DeviceStateChanged","application":`...)
		b = appendString(b, app)
		b = append(b, `,"timestamp":`...)
		b = appendTime(b, ev.at)
		b = append(b, ev.body...)
		b = append(b, `,"asterisk_id":`...)
		b = appendString(b, eid)
		return append(b, '}')
	}
	b = append(b, ev.pre...)
	b = append(b, `"type":`...)
	b = appendString(b, ev.typ)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, ev.at)
	b = append(b, ev.body...)
	b = append(b, `,"asterisk_id":`...)
	b = appendString(b, eid)
	b = append(b, `,"application":`...)
	b = appendString(b, app)
	return append(b, '}')
}

// publish hands an event to every application that wants it; s.mu is
// held.
func (s *Sim) publish(ev *event) {
	s.events.Add(1)
	for _, a := range s.apps {
		if a.wants(ev) {
			a.conn.send(frame{msg: ev.encode(a.name, s.cfg.EntityID), sent: s.sent(ev, a.name)})
		}
	}
}

// sent describes an event for Config.OnSend, or is nil without one; s.mu
// is held, so the channel is as the event shows it.
func (s *Sim) sent(ev *event, app string) *Sent {
	if s.cfg.OnSend == nil {
		return nil
	}
	sn := &Sent{App: app, Type: ev.typ, DialStatus: ev.dialStatus}
	if len(ev.subjects) > 0 {
		ch := ev.subjects[0]
		sn.CallID, sn.Channel, sn.State = ch.linkedID, ch.name, ch.state
	}
	return sn
}

// app is an ARI application, registered while its events websocket is
// open. Its event filter and subscriptions die with the socket, as on
// Asterisk.
type app struct {
	name string
	conn *conn
	// all is subscribeAll: every channel, bridge and device.
	all bool
	// allowed and disallowed are the event filter: when allowed is not
	// empty only its types pass, and disallowed types never do.
	allowed, disallowed []string
	// sources are explicit subscriptions: channel:ID, bridge:ID,
	// endpoint:PJSIP/101, deviceState:NAME.
	sources map[string]bool
}

func (a *app) wants(ev *event) bool {
	if ev.stasisApp != "" {
		if ev.stasisApp != a.name {
			return false
		}
	} else if !a.all && !a.subscribed(ev) {
		return false
	}
	if len(a.allowed) > 0 && !slices.Contains(a.allowed, ev.typ) {
		return false
	}
	return !slices.Contains(a.disallowed, ev.typ)
}

// subscribed reports whether, without subscribeAll, the event is about
// something the application follows: a channel in its Stasis or one it
// subscribed to, or a bridge, endpoint or device it subscribed to.
func (a *app) subscribed(ev *event) bool {
	for _, ch := range ev.subjects {
		if ch.stasisApp == a.name || a.sources["channel:"+ch.id] || a.sources["endpoint:"+endpointOf(ch.name)] {
			return true
		}
	}
	return ev.bridge != "" && a.sources["bridge:"+ev.bridge] ||
		ev.consult != "" && a.sources["bridge:"+ev.consult] ||
		ev.device != "" && a.sources["deviceState:"+ev.device]
}

// appJSON is the Application object of the REST interface.
type appJSON struct {
	Name             string      `json:"name"`
	ChannelIDs       []string    `json:"channel_ids"`
	BridgeIDs        []string    `json:"bridge_ids"`
	EndpointIDs      []string    `json:"endpoint_ids"`
	DeviceNames      []string    `json:"device_names"`
	EventsAllowed    []eventType `json:"events_allowed"`
	EventsDisallowed []eventType `json:"events_disallowed"`
}

type eventType struct {
	Type string `json:"type"`
}

// json describes the application; s.mu is held.
func (s *Sim) appJSON(a *app) appJSON {
	j := appJSON{Name: a.name, ChannelIDs: []string{}, BridgeIDs: []string{}, EndpointIDs: []string{}, DeviceNames: []string{},
		EventsAllowed: []eventType{}, EventsDisallowed: []eventType{}}
	for src := range a.sources {
		kind, id, _ := strings.Cut(src, ":")
		switch kind {
		case "channel":
			j.ChannelIDs = append(j.ChannelIDs, id)
		case "bridge":
			j.BridgeIDs = append(j.BridgeIDs, id)
		case "endpoint":
			j.EndpointIDs = append(j.EndpointIDs, id)
		case "deviceState":
			j.DeviceNames = append(j.DeviceNames, id)
		}
	}
	for id := range s.inStasis[a.name] {
		if !a.sources["channel:"+id] {
			j.ChannelIDs = append(j.ChannelIDs, id)
		}
	}
	for _, l := range [][]string{j.ChannelIDs, j.BridgeIDs, j.EndpointIDs, j.DeviceNames} {
		slices.Sort(l)
	}
	for _, t := range a.allowed {
		j.EventsAllowed = append(j.EventsAllowed, eventType{t})
	}
	for _, t := range a.disallowed {
		j.EventsDisallowed = append(j.EventsDisallowed, eventType{t})
	}
	return j
}

const (
	// sendQueue is how many events a websocket may fall behind before it
	// is dropped: about 1.5 s of a 100 calls/s load. Asterisk drops a
	// client whose socket will not take a write within its
	// websocket_write_timeout; it never slows calls down for one.
	sendQueue = 16384
	writeWait = 10 * time.Second
	// maxClientMessage bounds what a client may send; ARI clients send
	// nothing but control frames.
	maxClientMessage = 64 << 10
)

// conn is one events websocket. Events are queued by publish (under
// Sim.mu) and written by the conn's writer goroutine; its reader is the
// HTTP handler's goroutine, which answers pings and notices the client
// leaving.
type conn struct {
	s    *Sim
	ws   *websocket.Conn
	apps []string
	out  chan frame
	// quit is closed by stop; reason says why.
	quit     chan struct{}
	stopOnce sync.Once
	reason   string
}

// frame is a message queued on an events websocket; sent is non-nil when
// Config.OnSend is to be told of it.
type frame struct {
	msg  []byte
	sent *Sent
}

// send queues a message, dropping the connection if it is too far
// behind; s.mu is held.
func (c *conn) send(f frame) {
	select {
	case c.out <- f:
	default:
		c.stop("the client is too slow")
	}
}

// Why a connection ends, besides errors.
const (
	reasonShutdown = "Asterisk is shutting down"
	reasonGone     = "the client went away"
)

// stop makes the writer close the connection.
func (c *conn) stop(reason string) {
	c.stopOnce.Do(func() {
		c.reason = reason
		close(c.quit)
	})
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 16 << 10}

// serveEvents is GET /ari/events?app=NAME[,NAME]&subscribeAll=BOOL.
func (s *Sim) serveEvents(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, n := range strings.Split(r.URL.Query().Get("app"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		writeError(w, http.StatusBadRequest, "Missing parameter app")
		return
	}
	all := isTrue(r.URL.Query().Get("subscribeAll"))
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	ws.SetReadLimit(maxClientMessage)
	c := &conn{s: s, ws: ws, apps: names, out: make(chan frame, sendQueue), quit: make(chan struct{})}

	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.conns[c] = true
	for _, name := range names {
		if old := s.apps[name]; old != nil {
			// Asterisk keeps the old socket open but sends it nothing
			// more after this.
			old.conn.send(frame{msg: applicationReplaced(name, s.clock.now(), s.cfg.EntityID), sent: s.sent(&event{typ: "ApplicationReplaced"}, name)})
		}
		s.apps[name] = &app{name: name, conn: c, all: all, sources: map[string]bool{}}
	}
	s.wg.Add(2) // this handler and the writer: Close waits for both
	s.mu.Unlock()
	s.log.Debug("arisim: events websocket connected", "apps", names, "subscribe_all", all)

	go c.write()
	defer s.wg.Done()
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	c.stop(reasonGone)
	s.mu.Lock()
	delete(s.conns, c)
	for _, name := range names {
		if a := s.apps[name]; a != nil && a.conn == c {
			delete(s.apps, name)
		}
	}
	s.mu.Unlock()
	s.log.Debug("arisim: events websocket closed", "apps", names, "reason", c.reason)
}

// write is the connection's only writer.
func (c *conn) write() {
	defer c.s.wg.Done()
	// Closing the socket also ends the reader.
	defer c.ws.Close()
	for {
		select {
		case f := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, f.msg); err != nil {
				c.stop("write: " + err.Error())
				return
			}
			if f.sent != nil {
				f.sent.At = time.Now()
				c.s.cfg.OnSend(*f.sent)
			}
		case <-c.quit:
			switch c.reason {
			case reasonShutdown:
				_ = c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseGoingAway, c.reason), time.Now().Add(time.Second))
			case reasonGone:
			default:
				c.s.log.Warn("arisim: dropped an events websocket", "apps", c.apps, "reason", c.reason)
			}
			return
		}
	}
}

func applicationReplaced(app string, at time.Time, eid string) []byte {
	b := []byte(`{"type":"ApplicationReplaced","timestamp":`)
	b = appendTime(b, at)
	b = append(b, `,"application":`...)
	b = appendString(b, app)
	b = append(b, `,"asterisk_id":`...)
	b = appendString(b, eid)
	return append(b, '}')
}

// isTrue reads a boolean parameter the way Asterisk's ast_true does.
func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

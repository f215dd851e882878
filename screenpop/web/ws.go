package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

// Timing of operator sockets.
const (
	helloWait  = 10 * time.Second // to send the token after connecting
	writeWait  = 5 * time.Second  // for one message to go out
	pongWait   = 30 * time.Second // a page silent this long is gone
	pingPeriod = pongWait * 9 / 10
	// heartbeatPeriod is how often a page hears from the daemon when no
	// call moves: a page that hears nothing for longer shows it is offline
	// (a hung daemon keeps its sockets open, and browsers hide pings).
	heartbeatPeriod = 3 * time.Second
	// maxClientMessage bounds what a page may send: only small control
	// messages are expected.
	maxClientMessage = 4096
)

// Authenticator finds the operator a token belongs to.
type Authenticator interface {
	OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error)
}

// authWait bounds a token's check: a store slower than this is one that
// cannot answer now, and the page is asked to try again.
const authWait = 5 * time.Second

// hello is the page's first message: who it is and what it last saw.
// Epoch is the daemon the page's since belongs to (from its welcome).
type hello struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	Since uint64 `json:"since"`
	Epoch string `json:"epoch"`
}

// welcome answers a good hello. Epoch names this daemon's run: sequence
// numbers of another epoch mean nothing here.
type welcome struct {
	V        int                `json:"v"`
	Type     string             `json:"type"`
	Epoch    string             `json:"epoch"`
	Operator screenpop.Operator `json:"operator"`
}

// refusal is why a page's hello was not welcomed, and the close code that
// tells the page what to do: 1008 (policy violation) for a key that is
// not one, so the page forgets it; 1013 (try again later) for a key that
// could not be checked, so the page keeps it and retries.
type refusal struct {
	code   int
	reason string
}

func (r *refusal) Error() string { return r.reason }

// heartbeat is the message a page hears every heartbeatPeriod, encoded
// once: every idle page hears it every few seconds.
var heartbeat, _ = json.Marshal(struct {
	V    int    `json:"v"`
	Type string `json:"type"`
}{screenpop.MessageVersion, "heartbeat"})

// sockets serves GET /ws.
type sockets struct {
	hub      *screenpop.Hub
	auth     Authenticator
	log      *slog.Logger
	upgrader websocket.Upgrader
	open     atomic.Int64
}

// newSockets sizes the sockets for thousands of idle pages: a page sends
// only its hello and pongs, so its read buffer is small, and the write
// buffer is taken from a pool for each message rather than held by every
// socket between messages.
func newSockets(hub *screenpop.Hub, auth Authenticator, log *slog.Logger) *sockets {
	return &sockets{hub: hub, auth: auth, log: log, upgrader: websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
	}}
}

func (s *sockets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The upgrader's default origin check stays: a page from another site
	// may not use an operator's browser to read their calls.
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with the reason
	}
	handedOn := false
	defer func() {
		if !handedOn {
			ws.Close()
		}
	}()
	ws.SetReadLimit(maxClientMessage)

	op, h, refused := s.greet(r.Context(), ws)
	if refused != nil {
		s.log.Info("operator socket refused", "remote", r.RemoteAddr, "reason", refused.reason, "code", refused.code)
		closeWith(ws, refused.code, refused.reason)
		return
	}
	// The page is served on goroutines of its own, started with small
	// stacks, and this handler returns: its stack, grown by the HTTP
	// server and the token's lookup, would otherwise stay with every idle
	// page (an idle daemon collects no garbage, so no stack shrinks). The
	// socket is hijacked; the HTTP server no longer tracks it.
	s.open.Add(1)
	go s.serve(ws, op, h, r.RemoteAddr)
	handedOn = true
}

// serve runs an operator's page until it goes or the hub drops it.
func (s *sockets) serve(ws *websocket.Conn, op screenpop.Operator, h hello, remote string) {
	defer s.open.Add(-1)
	defer ws.Close()
	// The page's attributes are given with each line, not kept in a
	// logger of the page's own: that would be held by every idle page.
	s.log.Info("operator page connected", "operator", op.Extension, "remote", remote)
	defer func(start time.Time) {
		s.log.Info("operator page left", "operator", op.Extension, "remote", remote, "connected_for", time.Since(start).Round(time.Second))
	}(time.Now())
	sub := s.hub.Resume(op.Extension, h.Epoch, h.Since)
	defer sub.Close()
	if err := writeJSON(ws, welcome{V: screenpop.MessageVersion, Type: "welcome", Epoch: s.hub.Epoch(), Operator: op}); err != nil {
		return
	}
	done := make(chan struct{})
	go readUntilGone(ws, done)
	s.write(ws, sub, done, op.Extension)
}

// greet reads the hello and checks the token.
func (s *sockets) greet(ctx context.Context, ws *websocket.Conn) (screenpop.Operator, hello, *refusal) {
	ws.SetReadDeadline(time.Now().Add(helloWait))
	var h hello
	if err := ws.ReadJSON(&h); err != nil || h.Type != "hello" || h.Token == "" {
		return screenpop.Operator{}, h, &refusal{websocket.ClosePolicyViolation, "expected a hello message with the operator's token"}
	}
	actx, cancel := context.WithTimeout(ctx, authWait)
	defer cancel()
	op, err := s.auth.OperatorByToken(actx, h.Token)
	if errors.Is(err, screenpop.ErrNotFound) {
		return screenpop.Operator{}, h, &refusal{websocket.ClosePolicyViolation, "unknown token"}
	}
	if err != nil {
		s.log.Warn("an operator's key could not be checked; the page will retry", "err", err)
		return screenpop.Operator{}, h, &refusal{websocket.CloseTryAgainLater, "the key cannot be checked now (store unavailable); try again"}
	}
	return op, h, nil
}

// write is the connection's only writer: messages from the hub, and pings.
// One ticker serves both the heartbeat and the ping (every pingEvery
// beats): a timer fewer per page.
func (s *sockets) write(ws *websocket.Conn, sub *screenpop.Subscription, done <-chan struct{}, operator string) {
	const pingEvery = int(pingPeriod / heartbeatPeriod)
	beat := time.NewTicker(heartbeatPeriod)
	defer beat.Stop()
	for beats := 1; ; {
		select {
		case <-beat.C:
			if err := writeText(ws, heartbeat); err != nil {
				return
			}
			if beats++; beats%pingEvery == 0 {
				if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
					return
				}
			}
		case m, ok := <-sub.C:
			if !ok {
				// Dropped for being slow, or shutting down: the page
				// reconnects and catches up from its last sequence number.
				closeWith(ws, websocket.CloseTryAgainLater, "reconnect")
				return
			}
			if err := writeJSON(ws, m); err != nil {
				return
			}
			if m.Type == screenpop.MsgOffered && m.Call != nil {
				// From the hub taking the pop to the page's socket.
				s.log.Debug("pop sent", "operator", operator, "call", m.Call.ID, "seq", m.Seq, "latency", time.Since(m.At))
			}
		case <-done:
			return
		}
	}
}

func writeJSON(ws *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeText(ws, b)
}

func writeText(ws *websocket.Conn, b []byte) error {
	ws.SetWriteDeadline(time.Now().Add(writeWait))
	return ws.WriteMessage(websocket.TextMessage, b)
}

func closeWith(ws *websocket.Conn, code int, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
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
	// maxClientMessage bounds what a page may send: only small control
	// messages are expected.
	maxClientMessage = 4096
)

// Authenticator finds the operator a token belongs to.
type Authenticator interface {
	OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error)
}

// hello is the page's first message: who it is and what it last saw.
type hello struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	Since uint64 `json:"since"`
}

// welcome answers a good hello.
type welcome struct {
	V        int                `json:"v"`
	Type     string             `json:"type"`
	Operator screenpop.Operator `json:"operator"`
}

// sockets serves GET /ws.
type sockets struct {
	hub      *screenpop.Hub
	auth     Authenticator
	log      *slog.Logger
	upgrader websocket.Upgrader
	open     atomic.Int64
}

func (s *sockets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The upgrader's default origin check stays: a page from another site
	// may not use an operator's browser to read their calls.
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with the reason
	}
	s.open.Add(1)
	defer s.open.Add(-1)
	defer ws.Close()
	ws.SetReadLimit(maxClientMessage)

	op, since, err := s.greet(r.Context(), ws)
	if err != nil {
		s.log.Info("operator socket refused", "remote", r.RemoteAddr, "reason", err)
		closeWith(ws, websocket.ClosePolicyViolation, err.Error())
		return
	}
	log := s.log.With("operator", op.Extension, "remote", r.RemoteAddr)
	log.Info("operator page connected")
	defer func(start time.Time) {
		log.Info("operator page left", "connected_for", time.Since(start).Round(time.Second))
	}(time.Now())
	sub := s.hub.Subscribe(op.Extension, since)
	defer sub.Close()
	if err := writeJSON(ws, welcome{V: screenpop.MessageVersion, Type: "welcome", Operator: op}); err != nil {
		return
	}
	done := make(chan struct{})
	go s.read(ws, done)
	s.write(ws, sub, done, log)
}

// greet reads the hello and checks the token.
func (s *sockets) greet(ctx context.Context, ws *websocket.Conn) (screenpop.Operator, uint64, error) {
	ws.SetReadDeadline(time.Now().Add(helloWait))
	var h hello
	if err := ws.ReadJSON(&h); err != nil {
		return screenpop.Operator{}, 0, errors.New("expected a hello message with the operator's token")
	}
	if h.Type != "hello" || h.Token == "" {
		return screenpop.Operator{}, 0, errors.New("expected a hello message with the operator's token")
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	op, err := s.auth.OperatorByToken(actx, h.Token)
	if err != nil {
		return screenpop.Operator{}, 0, errors.New("unknown token")
	}
	return op, h.Since, nil
}

// read is the connection's only reader: it keeps the read deadline moving
// with pongs and notices when the page goes. Pages send nothing else that
// matters yet; anything malformed or oversized ends the connection.
func (s *sockets) read(ws *websocket.Conn, done chan<- struct{}) {
	defer close(done)
	ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
		ws.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// write is the connection's only writer: messages from the hub, and pings.
func (s *sockets) write(ws *websocket.Conn, sub *screenpop.Subscription, done <-chan struct{}, log *slog.Logger) {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
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
				log.Debug("pop sent", "call", m.Call.ID, "seq", m.Seq, "latency", time.Since(m.At))
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
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
	ws.SetWriteDeadline(time.Now().Add(writeWait))
	return ws.WriteMessage(websocket.TextMessage, b)
}

func closeWith(ws *websocket.Conn, code int, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

// boardEvery is how often an open wallboard gets the board: its waits
// tick by the second, and it doubles as the heartbeat by which the page
// tells a hung daemon from a quiet one.
const boardEvery = time.Second

// boardMessage carries the board to a wallboard page.
type boardMessage struct {
	V     int              `json:"v"`
	Type  string           `json:"type"`
	Staff *screenpop.Staff `json:"staff,omitempty"`
	Board *screenpop.Board `json:"board,omitempty"`
}

// Wallboard serves the supervisors' wallboard: GET /wallboard the page,
// GET /wallboard/ws its live board. The socket's first message from the
// page is {"type":"hello","token":TOKEN} with a staff token of the
// supervisor role (or admin); the daemon then sends the board every
// second until the page goes or the wallboard closes.
type Wallboard struct {
	auth  StaffAuthenticator
	board func(ctx context.Context) screenpop.Board
	log   *slog.Logger

	upgrader websocket.Upgrader

	// open counts the sockets being served, so that Close can wait for
	// them; closed, once set, refuses new ones.
	life   sync.Mutex
	closed bool
	done   chan struct{}
	open   sync.WaitGroup

	// One board serves every page open in the same second.
	mu     sync.Mutex
	last   []byte
	lastAt time.Time
}

// NewWallboard returns the wallboard; board builds the current board.
func NewWallboard(auth StaffAuthenticator, board func(ctx context.Context) screenpop.Board, log *slog.Logger) *Wallboard {
	return &Wallboard{auth: auth, board: board, log: log, done: make(chan struct{})}
}

// Mount puts the wallboard's page and socket on s.
func (wb *Wallboard) Mount(s *Server) {
	s.Handle("GET /wallboard", staticPage("wallboard.html"))
	s.Handle("GET /wallboard/ws", http.HandlerFunc(wb.serveSocket))
}

// Close closes every wallboard socket and waits for them to go, for
// shutdown: pages reconnect to the next daemon.
func (wb *Wallboard) Close() {
	wb.life.Lock()
	if !wb.closed {
		wb.closed = true
		close(wb.done)
	}
	wb.life.Unlock()
	wb.open.Wait()
}

func (wb *Wallboard) serveSocket(w http.ResponseWriter, r *http.Request) {
	wb.life.Lock()
	if wb.closed {
		wb.life.Unlock()
		WriteError(w, http.StatusServiceUnavailable, "the daemon is stopping")
		return
	}
	wb.open.Add(1)
	wb.life.Unlock()
	defer wb.open.Done()
	ws, err := wb.upgrader.Upgrade(w, r, nil) // the default origin check stays
	if err != nil {
		return
	}
	defer ws.Close()
	ws.SetReadLimit(maxClientMessage)

	st, refused := wb.greet(r.Context(), ws)
	if refused != nil {
		wb.log.Info("wallboard socket refused", "remote", r.RemoteAddr, "reason", refused.reason, "code", refused.code)
		closeWith(ws, refused.code, refused.reason)
		return
	}
	if err := writeJSON(ws, boardMessage{V: screenpop.MessageVersion, Type: "welcome", Staff: &st}); err != nil {
		return
	}
	done := make(chan struct{})
	go readUntilGone(ws, done)
	tick := time.NewTicker(boardEvery)
	defer tick.Stop()
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		b := wb.current(r.Context())
		ws.SetWriteDeadline(time.Now().Add(writeWait))
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		case <-done:
			return
		case <-wb.done:
			closeWith(ws, websocket.CloseGoingAway, "the daemon is stopping")
			return
		}
	}
}

// greet reads the hello and checks that the token may see the wallboard:
// a token the store says is no one's, or another role's, is refused (1008,
// the page signs out); one the store cannot check now is to be tried
// again (1013, the page keeps it), as on the operators' socket.
func (wb *Wallboard) greet(ctx context.Context, ws *websocket.Conn) (screenpop.Staff, *refusal) {
	ws.SetReadDeadline(time.Now().Add(helloWait))
	var h hello
	if err := ws.ReadJSON(&h); err != nil || h.Type != "hello" || h.Token == "" {
		return screenpop.Staff{}, &refusal{websocket.ClosePolicyViolation, "expected a hello message with a supervisor's token"}
	}
	actx, cancel := context.WithTimeout(ctx, authWait)
	defer cancel()
	st, err := wb.auth.StaffByToken(actx, h.Token)
	if errors.Is(err, screenpop.ErrNotFound) {
		return screenpop.Staff{}, &refusal{websocket.ClosePolicyViolation, "unknown staff token (the wallboard needs a supervisor's token)"}
	}
	if err != nil {
		wb.log.Warn("a wallboard's token could not be checked; the page will retry", "err", err)
		return screenpop.Staff{}, &refusal{websocket.CloseTryAgainLater, "the token cannot be checked now (store unavailable); try again"}
	}
	if !st.Role.Allows(screenpop.RoleSupervisor) {
		return screenpop.Staff{}, &refusal{websocket.ClosePolicyViolation, "the wallboard needs a token with the supervisor role; yours is " + string(st.Role)}
	}
	return st, nil
}

// current is the board message, built at most once a second.
func (wb *Wallboard) current(ctx context.Context) []byte {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if wb.last != nil && time.Since(wb.lastAt) < boardEvery/2 {
		return wb.last
	}
	b := wb.board(ctx)
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(boardMessage{V: screenpop.MessageVersion, Type: "board", Board: &b}); err != nil {
		wb.log.Error("encode the wallboard", "err", err)
	}
	wb.last, wb.lastAt = buf.Bytes(), time.Now()
	return wb.last
}

// readUntilGone is a socket's only reader (operators' and wallboards'):
// it keeps the read deadline moving with pongs and closes done when the
// page goes. Pages send nothing else that matters yet; anything malformed
// or oversized ends the connection.
func readUntilGone(ws *websocket.Conn, done chan<- struct{}) {
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

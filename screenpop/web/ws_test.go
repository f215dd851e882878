package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

type tokens map[string]screenpop.Operator

func (ts tokens) OperatorByToken(_ context.Context, token string) (screenpop.Operator, error) {
	if op, ok := ts[token]; ok {
		return op, nil
	}
	return screenpop.Operator{}, fmt.Errorf("find operator by token: %w", screenpop.ErrNotFound)
}

var operators = tokens{
	"tok-101": {ID: 1, Name: "Анна", Extension: "101"},
	"tok-102": {ID: 2, Name: "Борис", Extension: "102"},
}

func newTestServer(t *testing.T) (*screenpop.Hub, *httptest.Server) {
	t.Helper()
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return hub, srv
}

func dial(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// login says hello and reads the welcome and the snapshot.
func login(t *testing.T, srv *httptest.Server, token string, since uint64) (*websocket.Conn, screenpop.Message) {
	t.Helper()
	ws := dial(t, srv)
	if err := ws.WriteJSON(hello{Type: "hello", Token: token, Since: since}); err != nil {
		t.Fatal(err)
	}
	var w welcome
	if err := ws.ReadJSON(&w); err != nil || w.Type != "welcome" {
		t.Fatalf("no welcome: %v %+v", err, w)
	}
	return ws, read(t, ws)
}

// read reads the next message about calls, past the heartbeats.
func read(t *testing.T, ws *websocket.Conn) screenpop.Message {
	t.Helper()
	for {
		ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		var m screenpop.Message
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read message: %v", err)
		}
		if m.Type != "heartbeat" {
			return m
		}
	}
}

func closeCode(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	return closeCodeWithin(t, ws, 3*time.Second)
}

func closeCodeWithin(t *testing.T, ws *websocket.Conn, wait time.Duration) int {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
}

func call(id string) screenpop.PopCall {
	return screenpop.PopCall{ID: id, Caller: "+79161234567", Card: screenpop.Card{Lookup: screenpop.LookupPending}}
}

func TestSocketRefusesWhoeverHasNoValidToken(t *testing.T) {
	_, srv := newTestServer(t)
	tests := []struct {
		name string
		send func(ws *websocket.Conn)
	}{
		{"a wrong token", func(ws *websocket.Conn) { ws.WriteJSON(hello{Type: "hello", Token: "guess"}) }},
		{"no token", func(ws *websocket.Conn) { ws.WriteJSON(hello{Type: "hello"}) }},
		{"something that is not JSON", func(ws *websocket.Conn) { ws.WriteMessage(websocket.TextMessage, []byte("GET /etc/passwd")) }},
		{"a binary frame", func(ws *websocket.Conn) { ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2, 0xff}) }},
		{"a message over the size limit", func(ws *websocket.Conn) {
			ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","token":"`+strings.Repeat("x", 100000)+`"}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			ws := dial(t, srv)
			tt.send(ws)
			if code := closeCode(t, ws); code != websocket.ClosePolicyViolation && code != websocket.CloseMessageTooBig && code != -1 {
				t.Errorf("closed with %d, want a refusal", code)
			}
		})
	}
}

func TestSocketRefusesPagesFromOtherSites(t *testing.T) {
	_, srv := newTestServer(t)
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", http.Header{"Origin": {"https://evil.example"}})
	if err == nil {
		t.Fatal("a cross-origin socket was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("got %v, want 403", resp)
	}
}

func TestSocketStreamsOnlyTheOperatorsOwnCalls(t *testing.T) {
	hub, srv := newTestServer(t)
	a, snapA := login(t, srv, "tok-101", 0)
	b, _ := login(t, srv, "tok-102", 0)
	if snapA.Type != screenpop.MsgSnapshot {
		t.Fatalf("first message %s, want a snapshot", snapA.Type)
	}
	hub.Offer("102", call("for-b"))
	hub.Offer("101", call("for-a"))
	if m := read(t, a); m.Call.ID != "for-a" {
		t.Errorf("101 received %s", m.Call.ID)
	}
	if m := read(t, b); m.Call.ID != "for-b" {
		t.Errorf("102 received %s", m.Call.ID)
	}
}

func TestSocketReconnectGetsExactlyTheMissedMessages(t *testing.T) {
	hub, srv := newTestServer(t)
	ws, _ := login(t, srv, "tok-101", 0)
	hub.Offer("101", call("c1"))
	last := read(t, ws).Seq
	ws.Close()
	hub.Answered("c1", "101")
	hub.Offer("101", call("c2"))
	ws, snap := login(t, srv, "tok-101", last)
	if len(snap.Calls) != 2 {
		t.Errorf("snapshot has %d calls, want c1 active and c2 ringing", len(snap.Calls))
	}
	for i, want := range []string{screenpop.MsgAnswered, screenpop.MsgOffered} {
		if m := read(t, ws); m.Type != want || m.Seq != last+uint64(i)+1 {
			t.Errorf("got %s seq %d, want %s seq %d", m.Type, m.Seq, want, last+uint64(i)+1)
		}
	}
	hub.Ended("c1", screenpop.StatusAnswered)
	if m := read(t, ws); m.Type != screenpop.MsgEnded || m.Seq != last+3 {
		t.Errorf("live message %s seq %d after catching up", m.Type, m.Seq)
	}
}

func TestSocketThatStopsReadingIsDroppedWhileOthersKeepUp(t *testing.T) {
	hub, srv := newTestServer(t)
	stuck, _ := login(t, srv, "tok-101", 0) // never reads again
	live, _ := login(t, srv, "tok-101", 0)  // the same operator's other tab
	big := call("x")
	big.Card.Caller = strings.Repeat("9", 2000) // fill buffers quickly
	for i := 0; i < 3000; i++ {
		big.ID = fmt.Sprint("c", i)
		start := time.Now()
		hub.Offer("101", big)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("offer %d took %v: a stuck page slowed the hub", i, d)
		}
		if m := read(t, live); m.Call.ID != big.ID {
			t.Fatalf("live tab got %s, want %s", m.Call.ID, big.ID)
		}
	}
	if n := hub.Subscribers(); n != 1 {
		t.Errorf("%d pages subscribed, want only the live tab: the stuck page was not dropped", n)
	}
	_ = stuck
}

func TestSocketHeartbeatsWhileNoCallMoves(t *testing.T) {
	_, srv := newTestServer(t)
	ws, _ := login(t, srv, "tok-101", 0)
	ws.SetReadDeadline(time.Now().Add(2 * heartbeatPeriod))
	var m struct {
		V    int    `json:"v"`
		Type string `json:"type"`
	}
	if err := ws.ReadJSON(&m); err != nil || m.Type != "heartbeat" || m.V != screenpop.MessageVersion {
		t.Fatalf("a quiet socket sent %+v (%v), want a heartbeat within %v", m, err, 2*heartbeatPeriod)
	}
}

package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

func TestWallboardSocket(t *testing.T) {
	var built atomic.Int64
	wb := NewWallboard(staffTokens{
		"sup":     {ID: 1, Name: "Ольга", Role: screenpop.RoleSupervisor},
		"admin":   {ID: 2, Name: "Админ", Role: screenpop.RoleAdmin},
		"analyst": {ID: 3, Name: "Вера", Role: screenpop.RoleAnalyst},
	}, func(context.Context) screenpop.Board {
		built.Add(1)
		return screenpop.Board{At: time.Now(), Talking: 2}
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hub := screenpop.NewHub(0, 0)
	s := New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)))
	wb.Mount(s)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { wb.Close(); hub.Close(); srv.Close() })

	open := func(token string) *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/wallboard/ws", http.Header{"Origin": {srv.URL}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { ws.Close() })
		if err := ws.WriteJSON(hello{Type: "hello", Token: token}); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	next := func(ws *websocket.Conn) boardMessage {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m boardMessage
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		return m
	}

	for _, token := range []string{"sup", "admin"} {
		ws := open(token)
		if m := next(ws); m.Type != "welcome" || m.Staff == nil || m.Staff.ID == 0 {
			t.Errorf("%s: first message %+v, want the welcome", token, m)
		}
		first, second := next(ws), next(ws)
		if first.Type != "board" || first.Board == nil || first.Board.Talking != 2 || second.Type != "board" {
			t.Errorf("%s: then %+v and %+v, want a board every second", token, first, second)
		}
	}
	for token, reason := range map[string]string{"analyst": "supervisor role; yours is analyst", "nobody": "unknown staff token"} {
		ws := open(token)
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, reason) {
			t.Errorf("%s's token: %v, want closed with 1008 saying %q", token, err, reason)
		}
	}

	// Shutdown closes the open wallboards, and refuses new ones.
	ws := open("sup")
	next(ws)
	closed := make(chan struct{})
	go func() { wb.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a wallboard open")
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Errorf("the open wallboard ended with %v, want 1001 going away", err)
			}
			break
		}
	}
	if built.Load() == 0 {
		t.Error("no board was built")
	}
}

func TestWallboardKeepsATokenTheStoreCannotCheck(t *testing.T) {
	// The store is down: the token is not known to be wrong, so the page
	// is told to try again (1013) and keeps it, as the operators' page.
	wb := NewWallboard(downStore{}, func(context.Context) screenpop.Board { return screenpop.Board{} },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	hub := screenpop.NewHub(0, 0)
	s := New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)))
	wb.Mount(s)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { wb.Close(); hub.Close(); srv.Close() })
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/wallboard/ws", http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(hello{Type: "hello", Token: "sup"}); err != nil {
		t.Fatal(err)
	}
	if code := closeCodeWithin(t, ws, 2*authWait); code != websocket.CloseTryAgainLater {
		t.Errorf("closed with %d, want %d: try again later", code, websocket.CloseTryAgainLater)
	}
}

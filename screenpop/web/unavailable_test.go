package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/screenpop/screenpop/screenpop"
)

// downStore is a store that cannot be reached: it cannot say whose key
// anything is.
type downStore struct{}

var errDown = errors.New("dial tcp 127.0.0.1:5433: connect: connection refused")

func (downStore) OperatorByToken(context.Context, string) (screenpop.Operator, error) {
	return screenpop.Operator{}, errDown
}

func (downStore) StaffByToken(context.Context, string) (screenpop.Staff, error) {
	return screenpop.Staff{}, errDown
}

// slowStore answers only when asked to give up: a store that hangs.
type slowStore struct{}

func (slowStore) OperatorByToken(ctx context.Context, _ string) (screenpop.Operator, error) {
	<-ctx.Done()
	return screenpop.Operator{}, ctx.Err()
}

func TestAKeyThatCannotBeCheckedIsNotUnknown(t *testing.T) {
	for _, tt := range []struct {
		name string
		auth Authenticator
		// what the page is told, on the socket and by the API
		close, status int
	}{
		{"a key the store says is no one's is refused", operators, websocket.ClosePolicyViolation, http.StatusUnauthorized},
		{"a key the store is down for is to be tried again", downStore{}, websocket.CloseTryAgainLater, http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hub := screenpop.NewHub(0, 0)
			srv := httptest.NewServer(New(hub, tt.auth, slog.New(slog.NewTextHandler(io.Discard, nil)),
				Route{"GET /api/ping", func(w http.ResponseWriter, r *http.Request, op screenpop.Operator) { WriteJSON(w, 200, op) }}))
			t.Cleanup(func() { hub.Close(); srv.Close() })
			ws := dial(t, srv)
			ws.WriteJSON(hello{Type: "hello", Token: "tok-unknown"})
			if code := closeCode(t, ws); code != tt.close {
				t.Errorf("socket closed with %d, want %d", code, tt.close)
			}
			req, _ := http.NewRequest("GET", srv.URL+"/api/ping", nil)
			req.Header.Set("Authorization", "Bearer tok-unknown")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("API answered %d, want %d", resp.StatusCode, tt.status)
			}
			t.Logf("socket close %d, API %d", tt.close, resp.StatusCode)
		})
	}

	t.Run("a staff token the store is down for gets 503, not 401", func(t *testing.T) {
		h := RequireStaff(downStore{}, screenpop.RoleAnalyst, func(w http.ResponseWriter, r *http.Request, st screenpop.Staff) {
			t.Error("served without a checked token")
		})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/calls", nil)
		req.Header.Set("Authorization", "Bearer st-1")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("got %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
	})

	t.Run("a store that hangs is given up on and the page told to try again", func(t *testing.T) {
		hub := screenpop.NewHub(0, 0)
		srv := httptest.NewServer(New(hub, slowStore{}, slog.New(slog.NewTextHandler(io.Discard, nil))))
		t.Cleanup(func() { hub.Close(); srv.Close() })
		ws := dial(t, srv)
		ws.WriteJSON(hello{Type: "hello", Token: "tok-101"})
		if code := closeCodeWithin(t, ws, 2*authWait); code != websocket.CloseTryAgainLater {
			t.Errorf("socket closed with %d, want %d", code, websocket.CloseTryAgainLater)
		}
	})
}

func TestAPageFromAnEarlierDaemonStartsAfresh(t *testing.T) {
	hub, srv := newTestServer(t)
	hub.Offer("101", call("c1"))
	hub.Offer("101", call("c2"))
	ws := dial(t, srv)
	if err := ws.WriteJSON(hello{Type: "hello", Token: "tok-101", Since: 1}); err != nil {
		t.Fatal(err)
	}
	var w welcome
	if err := ws.ReadJSON(&w); err != nil || w.Epoch != hub.Epoch() || w.Epoch == "" {
		t.Fatalf("welcome %+v (%v), want this daemon's epoch %q", w, err, hub.Epoch())
	}
	if snap := read(t, ws); snap.Reset {
		t.Errorf("a page of this epoch got a reset")
	}
	if m := read(t, ws); m.Seq != 2 {
		t.Errorf("caught up from seq 1 with seq %d, want 2", m.Seq)
	}

	for _, tt := range []struct {
		name  string
		epoch string
		since uint64
	}{
		{"a page whose since belongs to another epoch", "an-earlier-daemon", 1},
		{"a page without an epoch whose since is beyond this daemon's", "", 40},
	} {
		t.Run(tt.name+" gets a reset snapshot and no old messages", func(t *testing.T) {
			ws := dial(t, srv)
			if err := ws.WriteJSON(hello{Type: "hello", Token: "tok-101", Since: tt.since, Epoch: tt.epoch}); err != nil {
				t.Fatal(err)
			}
			var w welcome
			if err := ws.ReadJSON(&w); err != nil || w.Epoch != hub.Epoch() {
				t.Fatalf("welcome %+v (%v)", w, err)
			}
			snap := read(t, ws)
			if !snap.Reset || len(snap.Calls) < 2 {
				t.Errorf("snapshot reset=%v with %d calls, want a reset with the ringing calls", snap.Reset, len(snap.Calls))
			}
			hub.Offer("101", call("live-"+tt.name))
			if m := read(t, ws); m.Type != screenpop.MsgOffered || m.Call.ID != "live-"+tt.name {
				t.Errorf("next message %s seq %d, want the live pop", m.Type, m.Seq)
			}
		})
	}
}

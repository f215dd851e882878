package ari

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// originateServer answers POST /ari/channels as Asterisk does: with the
// new channel, or with an error for an endpoint it does not have.
type originateServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []call
}

func newOriginateServer(t *testing.T) *originateServer {
	s := &originateServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "screenpop" || p != secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, call{Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(b)})
		s.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/ari/channels":
			var req struct {
				Endpoint  string `json:"endpoint"`
				ChannelID string `json:"channelId"`
			}
			json.Unmarshal(b, &req)
			if req.Endpoint == "PJSIP/999" {
				w.WriteHeader(http.StatusBadRequest)
				writeJSON(w, map[string]string{"message": "Endpoint not found"})
				return
			}
			writeJSON(w, map[string]any{"id": req.ChannelID, "name": req.Endpoint + "-00000001", "state": "Down"})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/subscription"):
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *originateServer) posts() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

func TestOriginate(t *testing.T) {
	req := screenpop.OriginateRequest{ChannelID: "screenpop-dial-1", Endpoint: "PJSIP/101", Extension: "+79161234567",
		Context: "from-internal", Priority: 1, CallerID: `"+79161234567" <101>`, Timeout: 30 * time.Second}
	const body = `{"endpoint":"PJSIP/101","extension":"+79161234567","context":"from-internal","priority":1,` +
		`"callerId":"\"+79161234567\" \u003c101\u003e","timeout":30,"channelId":"screenpop-dial-1"}`
	t.Run("the request travels in the body, so the client's number stays out of access logs", func(t *testing.T) {
		s := newOriginateServer(t)
		c := newTestClient(t, Config{URL: s.srv.URL + "/ari", Username: "screenpop", Password: secret, App: "screenpop", SubscribeAll: true})
		if err := c.Originate(context.Background(), req); err != nil {
			t.Fatalf("Originate: %v", err)
		}
		if diff := cmp.Diff([]call{{Path: "/ari/channels", Body: body}}, s.posts()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("without subscribeAll the new channel is subscribed to, so its call is followed", func(t *testing.T) {
		s := newOriginateServer(t)
		c := newTestClient(t, Config{URL: s.srv.URL + "/ari", Username: "screenpop", Password: secret, App: "screenpop"})
		if err := c.Originate(context.Background(), req); err != nil {
			t.Fatalf("Originate: %v", err)
		}
		want := []call{{Path: "/ari/channels", Body: body},
			{Path: "/ari/applications/screenpop/subscription", Query: "eventSource=channel%3Ascreenpop-dial-1"}}
		if diff := cmp.Diff(want, s.posts()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("an endpoint Asterisk refuses gives its reason", func(t *testing.T) {
		s := newOriginateServer(t)
		c := newTestClient(t, Config{URL: s.srv.URL + "/ari", Username: "screenpop", Password: secret, App: "screenpop"})
		bad := req
		bad.Endpoint = "PJSIP/999"
		err := c.Originate(context.Background(), bad)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(err.Error(), "Endpoint not found") {
			t.Fatalf("Originate = %v, want a 400 StatusError saying Endpoint not found", err)
		}
		if n := len(s.posts()); n != 1 {
			t.Errorf("%d requests, want the originate alone (no subscription to a channel that was never made)", n)
		}
	})
}

package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

type fakeHistory map[int64][]screenpop.ClientCall

func (f fakeHistory) ClientCalls(_ context.Context, id int64, limit int) ([]screenpop.ClientCall, error) {
	return f[id], nil
}

func TestHistoryAPI(t *testing.T) {
	hist := fakeHistory{7: {{CallID: "c1", Direction: screenpop.Inbound, Number: "+79161234567", Status: screenpop.StatusMissed,
		StartedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}}}
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)), HistoryRoutes(hist, allowAll{})...))
	t.Cleanup(func() { hub.Close(); srv.Close() })

	if code, _ := callAPI(t, srv, "", "GET", "/api/clients/7/calls", nil); code != http.StatusUnauthorized {
		t.Errorf("without a key: %d, want 401", code)
	}
	if code, _ := callAPI(t, srv, "tok-101", "GET", "/api/clients/seven/calls", nil); code != http.StatusBadRequest {
		t.Errorf("a bad ID: %d, want 400", code)
	}
	code, got := callAPI(t, srv, "tok-101", "GET", "/api/clients/7/calls", nil)
	calls, _ := got["calls"].([]any)
	if code != http.StatusOK || len(calls) != 1 || calls[0].(map[string]any)["call_id"] != "c1" {
		t.Errorf("got %d %v, want the client's one call", code, got)
	}
}

// allowAll lets every operator read and change everything, for the tests
// of what the API does once allowed.
type allowAll struct{}

func (allowAll) ClientReadable(context.Context, string, int64) (bool, error) { return true, nil }
func (allowAll) CallNotable(string, string, int64) bool                      { return true }
func (allowAll) LeadEditable(string, int64) bool                             { return true }
func (allowAll) ComplaintClosable(string, int64) bool                        { return true }

// logDown is an operator's permissions when the call log cannot say.
type logDown struct{ allowAll }

func (logDown) ClientReadable(context.Context, string, int64) (bool, error) {
	return false, errors.New("the call log is down")
}

// denyAll knows no operator's calls.
type denyAll struct{ allowAll }

func (denyAll) ClientReadable(context.Context, string, int64) (bool, error) { return false, nil }

// A history the permissions cannot vouch for is unavailable (503, try
// again), not "not yours" (404); one they deny is 404.
func TestHistoryAPIWhenTheCallLogCannotSay(t *testing.T) {
	hist := fakeHistory{7: {{CallID: "c1"}}}
	for _, tt := range []struct {
		name string
		may  Permissions
		want int
	}{{"the call log is down", logDown{}, http.StatusServiceUnavailable}, {"not the operator's client", denyAll{}, http.StatusNotFound}} {
		t.Run(tt.name, func(t *testing.T) {
			hub := screenpop.NewHub(0, 0)
			srv := httptest.NewServer(New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)), HistoryRoutes(hist, tt.may)...))
			t.Cleanup(func() { hub.Close(); srv.Close() })
			code, got := callAPI(t, srv, "tok-101", "GET", "/api/clients/7/calls", nil)
			if code != tt.want || got["calls"] != nil {
				t.Errorf("got %d %v, want %d and no calls", code, got, tt.want)
			}
		})
	}
}

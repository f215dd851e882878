package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// originates records what the Dialer asks of Asterisk.
type originates struct {
	mu   sync.Mutex
	reqs []screenpop.OriginateRequest
	err  error
}

func (o *originates) Originate(_ context.Context, req screenpop.OriginateRequest) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reqs = append(o.reqs, req)
	return o.err
}

func (o *originates) all() []screenpop.OriginateRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]screenpop.OriginateRequest(nil), o.reqs...)
}

// fakeCallbacks is a callback list of one number, +79161234567, until it
// is closed; 101 or 102 may claim it.
type fakeCallbacks struct {
	mu     sync.Mutex
	open   bool
	claim  *screenpop.Claim
	closed []string // operator: reason
	reads  int
}

const waiting = "+79161234567"

func (f *fakeCallbacks) Callbacks(_ context.Context, now time.Time) ([]screenpop.Callback, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if !f.open {
		return []screenpop.Callback{}, nil
	}
	return []screenpop.Callback{{Number: waiting, Attempts: 2, DID: "74951112233", Claim: f.claim}}, nil
}

func (f *fakeCallbacks) ClaimCallback(_ context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if number != waiting || !f.open {
		return screenpop.Callback{}, screenpop.ErrNoCallback
	}
	if f.claim != nil && f.claim.Operator != operator {
		return screenpop.Callback{}, &screenpop.ClaimedError{Claim: *f.claim}
	}
	f.claim = &screenpop.Claim{Operator: operator, ClaimedAt: now}
	return screenpop.Callback{Number: number, Attempts: 2, Claim: f.claim}, nil
}

func (f *fakeCallbacks) CloseCallback(_ context.Context, number, operator, reason string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if number != waiting || !f.open {
		return screenpop.ErrNoCallback
	}
	f.open, f.claim = false, nil
	f.closed = append(f.closed, operator+": "+reason)
	return nil
}

func newCalloutServer(t *testing.T) (*httptest.Server, *originates, *fakeCallbacks) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := screenpop.NewHub(0, 0)
	pbx, cbs := &originates{}, &fakeCallbacks{open: true}
	callouts := screenpop.NewCallouts(pbx, screenpop.CalloutConfig{Endpoint: "PJSIP/{ext}", Context: "from-internal", Region: "RU"}, hub, log)
	srv := httptest.NewServer(New(hub, operators, log, CalloutRoutes(callouts, cbs, log)...))
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return srv, pbx, cbs
}

func TestCalloutAPI(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		path      string
		body      any
		wantCode  int
		wantError string // what the page shows; "" for success
	}{
		{"dialling without the operator's key is refused", "", "/api/dial", map[string]any{"number": "89161234567"},
			401, "send the operator's key as Authorization: Bearer KEY"},
		{"dialling with a wrong key is refused", "tok-999", "/api/dial", map[string]any{"number": "89161234567"}, 401, "unknown key"},
		{"an extension is not a client's number", "tok-101", "/api/dial", map[string]any{"number": "102"},
			400, `"102": not a phone number: give the client's number with its country code or in the national form`},
		{"letters are not a number", "tok-101", "/api/dial", map[string]any{"number": "Иван"}, 400, "not a phone number"},
		{"no number is not a number", "tok-101", "/api/dial", map[string]any{}, 400, "no number given"},
		{"a request naming the phone to ring is refused", "tok-101", "/api/dial",
			map[string]any{"number": "89161234567", "endpoint": "PJSIP/102"}, 400, `unknown field "endpoint"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, pbx, _ := newCalloutServer(t)
			code, got := callAPI(t, srv, tt.token, "POST", tt.path, tt.body)
			if code != tt.wantCode || !strings.Contains(errText(got), tt.wantError) {
				t.Errorf("got %d %v, want %d with error %q", code, got, tt.wantCode, tt.wantError)
			}
			if reqs := pbx.all(); len(reqs) != 0 {
				t.Errorf("Asterisk was asked to originate %+v", reqs)
			}
		})
	}
}

func errText(body map[string]any) string {
	s, _ := body["error"].(string)
	return s
}

func TestCalloutRingsTheAuthenticatedOperatorsOwnPhone(t *testing.T) {
	srv, pbx, _ := newCalloutServer(t)
	// Whatever the query says, the phone is the key's operator's.
	code, got := callAPI(t, srv, "tok-102", "POST", "/api/dial?endpoint=PJSIP/101&extension=101&context=default",
		map[string]any{"number": "8 916 123-45-67"})
	if code != http.StatusAccepted || got["number"] != "+79161234567" || got["endpoint"] != "PJSIP/102" {
		t.Fatalf("got %d %v, want 202 ringing PJSIP/102 for +79161234567", code, got)
	}
	want := []screenpop.OriginateRequest{{ChannelID: got["channel_id"].(string), Endpoint: "PJSIP/102", Extension: "+79161234567",
		Context: "from-internal", Priority: 1, CallerID: `"+79161234567" <102>`, Timeout: 30 * time.Second}}
	if diff := cmp.Diff(want, pbx.all()); diff != "" {
		t.Errorf("originate (-want +got):\n%s", diff)
	}
}

func TestCalloutShowsWhyAsteriskRefused(t *testing.T) {
	srv, pbx, _ := newCalloutServer(t)
	pbx.err = errors.New("ARI at http://pbx:8088/ari answered POST /channels with 400 Bad Request: Endpoint not found")
	code, got := callAPI(t, srv, "tok-101", "POST", "/api/dial", map[string]any{"number": "+79161234567"})
	if code != http.StatusBadGateway || !strings.Contains(errText(got), "Endpoint not found") {
		t.Errorf("got %d %v, want 502 with Asterisk's reason", code, got)
	}
}

func TestCallbacksAPI(t *testing.T) {
	srv, _, cbs := newCalloutServer(t)
	if code, _ := callAPI(t, srv, "", "GET", "/api/callbacks", nil); code != http.StatusUnauthorized {
		t.Errorf("the list without a key: %d, want 401", code)
	}
	code, got := callAPI(t, srv, "tok-101", "GET", "/api/callbacks", nil)
	if list, _ := got["callbacks"].([]any); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("GET /api/callbacks: %d %v, want the one item", code, got)
	}

	// 101 takes it; 102 is told so, and sees it on the list at once.
	if code, got := callAPI(t, srv, "tok-101", "POST", "/api/callbacks/%2B79161234567/claim", nil); code != http.StatusOK || got["claim"] == nil {
		t.Errorf("101 claiming: %d %v", code, got)
	}
	code, got = callAPI(t, srv, "tok-102", "POST", "/api/callbacks/89161234567/claim", nil)
	if code != http.StatusConflict || !strings.Contains(errText(got), "operator 101 is already calling this client back") {
		t.Errorf("102 claiming 101's item: %d %v, want 409 naming 101", code, got)
	}
	_, got = callAPI(t, srv, "tok-102", "GET", "/api/callbacks", nil)
	if item := got["callbacks"].([]any)[0].(map[string]any); item["claim"] == nil {
		t.Errorf("102 does not see 101's claim: %v", item)
	}

	for _, tc := range []struct {
		name, path string
		body       any
		code       int
		err        string
	}{
		{"closing without a reason is refused", "/api/callbacks/%2B79161234567/close", map[string]any{"reason": "  "}, 400, "say why"},
		{"closing something that is not a number is refused", "/api/callbacks/abc/close", map[string]any{"reason": "x"}, 400, "not a phone number"},
		{"closing a number with no callback is not found", "/api/callbacks/%2B79035550101/close", map[string]any{"reason": "x"}, 404, "no longer waits"},
	} {
		if code, got := callAPI(t, srv, "tok-102", "POST", tc.path, tc.body); code != tc.code || !strings.Contains(errText(got), tc.err) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, code, got, tc.code, tc.err)
		}
	}
	if code, _ := callAPI(t, srv, "tok-102", "POST", "/api/callbacks/%2B79161234567/close", map[string]any{"reason": "wrote to the chat"}); code != http.StatusNoContent {
		t.Errorf("closing: %d, want 204", code)
	}
	if diff := cmp.Diff([]string{"102: wrote to the chat"}, cbs.closed); diff != "" {
		t.Errorf("closures (-want +got):\n%s", diff)
	}
	if _, got := callAPI(t, srv, "tok-101", "GET", "/api/callbacks", nil); len(got["callbacks"].([]any)) != 0 {
		t.Errorf("the list after closing: %v, want it empty at once", got)
	}
}

func TestCallbackListIsReadOnceForPagesAskingTogether(t *testing.T) {
	srv, _, cbs := newCalloutServer(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if code, _ := callAPI(t, srv, "tok-101", "GET", "/api/callbacks", nil); code != http.StatusOK {
				t.Errorf("GET /api/callbacks: %d", code)
			}
		})
	}
	wg.Wait()
	if cbs.reads != 1 {
		t.Errorf("20 pages asking within a second read the list %d times, want once", cbs.reads)
	}
}

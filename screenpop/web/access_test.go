package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// TestOperatorsReachOnlyTheirCalls: an operator reads and changes what is
// on their own calls; anything else is 404, worded the same whether or not
// it exists.
func TestOperatorsReachOnlyTheirCalls(t *testing.T) {
	access := screenpop.NewAccess()
	// Call c1 rings 101; its card shows client 7 (with open complaint 31)
	// and lead 900. Call c2 rings 102 only, about client 8.
	access.Notice(screenpop.Notice{Kind: screenpop.NoticeRinging, CallID: "c1", Operator: "101"})
	access.SetCard("c1", screenpop.Card{Clients: []screenpop.ClientCard{
		{ClientRecord: screenpop.ClientRecord{Client: screenpop.Client{ID: 7}, OpenComplaintList: []screenpop.Complaint{{ID: 31}}}},
		{ClientRecord: screenpop.ClientRecord{Client: screenpop.Client{ID: 900, Lead: true}}},
	}})
	access.Notice(screenpop.Notice{Kind: screenpop.NoticeRinging, CallID: "c2", Operator: "102"})
	access.SetCard("c2", screenpop.Card{Clients: []screenpop.ClientCard{{ClientRecord: screenpop.ClientRecord{Client: screenpop.Client{ID: 8}}}}})

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hist := fakeHistory{7: {{CallID: "c1"}}, 8: {{CallID: "c2"}}}
	routes := append(HistoryRoutes(hist, access), NotesRoutes(newFakeNotebook(), nil, access,
		screenpop.Purposes{List: []string{"sales", "complaint"}, Complaint: "complaint"}, log)...)
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, log, routes...))
	t.Cleanup(func() { hub.Close(); srv.Close() })

	tests := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		want   int
	}{
		{"101 reads the history of the client on the call offered to them", "tok-101", "GET", "/api/clients/7/calls", nil, 200},
		{"101 cannot read the history of the client on 102's call", "tok-101", "GET", "/api/clients/8/calls", nil, 404},
		{"nor of a client that does not exist, answered the same", "tok-101", "GET", "/api/clients/9999/calls", nil, 404},
		{"102 reads their own client", "tok-102", "GET", "/api/clients/8/calls", nil, 200},
		{"101 notes the call offered to them, about its client", "tok-101", "POST", "/api/calls/c1/note", map[string]any{"purpose": "sales", "client_id": 7}, 200},
		{"101 cannot note 102's call", "tok-101", "POST", "/api/calls/c2/note", map[string]any{"purpose": "sales", "client_id": 8}, 404},
		{"nor a call that does not exist", "tok-101", "POST", "/api/calls/nope/note", map[string]any{"purpose": "sales"}, 404},
		{"nor name another client on their own call (a complaint on anyone)", "tok-101", "POST", "/api/calls/c1/note", map[string]any{"purpose": "complaint", "note": "x", "client_id": 8}, 404},
		{"101 names the lead on their screen", "tok-101", "POST", "/api/clients/900", map[string]any{"last_name": "Сидоров"}, 200},
		{"102 cannot rename 101's lead", "tok-102", "POST", "/api/clients/900", map[string]any{"last_name": "Подменов"}, 404},
		{"101 closes a complaint of their call's client", "tok-101", "POST", "/api/complaints/31/close", map[string]any{"reason": "решено"}, 200},
		{"102 cannot close it", "tok-102", "POST", "/api/complaints/31/close", map[string]any{"reason": "решено"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := callAPI(t, srv, tt.token, tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("%s %s = %d %v, want %d", tt.method, tt.path, code, got, tt.want)
			}
			if code == 404 && got["error"] != ErrNotYours {
				t.Errorf("the 404 says %q; want the same words whether or not the thing exists", got["error"])
			}
		})
	}
}

func TestWrongKeysAreLimitedPerAddress(t *testing.T) {
	guard := NewKeyGuard(func(err error) bool { return errors.Is(err, screenpop.ErrNotFound) })
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	guard.now = func() time.Time { return now }
	hub := screenpop.NewHub(0, 0)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(hub, operators, log, HistoryRoutes(fakeHistory{}, allowAll{})...)
	s.GuardKeys(guard)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { hub.Close(); srv.Close() })

	// The page signed in before the guessing started.
	if code, _ := callAPI(t, srv, "tok-101", "GET", "/api/clients/7/calls", nil); code != 200 {
		t.Fatalf("the signed-in page got %d", code)
	}
	codes := map[int]int{}
	for i := range 100 {
		code, _ := callAPI(t, srv, "guess-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "GET", "/api/clients/7/calls", nil)
		codes[code]++
	}
	if codes[http.StatusUnauthorized] != WrongKeyBurst || codes[http.StatusTooManyRequests] != 100-WrongKeyBurst {
		t.Errorf("100 wrong keys got %v; want %d refused as unknown, then the rest 429 unread", codes, WrongKeyBurst)
	}
	if guard.WrongKeys() != WrongKeyBurst || guard.Refused() != 100-WrongKeyBurst {
		t.Errorf("metrics: %d wrong, %d refused", guard.WrongKeys(), guard.Refused())
	}
	t.Run("the signed-in page from the same address never hits the limit", func(t *testing.T) {
		if code, _ := callAPI(t, srv, "tok-101", "GET", "/api/clients/7/calls", nil); code != 200 {
			t.Errorf("the signed-in page got %d", code)
		}
	})
	t.Run("a right key not seen before waits like a wrong one: guesses are not checked at all", func(t *testing.T) {
		if code, _ := callAPI(t, srv, "tok-102", "GET", "/api/clients/7/calls", nil); code != http.StatusTooManyRequests {
			t.Errorf("got %d, want 429", code)
		}
	})
	t.Run("after waiting, the address may try again", func(t *testing.T) {
		now = now.Add(2 * WrongKeyEvery)
		if code, _ := callAPI(t, srv, "tok-102", "GET", "/api/clients/7/calls", nil); code != 200 {
			t.Errorf("got %d, want 200", code)
		}
	})
	t.Run("a database failure is not the client's fault", func(t *testing.T) {
		g := NewKeyGuard(func(err error) bool { return false })
		for range 3 * WrongKeyBurst {
			g.check(t.Context(), "x", func() error { return errors.New("database down") })
		}
		if g.WrongKeys() != 0 || g.Refused() != 0 {
			t.Errorf("failures counted as wrong keys: %d, %d", g.WrongKeys(), g.Refused())
		}
	})
}

func TestAStaffTokenSeenLatelyIsKnownWhileTheDatabaseIsDown(t *testing.T) {
	guard := NewKeyGuard(func(err error) bool { return errors.Is(err, screenpop.ErrNotFound) })
	guarded := guard.Staff(staff)
	if guard.StaffSeen("admin-token") {
		t.Error("a token never used is taken for staff")
	}
	if _, err := guarded.StaffByToken(t.Context(), "admin-token"); err != nil {
		t.Fatal(err)
	}
	if !guard.StaffSeen("admin-token") || guard.StaffSeen("tok-101") {
		t.Error("the staff token that just worked is not known, or another is")
	}
}

package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// fakeNotebook keeps what the API asks it to, like the client base would:
// client 7 is Иван, client 900 a lead, complaint 31 open, 32 closed.
type fakeNotebook struct {
	mu        sync.Mutex
	notes     []screenpop.Note
	leads     map[int64]screenpop.LeadUpdate
	closed    map[int64]string
	failNotes error
}

func newFakeNotebook() *fakeNotebook {
	return &fakeNotebook{leads: map[int64]screenpop.LeadUpdate{}, closed: map[int64]string{32: "earlier"}}
}

func (b *fakeNotebook) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failNotes != nil {
		return n, b.failNotes
	}
	if n.ClientID != 0 && n.ClientID != 7 && n.ClientID != 900 {
		return n, screenpop.ErrUnknownClient
	}
	if n.OpensComplaint {
		n.ComplaintID = 33
	}
	b.notes = append(b.notes, n)
	return n, nil
}

func (b *fakeNotebook) UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch id {
	case 7:
		return screenpop.Client{}, screenpop.ErrNotLead
	case 900:
		b.leads[id] = u
		return screenpop.Client{ID: id, LastName: u.LastName, FirstName: u.FirstName, Patronymic: u.Patronymic, Lead: true}, nil
	}
	return screenpop.Client{}, screenpop.ErrUnknownClient
}

func (b *fakeNotebook) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id != 31 && id != 32 {
		return 0, screenpop.ErrUnknownComplaint
	}
	if _, done := b.closed[id]; done {
		return 7, screenpop.ErrComplaintClosed
	}
	b.closed[id] = by.Name + ": " + reason
	return 7, nil
}

// refreshes records the clients whose pops were redrawn.
type refreshes struct {
	mu  sync.Mutex
	ids []int64
}

func (r *refreshes) Refresh(clientID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, clientID)
}

var noteTime = time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)

func newNotesServer(t *testing.T) (*httptest.Server, *fakeNotebook, *refreshes) {
	t.Helper()
	book, pops := newFakeNotebook(), &refreshes{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	routes := NotesRoutes(book, pops, allowAll{}, screenpop.Purposes{List: []string{"service_booking", "sales", "complaint", "other"}, Complaint: "complaint"}, log)
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, log, routes...))
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return srv, book, pops
}

func TestNotesAPI(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		method    string
		path      string
		body      any
		wantCode  int
		wantError string // the "error" the page shows; "" for success
	}{
		{"a note without the operator's key is refused", "", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "sales", "client_id": 7}, 401, "send the operator's key as Authorization: Bearer KEY"},
		{"a note with a wrong key is refused", "tok-999", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "sales", "client_id": 7}, 401, "unknown key"},
		{"the purposes need a key too", "", "GET", "/api/purposes", nil, 401, "send the operator's key as Authorization: Bearer KEY"},
		{"an unknown purpose is refused, naming those there are", "tok-101", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "parts", "client_id": 7}, 400, `purpose "parts" is not one of service_booking, sales, complaint, other`},
		{"a complaint about nobody is refused", "tok-101", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "complaint", "note": "шумит"}, 400, "a complaint needs the client it is about"},
		{"a field the API does not know is refused", "tok-101", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "sales", "client": 7}, 400, `bad request body: json: unknown field "client"`},
		{"a note about a client who does not exist is not found", "tok-101", "POST", "/api/calls/c1/note",
			map[string]any{"purpose": "sales", "client_id": 8}, 404, "no such client"},
		{"a client's details cannot be changed as a lead's", "tok-101", "POST", "/api/clients/7",
			map[string]any{"last_name": "Подменов"}, 409, "the client is not a lead: their details come from the client base"},
		{"an empty lead form is refused", "tok-101", "POST", "/api/clients/900",
			map[string]any{"last_name": " ", "car": map[string]any{"make": ""}}, 400, "type the client's name or their car"},
		{"a lead ID that is not a number is refused", "tok-101", "POST", "/api/clients/abc",
			map[string]any{"last_name": "Сидоров"}, 400, "the ID in the path is not a number"},
		{"closing a complaint takes a reason", "tok-101", "POST", "/api/complaints/31/close",
			map[string]any{"reason": ""}, 400, "say how the complaint was resolved"},
		{"closing a closed complaint is a conflict", "tok-101", "POST", "/api/complaints/32/close",
			map[string]any{"reason": "ещё раз"}, 409, "the complaint is already closed"},
		{"closing no such complaint is not found", "tok-101", "POST", "/api/complaints/99/close",
			map[string]any{"reason": "?"}, 404, "no such complaint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, book, pops := newNotesServer(t)
			code, got := callAPI(t, srv, tt.token, tt.method, tt.path, tt.body)
			if code != tt.wantCode || got["error"] != tt.wantError {
				t.Errorf("%s %s = %d %v, want %d with error %q", tt.method, tt.path, code, got, tt.wantCode, tt.wantError)
			}
			if len(book.notes) != 0 || len(book.leads) != 0 || len(book.closed) != 1 || len(pops.ids) != 0 {
				t.Errorf("a refused request changed something: notes %v, leads %v, closed %v, pops redrawn %v",
					book.notes, book.leads, book.closed, pops.ids)
			}
		})
	}
}

func TestNotesAPISavesWhatTheOperatorSent(t *testing.T) {
	t.Run("a note is saved with its writer and redraws the client's pops", func(t *testing.T) {
		srv, book, pops := newNotesServer(t)
		code, got := callAPI(t, srv, "tok-102", "POST", "/api/calls/call-answered/note",
			map[string]any{"purpose": "complaint", "note": " Шумит подвеска ", "client_id": 7})
		if code != 200 || got["complaint_id"] != float64(33) || got["summary"] != "Жалоба: Шумит подвеска" {
			t.Errorf("POST note = %d %v", code, got)
		}
		if len(book.notes) != 1 {
			t.Fatalf("%d notes saved, want 1", len(book.notes))
		}
		n := book.notes[0]
		n.At = noteTime
		want := screenpop.Note{CallID: "call-answered", ClientID: 7, Purpose: "complaint", Text: "Шумит подвеска",
			Operator: operators["tok-102"], At: noteTime, Summary: "Жалоба: Шумит подвеска", OpensComplaint: true, ComplaintID: 33}
		if diff := cmp.Diff(want, n); diff != "" {
			t.Errorf("saved note (-want +got):\n%s", diff)
		}
		if time.Since(book.notes[0].At) > time.Minute {
			t.Errorf("the note is dated %v, want now", book.notes[0].At)
		}
		if diff := cmp.Diff([]int64{7}, pops.ids); diff != "" {
			t.Errorf("pops redrawn (-want +got):\n%s", diff)
		}
	})

	t.Run("a lead's name and car are saved and its pops redrawn", func(t *testing.T) {
		srv, book, pops := newNotesServer(t)
		code, got := callAPI(t, srv, "tok-101", "POST", "/api/clients/900", map[string]any{
			"last_name": "Сидоров", "first_name": "Пётр", "patronymic": "Ильич",
			"car": map[string]any{"make": "Kia", "model": "Rio", "plate": "в777ор77"},
		})
		if code != 200 || got["first_name"] != "Пётр" || got["lead"] != true {
			t.Errorf("POST /api/clients/900 = %d %v", code, got)
		}
		want := screenpop.LeadUpdate{LastName: "Сидоров", FirstName: "Пётр", Patronymic: "Ильич",
			Car: &screenpop.Car{Make: "Kia", Model: "Rio", Plate: "В777ОР77"}}
		if diff := cmp.Diff(want, book.leads[900]); diff != "" {
			t.Errorf("lead update (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int64{900}, pops.ids); diff != "" {
			t.Errorf("pops redrawn (-want +got):\n%s", diff)
		}
	})

	t.Run("a complaint is closed by the operator with their reason", func(t *testing.T) {
		srv, book, pops := newNotesServer(t)
		code, got := callAPI(t, srv, "tok-101", "POST", "/api/complaints/31/close", map[string]any{"reason": "Извинились"})
		if code != 200 || got["client_id"] != float64(7) {
			t.Errorf("POST close = %d %v", code, got)
		}
		if book.closed[31] != "Анна: Извинились" {
			t.Errorf("complaint 31 closed as %q", book.closed[31])
		}
		if diff := cmp.Diff([]int64{7}, pops.ids); diff != "" {
			t.Errorf("pops redrawn (-want +got):\n%s", diff)
		}
	})

	t.Run("the page gets the purposes to choose from", func(t *testing.T) {
		srv, _, _ := newNotesServer(t)
		code, got := callAPI(t, srv, "tok-101", "GET", "/api/purposes", nil)
		want := map[string]any{"purposes": []any{"service_booking", "sales", "complaint", "other"}, "complaint_purpose": "complaint"}
		if diff := cmp.Diff(want, got); diff != "" || code != 200 {
			t.Errorf("GET /api/purposes = %d (-want +got):\n%s", code, diff)
		}
	})

	t.Run("a client base that fails is the daemon's error, not the operator's", func(t *testing.T) {
		srv, book, _ := newNotesServer(t)
		book.failNotes = errors.New("connection refused")
		code, got := callAPI(t, srv, "tok-101", "POST", "/api/calls/c1/note", map[string]any{"purpose": "sales", "client_id": 7})
		if code != 500 || got["error"] != "could not save the note; try again" {
			t.Errorf("POST note = %d %v, want 500 saying to try again", code, got)
		}
	})
}

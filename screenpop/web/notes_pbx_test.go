package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// With several boxes a call is named by its box too: POST
// /api/calls/{id}/note?pbx= notes that box's call, and only an operator
// that box's call reached may.
func TestNoteOfABoxsCall(t *testing.T) {
	book, pops := newFakeNotebook(), &refreshes{}
	access := screenpop.NewAccess()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	routes := NotesRoutes(book, pops, access, screenpop.Purposes{List: []string{"sales"}}, log)
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, log, routes...))
	t.Cleanup(func() { hub.Close(); srv.Close() })

	// Call 1765000000.1 rang Борис (102) on pbx2, Анна (101) on pbx1.
	now := time.Now()
	screenpop.OnBox("pbx2", access).Notice(screenpop.Notice{Kind: screenpop.NoticeRinging, CallID: "1765000000.1", Operator: "102", At: now})
	screenpop.OnBox("pbx1", access).Notice(screenpop.Notice{Kind: screenpop.NoticeRinging, CallID: "1765000000.1", Operator: "101", At: now})

	for _, tc := range []struct {
		token, path string
		want        int
	}{
		{"tok-102", "/api/calls/1765000000.1/note?pbx=pbx2", 200},
		{"tok-102", "/api/calls/1765000000.1/note?pbx=pbx1", 404},
		{"tok-102", "/api/calls/1765000000.1/note", 404}, // the one box's call of that ID never reached them
		{"tok-101", "/api/calls/1765000000.1/note?pbx=pbx1", 200},
		{"tok-101", "/api/calls/1765000000.1/note?pbx=pbx2", 404},
	} {
		if code, got := callAPI(t, srv, tc.token, "POST", tc.path, map[string]any{"purpose": "sales", "note": tc.token}); code != tc.want {
			t.Errorf("%s POST %s = %d %v, want %d", tc.token, tc.path, code, got, tc.want)
		}
	}
	if len(book.notes) != 2 || book.notes[0].PBX != "pbx2" || book.notes[0].Text != "tok-102" ||
		book.notes[1].PBX != "pbx1" || book.notes[1].Text != "tok-101" || book.notes[0].CallID != book.notes[1].CallID {
		t.Errorf("notes saved: %+v, want one on each box's call 1765000000.1", book.notes)
	}
}

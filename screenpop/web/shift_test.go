package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// fakeLog lists the calls it holds that the filter's operator was
// offered, and remembers the filter.
type fakeLog struct {
	calls []screenpop.Call
	got   screenpop.CallFilter
	err   error
}

func (f *fakeLog) Calls(_ context.Context, cf screenpop.CallFilter, each func(screenpop.Call) error) error {
	f.got = cf
	for _, c := range f.calls {
		if err := each(c); err != nil {
			return err
		}
	}
	return f.err
}

type fakeDirectory struct{ err error }

func (f fakeDirectory) Operators(context.Context) ([]screenpop.Operator, error) {
	return []screenpop.Operator{{Name: "Анна", Extension: "101"}, {Name: "Борис", Extension: "102"}}, f.err
}

func (f fakeDirectory) Sources(context.Context) ([]screenpop.Source, error) {
	return []screenpop.Source{
		{DID: "+74951112233", Source: "Радио", From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		{DID: "+74957778899", Source: "Старый сайт", From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			To: ptr(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))},
	}, f.err
}

func ptr[T any](v T) *T { return &v }

type fakeClients struct{}

func (fakeClients) LookupPhone(_ context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	if e164 == "+79161234567" {
		return []screenpop.ClientRecord{{Client: screenpop.Client{LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович"}}}, nil
	}
	return nil, nil
}

func TestShiftAPIGivesTheOperatorsCallsAndTheNamesBehindNumbers(t *testing.T) {
	by := "102"
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	log := &fakeLog{calls: []screenpop.Call{
		{ID: "c2", Caller: "anonymous", Withheld: true, DID: "74957778899", Status: screenpop.StatusMissed, StartedAt: start.Add(time.Minute)},
		{ID: "c1", Caller: "89161234567", CallerE164: ptr("+79161234567"), DID: "74951112233", Source: "Радио", Status: screenpop.StatusAnswered, AnsweredBy: &by, StartedAt: start},
	}}
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)),
		ShiftRoutes(log, fakeDirectory{}, fakeClients{}, "RU", slog.New(slog.NewTextHandler(io.Discard, nil)))...))
	t.Cleanup(func() { hub.Close(); srv.Close() })

	code, got := callAPI(t, srv, "tok-101", "GET", "/api/shift", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/shift: %d %v", code, got)
	}
	if log.got.Operator != "101" || log.got.Limit != ShiftCalls || time.Since(log.got.From) < (ShiftHours*time.Hour-time.Minute) {
		t.Errorf("the call log was asked for %+v, want 101's calls of the last %d hours", log.got, ShiftHours)
	}
	want := []any{
		map[string]any{"call_id": "c2", "caller": "", "withheld": true, "did": "74957778899", "source": "", "client": "", "direction": "",
			"state": "ended", "status": "missed", "started_at": "2026-11-24T10:01:00Z"},
		map[string]any{"call_id": "c1", "caller": "89161234567", "withheld": false, "did": "74951112233", "source": "Радио", "client": "Петров Иван Петрович", "direction": "",
			"state": "ended", "status": "answered", "answered_by": "102", "started_at": "2026-11-24T10:00:00Z"},
	}
	if diff := cmp.Diff(want, got["calls"]); diff != "" || got["clients_incomplete"] != false {
		t.Errorf("the shift (clients incomplete: %v) (-want +got):\n%s", got["clients_incomplete"], diff)
	}

	code, got = callAPI(t, srv, "tok-101", "GET", "/api/directory?did=74951112233&did=74957778899&did=84951112233", nil)
	wantNames := map[string]any{
		"operators": map[string]any{"101": "Анна", "102": "Борис"},
		// The web site's number advertised nothing since 2021.
		"lines": map[string]any{"74951112233": "Радио", "84951112233": "Радио"},
	}
	if diff := cmp.Diff(wantNames, got); code != http.StatusOK || diff != "" {
		t.Errorf("GET /api/directory: %d (-want +got):\n%s", code, diff)
	}
	many := "/api/directory?did=1" + strings.Repeat("&did=1", maxLineLookups)
	if code, _ := callAPI(t, srv, "tok-101", "GET", many, nil); code != http.StatusBadRequest {
		t.Errorf("asking about %d numbers: %d, want 400", maxLineLookups+1, code)
	}

	log.err = errors.New("database is down")
	if code, got := callAPI(t, srv, "tok-101", "GET", "/api/shift", nil); code != http.StatusServiceUnavailable || !strings.Contains(got["error"].(string), "try again") {
		t.Errorf("with the call log down: %d %v, want 503 saying to try again", code, got)
	}
}

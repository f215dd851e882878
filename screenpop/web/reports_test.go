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

	"github.com/screenpop/screenpop/screenpop"
)

// reportStaff are the staff tokens of the reports tests.
type reportStaff map[string]screenpop.Staff

func (s reportStaff) StaffByToken(_ context.Context, token string) (screenpop.Staff, error) {
	if st, ok := s[token]; ok {
		return st, nil
	}
	return screenpop.Staff{}, fmt.Errorf("staff token: %w", screenpop.ErrNotFound)
}

// fakeSummary is a summary as a store would give it.
type fakeSummary struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Total int    `json:"total"`
}

// fakeReports answers a summary of the range it is asked for, and
// remembers the range.
type fakeReports struct {
	from, to time.Time
	sl       time.Duration
	err      error
}

func (f *fakeReports) Summary(_ context.Context, from, to time.Time, sl time.Duration) (fakeSummary, error) {
	f.from, f.to, f.sl = from, to, sl
	return fakeSummary{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Total: 42}, f.err
}

// Table gives one table, "sources": a source with a figure that does
// not exist (nil) and one whose name a spreadsheet would run.
func (s fakeSummary) Table(name string) ([]string, [][]any, bool) {
	if name != "sources" {
		return nil, nil, false
	}
	return []string{"source", "total", "avg_wait_seconds", "service_level"},
		[][]any{{"Авито", s.Total, nil, 0.25}, {"=HYPERLINK()", 1, 12.5, 1.0}}, true
}

var reportsZone = time.FixedZone("MSK", 3*60*60)

// newReportsServer serves the reports as the daemon mounts them, in
// Moscow, where it is now 01:30 on 31 March 2025 (still the 30th in UTC).
func newReportsServer(t *testing.T, reports *fakeReports) *httptest.Server {
	t.Helper()
	staff := reportStaff{
		"analyst-tok": {ID: 1, Name: "Вера Аналитик", Role: screenpop.RoleAnalyst},
		"admin-tok":   {ID: 2, Name: "Админ", Role: screenpop.RoleAdmin},
	}
	now := func() time.Time { return time.Date(2025, 3, 30, 22, 30, 0, 0, time.UTC) }
	hub := screenpop.NewHub(0, 0)
	s := New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("GET /api/reports/summary", RequireStaff(staff, screenpop.RoleAnalyst,
		ReportsSummary(reports, []string{"sources"}, 15*time.Second, reportsZone, now, slog.New(slog.NewTextHandler(io.Discard, nil)))))
	s.Handle("GET /reports", ReportsPage())
	srv := httptest.NewServer(s)
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return srv
}

func TestReportsSummaryAPI(t *testing.T) {
	day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 0, 0, 0, 0, reportsZone) }
	for _, tc := range []struct {
		name     string
		token    string
		query    string
		code     int
		from, to time.Time // the days the store is asked for, to excluded
		err      string    // in the error the analyst sees
	}{
		{name: "an analyst gets the last 30 days by default, to today in the daemon's zone",
			token: "analyst-tok", code: 200, from: day(3, 2), to: day(4, 1)},
		{name: "an admin may read it too",
			token: "admin-tok", query: "?from=2025-03-10&to=2025-03-11", code: 200, from: day(3, 10), to: day(3, 12)},
		{name: "one day is from and to the same date",
			token: "analyst-tok", query: "?from=2025-03-10&to=2025-03-10", code: 200, from: day(3, 10), to: day(3, 11)},
		{name: "from alone runs to today",
			token: "analyst-tok", query: "?from=2025-03-25", code: 200, from: day(3, 25), to: day(4, 1)},
		{name: "to alone is the 30 days up to it",
			token: "analyst-tok", query: "?to=2025-02-28", code: 200, from: day(1, 30), to: day(3, 1)},
		{name: "a leap year and a day (367 days) is allowed",
			token: "analyst-tok", query: "?from=2024-03-01&to=2025-03-02", code: 200, from: day(3, 1).AddDate(-1, 0, 0), to: day(3, 3)},
		{name: "more is refused",
			token: "analyst-tok", query: "?from=2024-03-01&to=2025-03-03", code: 400, err: "more than 367 days"},
		{name: "a date not in YYYY-MM-DD is refused",
			token: "analyst-tok", query: "?from=10.03.2025", code: 400, err: `from="10.03.2025" is not a date`},
		{name: "from after to is refused",
			token: "analyst-tok", query: "?from=2025-03-12&to=2025-03-10", code: 400, err: "from 2025-03-12 is after to 2025-03-10"},
		{name: "no token is refused",
			code: 401, err: "send a staff token"},
		{name: "an operator's key is not a staff token",
			token: "tok-101", code: 401, err: "operators' keys open the pop page only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reports := &fakeReports{}
			srv := newReportsServer(t, reports)
			code, got := callAPI(t, srv, tc.token, "GET", "/api/reports/summary"+tc.query, nil)
			if code != tc.code {
				t.Fatalf("got %d %v, want %d", code, got, tc.code)
			}
			if tc.code != 200 {
				if msg, _ := got["error"].(string); !strings.Contains(msg, tc.err) {
					t.Errorf("error %q, want it to say %q", msg, tc.err)
				}
				if !reports.from.IsZero() {
					t.Errorf("the store was asked for a summary")
				}
				return
			}
			if reports.sl != 15*time.Second {
				t.Errorf("the store was asked for a service level of %v, want the configured 15s", reports.sl)
			}
			if !reports.from.Equal(tc.from) || !reports.to.Equal(tc.to) || reports.from.Location() != reportsZone {
				t.Errorf("the store was asked for %s to %s, want %s to %s", reports.from, reports.to, tc.from, tc.to)
			}
			want := map[string]any{"from": tc.from.Format(time.DateOnly), "to": tc.to.AddDate(0, 0, -1).Format(time.DateOnly), "total": float64(42)}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: got %v, want %v (the store's summary as it is)", k, got[k], v)
				}
			}
		})
	}
}

func TestReportsSummaryCSVIsATableASpreadsheetOpens(t *testing.T) {
	srv := newReportsServer(t, &fakeReports{})
	get := func(query string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/reports/summary?"+query, nil)
		req.Header.Set("Authorization", "Bearer analyst-tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}
	code, body, h := get("from=2025-03-10&to=2025-03-11&format=csv&table=sources&sep=semicolon")
	want := "\uFEFFsource;total;avg_wait_seconds;service_level\r\nАвито;42;;0,25\r\n'=HYPERLINK();1;12,5;1\r\n"
	if code != 200 || body != want {
		t.Errorf("got %d\n%q\nwant\n%q", code, body, want)
	}
	if cd := h.Get("Content-Disposition"); cd != `attachment; filename="report-sources-2025-03-10_2025-03-11.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	code, body, _ = get("format=csv&table=hours")
	if code != 400 || !strings.Contains(body, `table=\"hours\": want one of sources`) {
		t.Errorf("an unknown table: got %d %s, want 400 naming the tables", code, body)
	}
}

func TestReportsSummaryAPISaysWhenTheCallLogCannotBeRead(t *testing.T) {
	srv := newReportsServer(t, &fakeReports{err: errors.New("connection refused")})
	code, got := callAPI(t, srv, "analyst-tok", "GET", "/api/reports/summary", nil)
	if code != http.StatusInternalServerError || got["error"] != "could not read the call log; try again" {
		t.Errorf("got %d %v, want 500 saying to try again", code, got)
	}
}

func TestReportsPageIsServedWithoutAToken(t *testing.T) {
	srv := newReportsServer(t, &fakeReports{})
	for _, path := range []string{"/reports", "/reports.html"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<script type="module" src="reports.js"`) ||
			!strings.Contains(string(body), `vendor/chart.umd.min.js`) {
			t.Errorf("GET %s: %d, want the reports page; got\n%s", path, resp.StatusCode, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q, want the page's own", path, csp)
		}
	}
	for _, path := range []string{"/reports.js", "/vendor/chart.umd.min.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s: %d %s, want the script", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

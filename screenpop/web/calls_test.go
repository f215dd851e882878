package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// fakeCallLog holds calls newest first and lists them as the stores do,
// by the keyset and the limit only: the stores' own tests check every
// filter. It remembers the filters it was asked for.
type fakeCallLog struct {
	mu        sync.Mutex
	calls     []screenpop.Call
	filters   []screenpop.CallFilter
	failAfter int // fail once this many calls were listed; 0 never
}

func (l *fakeCallLog) Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error {
	l.mu.Lock()
	l.filters = append(l.filters, f)
	calls := slices.Clone(l.calls)
	l.mu.Unlock()
	n := 0
	for _, c := range calls {
		if f.AfterID != "" && !(c.StartedAt.Before(f.AfterStartedAt) || c.StartedAt.Equal(f.AfterStartedAt) && c.ID < f.AfterID) {
			continue
		}
		if f.Limit > 0 && n == f.Limit {
			break
		}
		if l.failAfter > 0 && n == l.failAfter {
			return errors.New("the database went away")
		}
		if err := each(c); err != nil {
			return err
		}
		n++
	}
	return nil
}

func (l *fakeCallLog) lastFilter() screenpop.CallFilter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.filters[len(l.filters)-1]
}

// staffTokens are the staff tokens a test daemon knows; the operators'
// keys (operators, in ws_test.go) are not among them.
type staffTokens map[string]screenpop.Staff

func (s staffTokens) StaffByToken(_ context.Context, token string) (screenpop.Staff, error) {
	if st, ok := s[token]; ok {
		return st, nil
	}
	return screenpop.Staff{}, fmt.Errorf("staff token: %w", screenpop.ErrNotFound)
}

var staff = staffTokens{
	"analyst-token": {ID: 1, Name: "Маркетинг", Role: screenpop.RoleAnalyst},
	"admin-token":   {ID: 2, Name: "Админ", Role: screenpop.RoleAdmin},
}

var callsZone = time.FixedZone("MSK", 3*60*60)

// callsNow is "now" for the API under test: 15:00 in Moscow.
var callsNow = time.Date(2026, 3, 14, 15, 0, 0, 0, callsZone)

// callsServer serves GET /api/calls from log as the daemon mounts it,
// beside the operators' API.
func callsServer(t *testing.T, log CallLog) *httptest.Server {
	t.Helper()
	hub := screenpop.NewHub(0, 0)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(hub, operators, discard)
	s.Handle("GET /api/calls", RequireStaff(staff, screenpop.RoleAnalyst, CallsHandler(log, discard, func() time.Time { return callsNow })))
	srv := httptest.NewServer(s)
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return srv
}

// getCalls sends GET /api/calls?query with the token and the Accept
// header (none if empty) and returns the response and its body.
func getCalls(t *testing.T, srv *httptest.Server, token, accept, query string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/calls?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return resp, body
}

// page is a JSON answer of GET /api/calls.
type page struct {
	Calls []map[string]any `json:"calls"`
	Next  string           `json:"next"`
	Error string           `json:"error"`
}

func decodePage(t *testing.T, body []byte) page {
	t.Helper()
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("the answer is not JSON: %v\n%s", err, body)
	}
	return p
}

func (p page) ids() []string {
	var ids []string
	for _, c := range p.Calls {
		ids = append(ids, c["call_id"].(string))
	}
	return ids
}

// dayOfCalls is n calls, a minute apart, newest first, the last at 09:00
// Moscow time of callsNow's day.
func dayOfCalls(n int) []screenpop.Call {
	var calls []screenpop.Call
	for i := n - 1; i >= 0; i-- {
		at := time.Date(2026, 3, 14, 9, i, 0, 0, callsZone).UTC()
		calls = append(calls, screenpop.Call{ID: "call-" + string(rune('a'+i)), Direction: screenpop.Inbound, Caller: "+79161234567",
			Status: screenpop.StatusAnswered, StartedAt: at, EndedAt: at.Add(time.Minute), OfferedTo: []string{"101"}, TalkedTo: []string{"101"},
			Offers: []screenpop.Offer{{Operator: "101", Channel: "PJSIP/101-00000001", DialedAt: at, Outcome: screenpop.OutcomeAnswered}}})
	}
	return calls
}

func TestCallsAPIIsForStaffOnly(t *testing.T) {
	srv := callsServer(t, &fakeCallLog{calls: dayOfCalls(2)})
	tests := []struct {
		name, token, query string
		want               int
		says               string
	}{
		{"without a token it is refused", "", "", http.StatusUnauthorized, "staff token"},
		{"an operator's key is not a staff token", "tok-101", "", http.StatusUnauthorized, "operators' keys open the pop page only"},
		{"an unknown token is refused", "guess", "", http.StatusUnauthorized, "unknown staff token"},
		{"an analyst lists the calls", "analyst-token", "", http.StatusOK, ""},
		{"an admin lists the calls", "admin-token", "", http.StatusOK, ""},
		{"a download link carries the token in the query", "", "token=analyst-token&format=csv", http.StatusOK, ""},
		{"a download link with an operator's key is refused", "", "token=tok-101&format=csv", http.StatusUnauthorized, "unknown staff token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getCalls(t, srv, tt.token, "", tt.query)
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.says) {
				t.Errorf("got %d %s, want %d saying %q", resp.StatusCode, body, tt.want, tt.says)
			}
		})
	}
}

func TestCallsAPIReadsEveryParameter(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, callsZone) }
	today := day(2026, 3, 14)
	cursorAt := time.Date(2026, 3, 14, 6, 5, 0, 0, time.UTC)
	tests := []struct {
		name, query string
		want        screenpop.CallFilter
	}{
		{"no parameters list today's first page", "", screenpop.CallFilter{From: today, To: today.AddDate(0, 0, 1), Limit: defaultPage + 1}},
		{"dates are whole days in the daemon's zone, to's day included", "from=2026-03-01&to=2026-03-31",
			screenpop.CallFilter{From: day(2026, 3, 1), To: day(2026, 4, 1), Limit: 101}},
		{"instants are taken as given", "from=2026-03-01T09:00:00Z&to=2026-03-01T13:30:00%2B03:00",
			screenpop.CallFilter{From: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC), Limit: 101}},
		{"to alone is that day", "to=2026-03-10", screenpop.CallFilter{From: day(2026, 3, 10), To: day(2026, 3, 11), Limit: 101}},
		{"from alone runs to the end of today", "from=2026-03-10", screenpop.CallFilter{From: day(2026, 3, 10), To: day(2026, 3, 15), Limit: 101}},
		{"statuses comma-separated and repeated", "status=missed,abandoned&status=busy&status=missed",
			screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 101, Statuses: []screenpop.Status{"missed", "abandoned", "busy"}}},
		{"kinds", "kind=client,lead", screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 101, Kinds: []screenpop.CallerKind{"client", "lead"}}},
		{"direction, source, campaign, operator and caller", "direction=outbound&source=" + url.QueryEscape("Радио «Европа Плюс»") +
			"&campaign=" + url.QueryEscape("Весна, 2026") + "&operator=101&caller=" + url.QueryEscape(" 8 (916) 123-45-67 "),
			screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 101, Direction: screenpop.Outbound, Source: "Радио «Европа Плюс»",
				Campaign: "Весна, 2026", Operator: "101", Caller: "8 (916) 123-45-67"}},
		{"a limit, offers and a cursor", "limit=10&offers=true&cursor=" + encodeCursor(cursorAt, "call-f", ""),
			screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 11, Offers: true, AfterStartedAt: cursorAt, AfterID: "call-f"}},
		{"a cursor of a box's call, and a box", "pbx=pbx2&cursor=" + encodeCursor(cursorAt, "call-f", "pbx1"),
			screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 101, PBX: ptr("pbx2"), AfterStartedAt: cursorAt, AfterID: "call-f", AfterPBX: "pbx1"}},
		{"pbx= is the one box of a single-box setup", "pbx=",
			screenpop.CallFilter{From: today, To: day(2026, 3, 15), Limit: 101, PBX: ptr("")}},
	}
	log := &fakeCallLog{}
	srv := callsServer(t, log)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getCalls(t, srv, "analyst-token", "", tt.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			if diff := cmp.Diff(tt.want, log.lastFilter(), cmp.Comparer(time.Time.Equal)); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallsAPIRefusesBadParametersNamingThem(t *testing.T) {
	tests := []struct{ name, query, says string }{
		{"a date in words", "from=yesterday", "from: want a date such as 2026-03-01"},
		{"a day that does not exist", "to=2026-02-30", "to: want a date"},
		{"to before from", "from=2026-03-10&to=2026-03-01", "to: 2026-03-02T00:00:00+03:00 is not after from, 2026-03-10T00:00:00+03:00"},
		{"from in the future alone", "from=2026-04-01", "from: is after today; give to as well"},
		{"an unknown status", "status=missed,lost", `status: "lost" is not one of answered, missed, abandoned, busy, failed`},
		{"an unknown kind", "kind=vip", `kind: "vip" is not one of client, lead, new, withheld, internal`},
		{"an unknown direction", "direction=sideways", `direction: "sideways" is not inbound or outbound`},
		{"a limit of 0", "limit=0", "limit: want a number from 1 to 1000"},
		{"a limit over 1000", "limit=1001", "limit: want a number from 1 to 1000"},
		{"a limit in words", "limit=ten", "limit: want a number"},
		{"a made-up cursor", "cursor=page2", "cursor: not a cursor this API gave"},
		{"offers neither true nor false", "offers=maybe", "offers: want true or false"},
		{"an unknown format", "format=xml", `format: "xml" is not json or csv`},
		{"an unknown separator", "format=csv&sep=|", "sep: want comma, semicolon or tab"},
		{"a bare semicolon, which Go would drop", "format=csv&sep=;", "write a ; as %3B, or sep=semicolon"},
		{"a misspelt filter", "stauts=missed", "stauts: unknown parameter"},
		{"a filter given twice", "source=a&source=b", "source: give it once"},
		{"a page size for the CSV export", "format=csv&limit=10", "limit: the CSV export has every matching call"},
		{"every bad parameter at once", "from=x&status=y&limit=-1", "from: want"},
	}
	srv := callsServer(t, &fakeCallLog{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getCalls(t, srv, "analyst-token", "", tt.query)
			p := decodePage(t, body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Error, tt.says) {
				t.Errorf("got %d %q, want 400 saying %q", resp.StatusCode, p.Error, tt.says)
			}
		})
	}
	_, body := getCalls(t, srv, "analyst-token", "", "from=x&status=y&limit=-1")
	for _, name := range []string{"from:", "status:", "limit:"} {
		if !strings.Contains(decodePage(t, body).Error, name) {
			t.Errorf("%s is not named among the bad parameters: %s", name, body)
		}
	}
}

func TestCallsAPIPagesWithACursor(t *testing.T) {
	log := &fakeCallLog{calls: dayOfCalls(7)}
	srv := callsServer(t, log)
	var listed []string
	query := "limit=3"
	for n := 1; ; n++ {
		resp, body := getCalls(t, srv, "analyst-token", "", query)
		p := decodePage(t, body)
		if resp.StatusCode != http.StatusOK || len(p.Calls) == 0 {
			t.Fatalf("page %d: %d %s", n, resp.StatusCode, body)
		}
		listed = append(listed, p.ids()...)
		if _, ok := p.Calls[0]["offers"]; ok {
			t.Errorf("page %d lists offers, which were not asked for", n)
		}
		if p.Next == "" {
			break
		}
		if n == 1 {
			// A call logged meanwhile is newer: it shifts no page.
			log.mu.Lock()
			log.calls = append([]screenpop.Call{{ID: "call-new", StartedAt: time.Date(2026, 3, 14, 14, 0, 0, 0, callsZone)}}, log.calls...)
			log.mu.Unlock()
		}
		query = "limit=3&cursor=" + p.Next
	}
	want := []string{"call-g", "call-f", "call-e", "call-d", "call-c", "call-b", "call-a"}
	if !slices.Equal(listed, want) {
		t.Errorf("pages listed %v, want %v", listed, want)
	}

	_, body := getCalls(t, srv, "analyst-token", "", "limit=2&offers=true")
	p := decodePage(t, body)
	if none, ok := p.Calls[0]["offers"].([]any); !ok || len(none) != 0 {
		t.Errorf("with offers=true a call with no offers has %v, want []", p.Calls[0]["offers"])
	}
	offers, ok := p.Calls[1]["offers"].([]any)
	if !ok || len(offers) != 1 || offers[0].(map[string]any)["operator"] != "101" {
		t.Errorf("with offers=true the call's offers are %v", p.Calls[1]["offers"])
	}
}

// csvCalls are calls whose fields a spreadsheet could get wrong.
func csvCalls() []screenpop.Call {
	started := time.Date(2026, 3, 14, 6, 26, 53, 589_000_000, time.UTC) // 09:26:53 in Moscow
	answered, e164 := started.Add(6500*time.Millisecond), "+79161234567"
	return []screenpop.Call{
		{ID: "1773469613.1", Direction: screenpop.Inbound, Caller: "89161234567", CallerE164: &e164,
			CallerName: `Петров, Иван "Ваня"`, LookupName: "Иван Петрович", CallerKind: screenpop.KindClient, DID: "74951112233",
			Source: "Радио «Европа Плюс»", Campaign: "Весна, 2026", Status: screenpop.StatusAnswered,
			OfferedTo: []string{"101", "102"}, AnsweredBy: ptrTo("101"), TalkedTo: []string{"101", "103"},
			RingSeconds: 4.25, WaitSeconds: 6.5, TalkSeconds: 182.125, HangupCause: 16, HangupCauseText: "Normal Clearing",
			StartedAt: started, AnsweredAt: &answered, EndedAt: started.Add(188625 * time.Millisecond)},
		{ID: "1773469000.7", Direction: screenpop.Inbound, Caller: "anonymous", Withheld: true,
			CallerName: `=HYPERLINK("http://example.com","click")`, CallerKind: screenpop.KindWithheld, DID: "74951112233",
			Status: screenpop.StatusMissed, OfferedTo: []string{"101"}, TalkedTo: []string{}, RingSeconds: 30, WaitSeconds: 31.5,
			HangupCause: 19, HangupCauseText: "No answer", StartedAt: started.Add(-10 * time.Minute), EndedAt: started.Add(-9 * time.Minute),
			CloseReason: "-its end was never seen", Gaps: []screenpop.Gap{screenpop.GapEnd, screenpop.GapOffers}},
	}
}

func ptrTo(s string) *string { return &s }

// readCSV checks the file's byte order mark and parses the rest with
// sep, each row by the header's names.
func readCSV(t *testing.T, body []byte, sep rune) []map[string]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(body, []byte("\xEF\xBB\xBF"))
	if !ok {
		t.Fatalf("the CSV does not begin with a UTF-8 byte order mark: %q", body[:min(len(body), 20)])
	}
	r := csv.NewReader(bytes.NewReader(rest))
	r.Comma = sep
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, rest)
	}
	if !slices.Equal(records[0], csvHeader) {
		t.Fatalf("header %v, want %v", records[0], csvHeader)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestCallsAPIExportsACSVASpreadsheetOpens(t *testing.T) {
	log := &fakeCallLog{calls: csvCalls()}
	srv := callsServer(t, log)

	for _, how := range []struct{ name, accept, query string }{
		{"asked for with Accept", "text/csv", "from=2026-03-14"},
		{"asked for with format=csv", "", "format=csv&from=2026-03-14"},
		{"preferred to JSON in Accept", "application/json;q=0.5, text/csv", "from=2026-03-14"},
	} {
		t.Run(how.name, func(t *testing.T) {
			resp, body := getCalls(t, srv, "analyst-token", how.accept, how.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv; charset=utf-8") {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="calls-2026-03-14.csv"` {
				t.Errorf("Content-Disposition %q", cd)
			}
			if f := log.lastFilter(); f.Limit != 0 || f.Offers {
				t.Errorf("the export asked for %d calls, offers %v; want every call, without offers", f.Limit, f.Offers)
			}
			rows := readCSV(t, body, ',')
			if len(rows) != 2 {
				t.Fatalf("%d rows, want one per call: %v", len(rows), rows)
			}
			want := map[string]string{
				"date": "2026-03-14", "time": "09:26:53", "call_id": "1773469613.1", "direction": "inbound",
				"caller": "89161234567", "caller_e164": "+79161234567", "caller_name": `Петров, Иван "Ваня"`, "caller_kind": "client",
				"did": "74951112233", "source": "Радио «Европа Плюс»", "campaign": "Весна, 2026", "status": "answered",
				"offered_to": "101 102", "answered_by": "101", "talked_to": "101 103",
				"ring_seconds": "4.25", "wait_seconds": "6.5", "talk_seconds": "182.125", "hangup_cause": "16",
				"hangup_cause_text": "Normal Clearing", "started_at": "2026-03-14T09:26:53.589+03:00",
				"answered_at": "2026-03-14T09:27:00.089+03:00", "ended_at": "2026-03-14T09:30:02.214+03:00", "close_reason": "",
				"gaps": "", "lookup_name": "Иван Петрович", "pbx": "",
			}
			if diff := cmp.Diff(want, rows[0]); diff != "" {
				t.Errorf("the answered call's row (-want +got):\n%s", diff)
			}
			if got := rows[1]; got["caller_name"] != `'=HYPERLINK("http://example.com","click")` || got["close_reason"] != "'-its end was never seen" || got["gaps"] != "end offers" ||
				got["answered_by"] != "" || got["answered_at"] != "" || got["caller_e164"] != "" || got["talked_to"] != "" {
				t.Errorf("the withheld call's row: %v; want its formula-like cells inert and no answer", got)
			}
			if !bytes.Contains(body, []byte("\"Петров, Иван \"\"Ваня\"\"\",client,74951112233,")) || !bytes.Contains(body, []byte("\r\n")) {
				t.Errorf("the CSV is not quoted as RFC 4180 says:\n%s", body)
			}
		})
	}

	t.Run("with sep=semicolon numbers have a decimal comma, for Excel in Russian", func(t *testing.T) {
		for _, sep := range []string{"semicolon", "%3B"} {
			resp, body := getCalls(t, srv, "analyst-token", "", "format=csv&sep="+sep+"&from=2026-03-01&to=2026-03-14")
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="calls-2026-03-01_2026-03-14.csv"` {
				t.Errorf("sep=%s: Content-Disposition %q", sep, cd)
			}
			rows := readCSV(t, body, ';')
			if got := rows[0]; got["ring_seconds"] != "4,25" || got["talk_seconds"] != "182,125" || got["campaign"] != "Весна, 2026" {
				t.Errorf("sep=%s: row %v", sep, got)
			}
		}
	})

	t.Run("a day with no calls is a file with the header alone", func(t *testing.T) {
		srv := callsServer(t, &fakeCallLog{})
		resp, body := getCalls(t, srv, "analyst-token", "text/csv", "")
		if rows := readCSV(t, body, ','); resp.StatusCode != http.StatusOK || len(rows) != 0 {
			t.Errorf("got %d with %d rows", resp.StatusCode, len(rows))
		}
	})
}

func TestCallsAPIBreaksAnExportTheDatabaseCutShort(t *testing.T) {
	// Enough calls for the first of them to be on their way to the client.
	var calls []screenpop.Call
	for range 200 {
		calls = append(calls, csvCalls()...)
	}
	srv := callsServer(t, &fakeCallLog{calls: calls, failAfter: 300})
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/calls?format=csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer analyst-token")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("the download of an export cut short succeeded: it would look complete")
	}

	srv = callsServer(t, &fakeCallLog{calls: calls, failAfter: 1})
	resp, body := getCalls(t, srv, "analyst-token", "", "limit=5")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(decodePage(t, body).Error, "could not read the call log") {
		t.Errorf("a failed listing: %d %s", resp.StatusCode, body)
	}
}

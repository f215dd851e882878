package web

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// CallLog is the call log as analysts read it. Calls hands each call f
// matches to each, newest first (by started_at, then call_id, both
// descending), and stops at each's first error.
type CallLog interface {
	Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error
}

// BadParam is a query parameter (or the calls command's flag of the same
// name) that cannot be used, and why.
type BadParam struct{ Name, Problem string }

// BadParams is every bad parameter of a query.
type BadParams []BadParam

func (b BadParams) Error() string {
	msgs := make([]string, len(b))
	for i, p := range b {
		msgs[i] = p.Name + ": " + p.Problem
	}
	return strings.Join(msgs, "; ")
}

var statuses = []screenpop.Status{screenpop.StatusAnswered, screenpop.StatusMissed, screenpop.StatusAbandoned,
	screenpop.StatusBusy, screenpop.StatusFailed}

// ParseCallFilter reads the filters of a call log query, from GET
// /api/calls or the calls command:
//
//   - from, to: a date (2026-03-01: that day in now's zone, to's day
//     included) or an RFC 3339 instant; by default today (or to's day);
//   - status: answered, missed, abandoned, busy, failed; kind: client,
//     lead, new, withheld, internal; each comma-separated or repeated;
//   - direction: inbound or outbound;
//   - source, campaign (exactly as logged), operator (an extension),
//     caller (a number in any form);
//   - pbx: the calls of one Asterisk box (asterisk.boxes[].name; pbx= the
//     one box of a single-box setup); by default every box;
//   - uncertain=1: only the records with a gap (Call.Gaps); gap: start,
//     caller, offers, answer, end: only those with one of these gaps.
//
// The error, if any, is BadParams naming every bad one.
func ParseCallFilter(q url.Values, now time.Time) (screenpop.CallFilter, error) {
	var (
		f   screenpop.CallFilter
		bad BadParams
	)
	one := func(name string) string {
		vs := q[name]
		if len(vs) > 1 {
			bad = append(bad, BadParam{name, "give it once"})
		}
		if len(vs) == 0 {
			return ""
		}
		return strings.TrimSpace(vs[0])
	}
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
		return out
	}
	zone := now.Location()
	from, to := one("from"), one("to")
	if to != "" {
		t, day, err := screenpop.ParseDayOrInstant(to, zone)
		if err != nil {
			bad = append(bad, BadParam{"to", err.Error()})
		} else if day {
			t = t.AddDate(0, 0, 1) // the last day is included
		}
		f.To = t
	}
	if from != "" {
		t, _, err := screenpop.ParseDayOrInstant(from, zone)
		if err != nil {
			bad = append(bad, BadParam{"from", err.Error()})
		}
		f.From = t
	}
	today := screenpop.StartOfDay(now)
	switch {
	case from == "" && to == "":
		f.From, f.To = today, today.AddDate(0, 0, 1)
	case from == "" && !f.To.IsZero():
		f.From = screenpop.StartOfDay(f.To.Add(-time.Nanosecond).In(zone))
	case to == "" && !f.From.IsZero():
		f.To = today.AddDate(0, 0, 1)
		if !f.To.After(f.From) {
			bad = append(bad, BadParam{"from", "is after today; give to as well"})
		}
	case !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From):
		bad = append(bad, BadParam{"to", fmt.Sprintf("%s is not after from, %s", f.To.In(zone).Format(time.RFC3339), f.From.In(zone).Format(time.RFC3339))})
	}

	switch d := screenpop.Direction(one("direction")); d {
	case "", screenpop.Inbound, screenpop.Outbound:
		f.Direction = d
	default:
		bad = append(bad, BadParam{"direction", fmt.Sprintf("%q is not inbound or outbound", d)})
	}
	for _, s := range list("status") {
		if !slices.Contains(statuses, screenpop.Status(s)) {
			bad = append(bad, BadParam{"status", fmt.Sprintf("%q is not one of answered, missed, abandoned, busy, failed", s)})
		}
		f.Statuses = append(f.Statuses, screenpop.Status(s))
	}
	for _, k := range list("kind") {
		if !slices.Contains(screenpop.CallerKinds, screenpop.CallerKind(k)) {
			bad = append(bad, BadParam{"kind", fmt.Sprintf("%q is not one of client, lead, new, withheld, internal", k)})
		}
		f.Kinds = append(f.Kinds, screenpop.CallerKind(k))
	}
	for _, g := range list("gap") {
		if !slices.Contains(screenpop.AllGaps, screenpop.Gap(g)) {
			bad = append(bad, BadParam{"gap", fmt.Sprintf("%q is not one of start, caller, offers, answer, end", g)})
		}
		f.Gaps = append(f.Gaps, screenpop.Gap(g))
	}
	switch u := one("uncertain"); u {
	case "", "0", "false":
	case "1", "true":
		f.Uncertain = true
	default:
		bad = append(bad, BadParam{"uncertain", fmt.Sprintf("%q is not 1 (only uncertain records) or 0", u)})
	}
	f.Source, f.Campaign = one("source"), one("campaign")
	f.Operator, f.Caller = one("operator"), one("caller")
	if q.Has("pbx") {
		// pbx= (empty) is the one box of a single-box setup.
		pbx := one("pbx")
		f.PBX = &pbx
	}
	if len(bad) > 0 {
		return f, bad
	}
	return f, nil
}

// maxPage is the most calls one GET /api/calls page holds; defaultPage
// how many it holds unless limit says.
const maxPage, defaultPage = 1000, 100

// callsParams are the query parameters GET /api/calls knows, besides
// RequireStaff's token; others are refused rather than ignored (a
// misspelt filter would list every call).
var callsParams = []string{"from", "to", "direction", "status", "kind", "source", "campaign", "operator", "caller",
	"pbx", "uncertain", "gap", "limit", "cursor", "offers", "format", "sep"}

// CallsHandler serves GET /api/calls to staff: the calls the query's
// filters match (see ParseCallFilter), newest first, as JSON pages
//
//	{"calls": [...], "next": "..."}
//
// of limit calls (100 by default, at most 1000; offers=true adds each
// call's offers), next being the cursor of the next page, "" after the
// last one. With format=csv, or Accept: text/csv, it sends every matching
// call instead, as one CSV file (see CallsCSV; sep=semicolon for Excel in
// Russian and most European locales), streamed as it is read. now gives
// today, for the default dates; its zone is the one dates and the CSV's
// times are in.
func CallsHandler(calls CallLog, log *slog.Logger, now func() time.Time) StaffHandler {
	return func(w http.ResponseWriter, r *http.Request, _ screenpop.Staff) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			// Go drops a pair with a bare ';', which would quietly
			// change what is listed.
			WriteError(w, http.StatusBadRequest, "the query does not parse ("+err.Error()+"); write a ; as %3B, or sep=semicolon")
			return
		}
		t := now()
		l, err := readListing(q, r.Header.Get("Accept"), t)
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		// The periods the daemon did not see: the calls listed may lack
		// some then, and the listing says so.
		unseen, keeps, err := unseenIn(r.Context(), calls, l.f.From, l.f.To, t.Location())
		if err != nil {
			log.Error("list calls", "err", err)
			WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
			return
		}
		if keeps {
			setUnseenHeaders(w.Header(), unseen)
		}
		if l.csv {
			sendCSV(w, r, calls, l.f, l.sep, t.Location(), log)
			return
		}
		f := l.f
		f.Limit = l.limit + 1 // one more says whether there is a next page
		page := make([]any, 0, f.Limit)
		var last screenpop.Call
		err = calls.Calls(r.Context(), f, func(c screenpop.Call) error {
			if len(page) < l.limit {
				last = c
			}
			page = append(page, CallJSON(c, f.Offers))
			return nil
		})
		if err != nil {
			log.Error("list calls", "err", err)
			WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
			return
		}
		next := ""
		if len(page) > l.limit {
			page, next = page[:l.limit], encodeCursor(last.StartedAt, last.ID, last.PBX)
		}
		body := map[string]any{"calls": page, "next": next}
		if keeps {
			body["unseen"] = unseen
		}
		WriteJSON(w, http.StatusOK, body)
	}
}

// listing is what a GET /api/calls asks for.
type listing struct {
	f     screenpop.CallFilter
	csv   bool
	sep   rune
	limit int // calls per JSON page
}

// readListing reads a GET /api/calls query; the error is BadParams.
func readListing(q url.Values, accept string, now time.Time) (listing, error) {
	l := listing{limit: defaultPage}
	f, err := ParseCallFilter(q, now)
	var bad BadParams
	errors.As(err, &bad)
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(callsParams, name) && name != "token" {
			bad = append(bad, BadParam{name, "unknown parameter (want " + strings.Join(callsParams, ", ") + ")"})
		}
	}
	switch format := q.Get("format"); format {
	case "":
		l.csv = acceptsCSV(accept)
	case "csv", "json":
		l.csv = format == "csv"
	default:
		bad = append(bad, BadParam{"format", fmt.Sprintf("%q is not json or csv", format)})
	}
	if l.sep, err = ParseCSVSep(q.Get("sep")); err != nil {
		bad = append(bad, BadParam{"sep", err.Error()})
	}
	if l.csv {
		for _, name := range []string{"limit", "cursor", "offers"} {
			if q.Has(name) {
				bad = append(bad, BadParam{name, "the CSV export has every matching call, one row each, and no offers; " + name + " is for the JSON listing"})
			}
		}
	} else {
		if s := q.Get("limit"); s != "" {
			if n, err := strconv.Atoi(s); err != nil || n < 1 || n > maxPage {
				bad = append(bad, BadParam{"limit", fmt.Sprintf("want a number from 1 to %d, got %q", maxPage, s)})
			} else {
				l.limit = n
			}
		}
		if s := q.Get("cursor"); s != "" {
			if f.AfterStartedAt, f.AfterID, f.AfterPBX, err = decodeCursor(s); err != nil {
				bad = append(bad, BadParam{"cursor", "not a cursor this API gave; list again without it"})
			}
		}
		if s := q.Get("offers"); s != "" {
			if f.Offers, err = strconv.ParseBool(s); err != nil {
				bad = append(bad, BadParam{"offers", fmt.Sprintf("want true or false, got %q", s)})
			}
		}
	}
	l.f = f
	if len(bad) > 0 {
		return l, bad
	}
	return l, nil
}

// sendCSV streams the CSV export. A failure once the file has begun
// breaks the connection: the download fails rather than look complete.
func sendCSV(w http.ResponseWriter, r *http.Request, calls CallLog, f screenpop.CallFilter, sep rune, zone *time.Location, log *slog.Logger) {
	var out *CallsCSV
	begin := func() error {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		w.Header().Set("Content-Disposition", `attachment; filename="`+csvName(f, zone)+`"`)
		var err error
		out, err = NewCallsCSV(w, sep, zone)
		return err
	}
	err := calls.Calls(r.Context(), f, func(c screenpop.Call) error {
		if out == nil {
			if err := begin(); err != nil {
				return err
			}
		}
		return out.Write(c)
	})
	if err == nil && out == nil {
		err = begin()
	}
	if err == nil {
		err = out.Flush()
	}
	switch {
	case err == nil:
	case out == nil:
		log.Error("export calls", "err", err)
		WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
	default:
		if r.Context().Err() == nil {
			log.Error("export calls: the CSV was cut short", "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// csvName names the export after its days: calls-2026-03-14.csv,
// calls-2026-03-01_2026-03-31.csv.
func csvName(f screenpop.CallFilter, zone *time.Location) string {
	first := f.From.In(zone).Format(time.DateOnly)
	last := f.To.Add(-time.Nanosecond).In(zone).Format(time.DateOnly)
	if first == last {
		return "calls-" + first + ".csv"
	}
	return "calls-" + first + "_" + last + ".csv"
}

// acceptsCSV reports whether an Accept header prefers text/csv to JSON.
func acceptsCSV(accept string) bool {
	var csvQ, jsonQ float64
	for _, part := range strings.Split(accept, ",") {
		typ, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		switch typ {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return csvQ > 0 && csvQ >= jsonQ
}

// A cursor is the start and ID of the last call of a page: the next page
// begins after it, so calls logged meanwhile shift nothing.
// A cursor is the last call's start and ID, and its box after a newline
// when it has one: a single box's cursors are as they always were.
func encodeCursor(startedAt time.Time, id, pbx string) string {
	s := startedAt.UTC().Format(time.RFC3339Nano) + " " + id
	if pbx != "" {
		s += "\n" + pbx
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (at time.Time, id, pbx string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", "", err
	}
	when, rest, ok := strings.Cut(string(b), " ")
	id, pbx, _ = strings.Cut(rest, "\n")
	if !ok || id == "" {
		return time.Time{}, "", "", errors.New("no call ID")
	}
	at, err = time.Parse(time.RFC3339Nano, when)
	return at, id, pbx, err
}

// listedCall is a call as the API and the calls command print it: with
// its offers only when they were asked for.
type listedCall struct {
	screenpop.Call
	// Gaps is always there, [] for an exact record: an analyst's tool
	// filters on it.
	Gaps   []screenpop.Gap   `json:"gaps"`
	Offers []screenpop.Offer `json:"offers,omitzero"`
}

// CallJSON is c as GET /api/calls and the calls command print it in
// JSON: without the offers key unless offers.
func CallJSON(c screenpop.Call, offers bool) any {
	l := listedCall{Call: c, Gaps: c.Gaps}
	if l.Gaps == nil {
		l.Gaps = []screenpop.Gap{}
	}
	if offers {
		l.Offers = c.Offers
		if l.Offers == nil {
			l.Offers = []screenpop.Offer{}
		}
	}
	return l
}

// ParseCSVSep reads a CSV separator: "," (or "" or "comma"), ";" (or
// "semicolon": a URL's query cannot hold a bare ';') or "tab".
func ParseCSVSep(s string) (rune, error) {
	switch s {
	case "", ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "tab", "\t":
		return '\t', nil
	}
	return 0, fmt.Errorf("want comma, semicolon or tab, got %q", s)
}

// csvHeader names the CSV's columns: the call record's fields, with the
// start's local date and time first.
var csvHeader = []string{"date", "time", "call_id", "direction", "caller", "caller_e164", "caller_name", "caller_kind",
	"did", "source", "campaign", "status", "offered_to", "answered_by", "talked_to",
	"ring_seconds", "wait_seconds", "talk_seconds", "hangup_cause", "hangup_cause_text",
	"started_at", "answered_at", "ended_at", "close_reason", "gaps", "lookup_name", "pbx"}

// CallsCSV writes calls as a CSV file that spreadsheets open as it is:
//
//   - UTF-8 with a byte order mark, without which Excel shows Cyrillic
//     as gibberish; a header row; RFC 4180 quoting and line ends;
//   - one row per call, lists (offered_to, talked_to, gaps) joined with
//     spaces;
//   - date and time: the start in the zone, in two columns any
//     spreadsheet reads as a date and a time, to group by day or hour;
//     started_at, answered_at and ended_at in ISO 8601 with the zone's
//     offset;
//   - seconds with a decimal point, or with a decimal comma when the
//     separator is ';', as Excel expects both in Russian and most
//     European locales;
//   - a cell a spreadsheet would run as a formula (=, +, -, @ first: a
//     caller ID name is whatever the carrier sent) begins with an
//     apostrophe, unless it is only a number, such as +79161234567.
type CallsCSV struct {
	w            *csv.Writer
	zone         *time.Location
	decimalComma bool
}

// NewCallsCSV begins a CSV file of calls on w: the byte order mark and
// the header row.
func NewCallsCSV(w io.Writer, sep rune, zone *time.Location) (*CallsCSV, error) {
	c := &CallsCSV{w: csv.NewWriter(w), zone: zone, decimalComma: sep == ';'}
	c.w.Comma, c.w.UseCRLF = sep, true
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return c, fmt.Errorf("write CSV: %w", err)
	}
	if err := c.w.Write(csvHeader); err != nil {
		return c, fmt.Errorf("write CSV: %w", err)
	}
	return c, nil
}

// Write adds a call's row.
func (c *CallsCSV) Write(call screenpop.Call) error {
	start := call.StartedAt.In(c.zone)
	row := []string{
		start.Format(time.DateOnly), start.Format(time.TimeOnly), call.ID, string(call.Direction),
		call.Caller, deref(call.CallerE164), call.CallerName, string(call.CallerKind),
		call.DID, call.Source, call.Campaign, string(call.Status),
		strings.Join(call.OfferedTo, " "), deref(call.AnsweredBy), strings.Join(call.TalkedTo, " "),
		c.seconds(call.RingSeconds), c.seconds(call.WaitSeconds), c.seconds(call.TalkSeconds),
		strconv.Itoa(call.HangupCause), call.HangupCauseText,
		c.instant(&call.StartedAt), c.instant(call.AnsweredAt), c.instant(&call.EndedAt), call.CloseReason,
		joinGaps(call.Gaps), call.LookupName, call.PBX,
	}
	for i, s := range row {
		row[i] = inert(s)
	}
	if err := c.w.Write(row); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

func joinGaps(gaps []screenpop.Gap) string {
	s := make([]string, len(gaps))
	for i, g := range gaps {
		s[i] = string(g)
	}
	return strings.Join(s, " ")
}

// Flush writes out what is buffered.
func (c *CallsCSV) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

func (c *CallsCSV) seconds(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if c.decimalComma {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (c *CallsCSV) instant(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.In(c.zone).Format("2006-01-02T15:04:05.000Z07:00")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// inert keeps a spreadsheet from running a cell as a formula.
func inert(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	digits := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case strings.ContainsRune("+-() .", r):
		default:
			return "'" + s
		}
	}
	if !digits {
		return "'" + s
	}
	return s
}

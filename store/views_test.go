package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// viewStore is what the analyst views' tests ask of a store.
type viewStore interface {
	callbackStore
	AddSource(ctx context.Context, src screenpop.Source) (screenpop.Source, error)
}

// The numbers and lines of the views' tests; ivan and maria call too.
const (
	viewPetr      = "+79261112233"
	viewOlga      = "+79031234567"
	viewSergey    = "+79857778899"
	viewAnna      = "+79851112233"
	viewBob       = "+79990001122"
	viewLineAvito = "+74951110001" // Авито, С пробегом
	viewLineSite  = "+74952220002" // Сайт, Главная
	viewLineNone  = "+74953330003" // no source
)

// viewAfter is s seconds after start.
func viewAfter(start time.Time, s float64) time.Time {
	return start.Add(time.Duration(s * float64(time.Second)))
}

// viewRing is an offer of a call that started at start: op's phone dialled at
// dial seconds, ringing from ring (never, if negative), ending at end.
func viewRing(start time.Time, op string, dial, ring, end float64, outcome screenpop.Outcome) screenpop.Offer {
	o := screenpop.Offer{Operator: op, Channel: "PJSIP/" + op + "-0001", DialedAt: viewAfter(start, dial),
		EndedAt: tptr(viewAfter(start, end)), Outcome: outcome}
	if ring >= 0 {
		o.RingingAt = tptr(viewAfter(start, ring))
	}
	return o
}

// viewAnswer is op answering at ans, their leg ending at end.
func viewAnswer(start time.Time, op string, dial, ring, ans, end float64) screenpop.Offer {
	o := viewRing(start, op, dial, ring, end, screenpop.OutcomeAnswered)
	o.AnsweredAt = tptr(viewAfter(start, ans))
	return o
}

// viewCall is an inbound call from number (withheld if empty) to line,
// starting at start and ending at end seconds, its status and times
// derived from its offers as the tracker does.
func viewCall(id, number, line string, start time.Time, end float64, offers ...screenpop.Offer) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: number, DID: line, StartedAt: start,
		EndedAt: viewAfter(start, end), Offers: offers}
	if number == "" {
		c.Caller, c.Withheld = "anonymous", true
	} else {
		c.CallerE164 = ptr(number)
	}
	for _, o := range offers {
		if o.Outcome == screenpop.OutcomeAnswered {
			c.AnsweredBy, c.AnsweredAt, c.TalkedTo = ptr(o.Operator), o.AnsweredAt, []string{o.Operator}
		}
	}
	benchDerive(&c)
	return c
}

// viewTransferred is c with its caller transferred to op.
func viewTransferred(c screenpop.Call, op string) screenpop.Call {
	c.TalkedTo = append(c.TalkedTo, op)
	return c
}

// viewOut is operator op calling number at start; answered, a minute's
// talk.
func viewOut(id, op, number string, start time.Time, answered bool) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Outbound, Caller: "8" + number[2:], CallerE164: ptr(number),
		AnsweredBy: ptr(op), Status: screenpop.StatusMissed, StartedAt: start, EndedAt: viewAfter(start, 35),
		OfferedTo: []string{}, TalkedTo: []string{}, RingSeconds: 30, WaitSeconds: 35}
	if answered {
		c.Status, c.AnsweredAt, c.TalkedTo, c.EndedAt = screenpop.StatusAnswered, tptr(viewAfter(start, 8)), []string{op}, viewAfter(start, 68)
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = 5, 8, 60
	}
	return c
}

// viewLog fills s with the test's two days, 14 and 15 March 2025, in loc:
// the calls of the first, the callback of Olga closed by hand, then the
// calls of the second. The calls start within an hour after noon.
func viewLog(t *testing.T, s viewStore, loc *time.Location) {
	t.Helper()
	day1 := time.Date(2025, 3, 14, 12, 0, 0, 0, loc)
	day2 := time.Date(2025, 3, 15, 12, 0, 0, 0, loc)
	ctx := t.Context()
	if _, err := s.ImportClients(ctx, []screenpop.ClientHistory{{Client: screenpop.Client{
		LastName: "Соколова", FirstName: "Мария", Patronymic: "Ивановна", Phones: []string{maria}}}}); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct{ name, ext string }{{"Анна Смирнова", "101"}, {"Ольга Кузнецова", "102"}} {
		if _, _, err := s.AddOperator(ctx, op.name, op.ext); err != nil {
			t.Fatal(err)
		}
	}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, src := range []screenpop.Source{
		{DID: viewLineAvito, Source: "Авито", Campaign: "С пробегом", From: from},
		{DID: viewLineSite, Source: "Сайт", Campaign: "Главная", From: from},
	} {
		if _, err := s.AddSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	m := func(d time.Time, minute int) time.Time { return d.Add(time.Duration(minute) * time.Minute) }
	d1 := func(minute int) time.Time { return m(day1, minute) }
	d2 := func(minute int) time.Time { return m(day2, minute) }
	save(t, s,
		// Ivan's first call rings 101 and 102 at once; 101 answers after
		// 4 seconds' ringing and talks two minutes.
		viewCall("v1", ivan, viewLineAvito, d1(0), 126.5,
			viewAnswer(d1(0), "101", 2, 2.5, 6.5, 126.5), viewRing(d1(0), "102", 2, 2.5, 6.5, screenpop.OutcomeAnsweredElsewhere)),
		// Maria's rings 102, then 101, unanswered; 101 calls her back.
		viewCall("v2", maria, viewLineAvito, d1(5), 35,
			viewRing(d1(5), "102", 2, 2, 17, screenpop.OutcomeNoAnswer), viewRing(d1(5), "101", 17, 17, 32, screenpop.OutcomeNoAnswer)),
		viewOut("v3", "101", maria, d1(30), true),
		// Petr hangs up while 103 rings; nobody calls him back.
		viewCall("v4", viewPetr, viewLineSite, d1(10), 10, viewRing(d1(10), "103", 3, 3, 10, screenpop.OutcomeCancelled)),
		// Olga's rings 101 out; an operator closes her callback by hand.
		viewCall("v5", viewOlga, viewLineSite, d1(15), 20, viewRing(d1(15), "101", 2, 2, 17, screenpop.OutcomeNoAnswer)),
		// A withheld number rings 102 out, on the line with no source.
		viewCall("v6", "", viewLineNone, d1(20), 20, viewRing(d1(20), "102", 2, 2, 17, screenpop.OutcomeNoAnswer)),
		// Sergey finds 101 busy.
		viewCall("v7", viewSergey, viewLineNone, d1(25), 3, viewRing(d1(25), "101", 2, -1, 2.5, screenpop.OutcomeBusy)),
		// Ivan again: 101 lets it ring out, 102 answers after 3 seconds
		// and transfers him to 103 a minute later.
		viewTransferred(viewCall("v8", ivan, viewLineAvito, d1(35), 200.3,
			viewRing(d1(35), "101", 2, 2, 17, screenpop.OutcomeNoAnswer), viewAnswer(d1(35), "102", 17, 17.3, 20.3, 80.3)), "103"),
		// Anna's call reaches no phone.
		viewCall("v9", viewAnna, viewLineAvito, d1(45), 2.2, viewRing(d1(45), "103", 2, -1, 2.2, screenpop.OutcomeFailed)),
		// 102 calls a stranger, who does not answer.
		viewOut("v10", "102", viewBob, d1(50), false),
	)
	if err := s.CloseCallback(ctx, viewOlga, "102", "Клиент написал в мессенджер", d1(55)); err != nil {
		t.Fatal(err)
	}
	save(t, s,
		// Olga again, after the closure: 101's phone rings out twice.
		viewCall("w1", viewOlga, viewLineSite, d2(0), 40,
			viewRing(d2(0), "101", 2, 2, 17, screenpop.OutcomeNoAnswer), viewRing(d2(0), "101", 20, 20, 35, screenpop.OutcomeNoAnswer)),
		// Sergey hangs up before any phone rings, then calls again and
		// 103 answers after 5 seconds, for half a minute.
		viewCall("w2", viewSergey, viewLineAvito, d2(5), 12),
		viewCall("w3", viewSergey, viewLineAvito, d2(20), 37, viewAnswer(d2(20), "103", 2, 2, 7, 37)),
	)
}

// viewQuery runs an analyst's query ($1 parameters) on either store,
// PostgreSQL's in a session of the given time zone, and hands row each
// row's scan.
func viewQuery(t *testing.T, s callStore, zone, query string, args []any, row func(scan func(...any) error) error) {
	t.Helper()
	ctx := t.Context()
	switch s := s.(type) {
	case *Postgres:
		// In a transaction, so that the time zone is the session's only
		// until it ends and the pool's connections keep theirs.
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('TimeZone', $1, true)", zone); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := row(rows.Scan); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	case *SQLite:
		rows, err := s.db.QueryContext(ctx, query, sqliteArgs(args)...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows.Scan); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	default:
		t.Fatalf("viewQuery: unknown store %T", s)
	}
}

// viewTime reads a time column: PostgreSQL's timestamptz, SQLite's text.
func viewTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		return time.Parse(sqliteTimeFormat, v)
	}
	return time.Time{}, fmt.Errorf("not a time: %T %v", v, v)
}

// viewStrings reads a list of operators: PostgreSQL's text[], SQLite's JSON.
func viewStrings(v any) ([]string, error) {
	switch v := v.(type) {
	case []any:
		out := []string{}
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out, nil
	case string:
		out := []string{}
		return out, json.Unmarshal([]byte(v), &out)
	}
	return nil, fmt.Errorf("not a list: %T %v", v, v)
}

// viewMidnight is the start of the date in loc, in UTC.
func viewMidnight(date string, loc *time.Location) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		panic(err)
	}
	return d.UTC()
}

func viewSeconds(x float64) *float64 { return &x }

// viewSourceDay is a row of calls_by_source_day as an analyst reads it.
type viewSourceDay struct {
	Day                                                    string
	DayStart                                               time.Time
	Source                                                 string
	Total, Answered, Missed, Abandoned, Busy, Failed, Lost int
	NewCallers                                             int
	AvgWaitSeconds                                         *float64
}

const viewSourceDayQuery = `SELECT CAST(day AS TEXT), day_start, source, total, answered, missed, abandoned, busy, failed,
	lost, new_callers, CAST(avg_wait_seconds AS DOUBLE PRECISION)
FROM calls_by_source_day WHERE day BETWEEN $1 AND $2 ORDER BY day, source`

func viewSourceDays(t *testing.T, s callStore, zone, from, to string) []viewSourceDay {
	t.Helper()
	got := []viewSourceDay{}
	viewQuery(t, s, zone, viewSourceDayQuery, []any{from, to}, func(scan func(...any) error) error {
		var r viewSourceDay
		var start any
		if err := scan(&r.Day, &start, &r.Source, &r.Total, &r.Answered, &r.Missed, &r.Abandoned, &r.Busy,
			&r.Failed, &r.Lost, &r.NewCallers, &r.AvgWaitSeconds); err != nil {
			return err
		}
		var err error
		r.DayStart, err = viewTime(start)
		got = append(got, r)
		return err
	})
	return got
}

// viewMissed is a row of missed_without_callback.
type viewMissed struct {
	Day, CallID, Number, CallerKind string
	Did, Source, Campaign, Status   string
	OfferedTo                       []string
	RingSeconds, WaitSeconds        float64
}

const viewMissedQuery = `SELECT CAST(day AS TEXT), call_id, number, caller_kind, did, source, campaign, status, offered_to,
	ring_seconds, wait_seconds
FROM missed_without_callback ORDER BY started_at`

func viewMissedCalls(t *testing.T, s callStore, zone string) []viewMissed {
	t.Helper()
	got := []viewMissed{}
	viewQuery(t, s, zone, viewMissedQuery, nil, func(scan func(...any) error) error {
		var r viewMissed
		var offered any
		if err := scan(&r.Day, &r.CallID, &r.Number, &r.CallerKind, &r.Did, &r.Source, &r.Campaign, &r.Status,
			&offered, &r.RingSeconds, &r.WaitSeconds); err != nil {
			return err
		}
		var err error
		r.OfferedTo, err = viewStrings(offered)
		got = append(got, r)
		return err
	})
	return got
}

// viewOperatorDay is a row of operator_stats.
type viewOperatorDay struct {
	Day, Operator                       string
	Name                                *string
	Offered, Answered, Missed, NoAnswer int
	AnswerRate                          float64
	AvgRingSeconds, AvgTalkSeconds      *float64
	TalkSeconds                         float64
	Outbound, OutboundAnswered          int
}

const viewOperatorQuery = `SELECT CAST(day AS TEXT), operator, operator_name, offered, answered, missed, no_answer,
	CAST(coalesce(answer_rate, 0) AS DOUBLE PRECISION), CAST(avg_ring_seconds AS DOUBLE PRECISION),
	CAST(avg_talk_seconds AS DOUBLE PRECISION), CAST(talk_seconds AS DOUBLE PRECISION), outbound, outbound_answered
FROM operator_stats WHERE day BETWEEN $1 AND $2 ORDER BY day, operator`

func viewOperatorDays(t *testing.T, s callStore, zone, from, to string) []viewOperatorDay {
	t.Helper()
	got := []viewOperatorDay{}
	viewQuery(t, s, zone, viewOperatorQuery, []any{from, to}, func(scan func(...any) error) error {
		var r viewOperatorDay
		err := scan(&r.Day, &r.Operator, &r.Name, &r.Offered, &r.Answered, &r.Missed, &r.NoAnswer, &r.AnswerRate,
			&r.AvgRingSeconds, &r.AvgTalkSeconds, &r.TalkSeconds, &r.Outbound, &r.OutboundAnswered)
		got = append(got, r)
		return err
	})
	return got
}

func TestAnalystViews(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testAnalystViews(t, b)
		})
	}
}

func testAnalystViews(t *testing.T, b backend) {
	s, ok := openMigrated(t, b).(viewStore)
	if !ok {
		t.Fatalf("%s cannot hold the views' calls", b.name)
	}
	// PostgreSQL counts days in the session's time zone, SQLite in the
	// process's.
	const zone = "Europe/Moscow"
	loc := time.Local
	if b.name == "PostgreSQL" {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			t.Fatal(err)
		}
	}
	viewLog(t, s, loc)

	t.Run("calls by source and day count each day's inbound calls by how they ended", func(t *testing.T) {
		want := []viewSourceDay{
			{Day: "2025-03-14", Source: "", Total: 2, Missed: 1, Busy: 1, Lost: 2, NewCallers: 1},
			{Day: "2025-03-14", Source: "Авито", Total: 4, Answered: 2, Missed: 1, Failed: 1, Lost: 2, NewCallers: 2,
				AvgWaitSeconds: viewSeconds(13.4)},
			{Day: "2025-03-14", Source: "Сайт", Total: 2, Missed: 1, Abandoned: 1, Lost: 2, NewCallers: 2},
			{Day: "2025-03-15", Source: "Авито", Total: 2, Answered: 1, Abandoned: 1, Lost: 1, AvgWaitSeconds: viewSeconds(7)},
			{Day: "2025-03-15", Source: "Сайт", Total: 1, Missed: 1, Lost: 1},
		}
		for i := range want {
			want[i].DayStart = viewMidnight(want[i].Day, loc)
		}
		if diff := cmp.Diff(want, viewSourceDays(t, s, zone, "2025-03-01", "2025-03-31")); diff != "" {
			t.Errorf("calls_by_source_day for March (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want[3:], viewSourceDays(t, s, zone, "2025-03-15", "2025-03-15")); diff != "" {
			t.Errorf("calls_by_source_day for 15 March (-want +got):\n%s", diff)
		}
	})

	t.Run("missed calls without callback are those the callback list holds", func(t *testing.T) {
		want := []viewMissed{
			{Day: "2025-03-14", CallID: "v4", Number: viewPetr, CallerKind: "new", Did: viewLineSite, Source: "Сайт",
				Campaign: "Главная", Status: "abandoned", OfferedTo: []string{"103"}, RingSeconds: 7, WaitSeconds: 10},
			// No phone could be reached: a failed call stays on the list.
			{Day: "2025-03-14", CallID: "v9", Number: "+79851112233", CallerKind: "new", Did: "+74951110001", Source: "Авито",
				Campaign: "С пробегом", Status: "failed", OfferedTo: []string{}, WaitSeconds: 2.2},
			{Day: "2025-03-15", CallID: "w1", Number: viewOlga, CallerKind: "lead", Did: viewLineSite, Source: "Сайт",
				Campaign: "Главная", Status: "missed", OfferedTo: []string{"101"}, RingSeconds: 33, WaitSeconds: 40},
		}
		got := viewMissedCalls(t, s, zone)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("missed_without_callback (-want +got):\n%s", diff)
		}
		cbs, err := s.Callbacks(t.Context(), time.Date(2025, 3, 16, 0, 0, 0, 0, loc))
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]int{}
		for _, cb := range cbs {
			listed[cb.Number] = cb.Attempts
		}
		inView := map[string]int{}
		for _, c := range got {
			inView[c.Number]++
		}
		if diff := cmp.Diff(listed, inView); diff != "" {
			t.Errorf("missed calls by number: the callback list (-) and the view (+) differ:\n%s", diff)
		}
	})

	t.Run("operator stats count each ring of an operator's phone, with their own ring and talk time", func(t *testing.T) {
		want := []viewOperatorDay{
			{Day: "2025-03-14", Operator: "101", Name: ptr("Анна Смирнова"), Offered: 4, Answered: 1, Missed: 3, NoAnswer: 3,
				AnswerRate: 0.25, AvgRingSeconds: viewSeconds(4), AvgTalkSeconds: viewSeconds(120), TalkSeconds: 120, Outbound: 1, OutboundAnswered: 1},
			{Day: "2025-03-14", Operator: "102", Name: ptr("Ольга Кузнецова"), Offered: 4, Answered: 1, Missed: 3, NoAnswer: 2,
				AnswerRate: 0.25, AvgRingSeconds: viewSeconds(3), AvgTalkSeconds: viewSeconds(60), TalkSeconds: 60, Outbound: 1},
			{Day: "2025-03-14", Operator: "103", Offered: 1, Missed: 1},
			{Day: "2025-03-15", Operator: "101", Name: ptr("Анна Смирнова"), Offered: 2, Missed: 2, NoAnswer: 2},
			{Day: "2025-03-15", Operator: "103", Offered: 1, Answered: 1, AnswerRate: 1,
				AvgRingSeconds: viewSeconds(5), AvgTalkSeconds: viewSeconds(30), TalkSeconds: 30},
		}
		if diff := cmp.Diff(want, viewOperatorDays(t, s, zone, "2025-03-14", "2025-03-15")); diff != "" {
			t.Errorf("operator_stats (-want +got):\n%s", diff)
		}
		if got := viewOperatorDays(t, s, zone, "2025-03-16", "2025-03-31"); len(got) != 0 {
			t.Errorf("operator_stats for days without calls = %+v, want no rows", got)
		}
	})
}

// TestAnalystViewsDaysAreTheSessionsTimeZones: the same calls fall on the
// days of whichever zone the analyst's session is in, a day the clocks go
// forward included.
func TestAnalystViewsDaysAreTheSessionsTimeZones(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, backends[0])
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	// Berlin's clocks went forward on 30 March 2025: CET (UTC+1) until
	// 01:00 UTC, CEST (UTC+2) after.
	save(t, s,
		viewCall("z1", ivan, viewLineNone, at("2025-03-29T22:30:00Z"), 20, viewRing(at("2025-03-29T22:30:00Z"), "101", 2, 2, 17, screenpop.OutcomeNoAnswer)),
		viewCall("z2", ivan, viewLineNone, at("2025-03-29T23:30:00Z"), 20, viewRing(at("2025-03-29T23:30:00Z"), "101", 2, 2, 17, screenpop.OutcomeNoAnswer)),
		viewCall("z3", ivan, viewLineNone, at("2025-03-30T21:30:00Z"), 20, viewRing(at("2025-03-30T21:30:00Z"), "101", 2, 2, 17, screenpop.OutcomeNoAnswer)),
		viewCall("z4", ivan, viewLineNone, at("2025-03-30T22:30:00Z"), 20, viewRing(at("2025-03-30T22:30:00Z"), "101", 2, 2, 17, screenpop.OutcomeNoAnswer)),
	)
	tests := []struct {
		zone string
		want []viewSourceDay
	}{
		{"UTC", []viewSourceDay{
			{Day: "2025-03-29", DayStart: at("2025-03-29T00:00:00Z"), Total: 2, Missed: 2, Lost: 2, NewCallers: 1},
			{Day: "2025-03-30", DayStart: at("2025-03-30T00:00:00Z"), Total: 2, Missed: 2, Lost: 2},
		}},
		{"Europe/Moscow", []viewSourceDay{
			{Day: "2025-03-30", DayStart: at("2025-03-29T21:00:00Z"), Total: 2, Missed: 2, Lost: 2, NewCallers: 1},
			{Day: "2025-03-31", DayStart: at("2025-03-30T21:00:00Z"), Total: 2, Missed: 2, Lost: 2},
		}},
		{"Europe/Berlin", []viewSourceDay{
			{Day: "2025-03-29", DayStart: at("2025-03-28T23:00:00Z"), Total: 1, Missed: 1, Lost: 1, NewCallers: 1},
			{Day: "2025-03-30", DayStart: at("2025-03-29T23:00:00Z"), Total: 2, Missed: 2, Lost: 2},
			{Day: "2025-03-31", DayStart: at("2025-03-30T22:00:00Z"), Total: 1, Missed: 1, Lost: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, viewSourceDays(t, s, tt.zone, "2025-03-01", "2025-04-30")); diff != "" {
				t.Errorf("calls_by_source_day in %s (-want +got):\n%s", tt.zone, diff)
			}
			var days []string
			for _, r := range viewOperatorDays(t, s, tt.zone, "2025-03-01", "2025-04-30") {
				days = append(days, fmt.Sprintf("%s %s offered %d", r.Day, r.Operator, r.Offered))
			}
			var want []string
			for _, r := range tt.want {
				want = append(want, fmt.Sprintf("%s 101 offered %d", r.Day, r.Total))
			}
			if diff := cmp.Diff(want, days); diff != "" {
				t.Errorf("operator_stats days in %s (-want +got):\n%s", tt.zone, diff)
			}
		})
	}
}

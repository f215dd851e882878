package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// logStore is what the call log listing tests ask of a store.
type logStore interface {
	sourceBase
	CallLister
}

func openCallLog(tb testing.TB, b backend) logStore {
	tb.Helper()
	s, ok := openSources(tb, b).(logStore)
	if !ok {
		tb.Fatalf("%T cannot list its call log", s)
	}
	return s
}

// mar14 is an instant of 2026-03-14, UTC: the day of the listing tests.
func mar14(h, m int) time.Time { return time.Date(2026, 3, 14, h, m, 0, 0, time.UTC) }

// The lines of the listing tests, as the trunk sends them.
const (
	radioLine  = "74951112233"
	siteLine   = "84953334455"
	directLine = "+74957778899" // an employee's direct line
)

// logCall is an inbound call from caller to did at t, ending status, with
// one offer per operator in offers (the first answering when answered).
func logCall(id, caller, did string, t time.Time, status screenpop.Status, offers ...string) screenpop.Call {
	c := callAt(id, caller, did, t)
	c.Status = status
	c.OfferedTo, c.TalkedTo = []string{}, []string{}
	for i, op := range offers {
		o := screenpop.Offer{Operator: op, Channel: "PJSIP/" + op + "-0000000" + fmt.Sprint(i), DialedAt: t.Add(time.Second),
			RingingAt: ptrTime(t.Add(2 * time.Second)), EndedAt: ptrTime(t.Add(20 * time.Second))}
		switch {
		case status == screenpop.StatusBusy:
			o.RingingAt, o.Outcome, o.DialStatus = nil, screenpop.OutcomeBusy, "BUSY"
		case status == screenpop.StatusAnswered && i == 0:
			o.AnsweredAt, o.Outcome, o.DialStatus = ptrTime(t.Add(6*time.Second)), screenpop.OutcomeAnswered, "ANSWER"
		case status == screenpop.StatusAnswered:
			o.Outcome, o.DialStatus = screenpop.OutcomeAnsweredElsewhere, "CANCEL"
		case status == screenpop.StatusAbandoned:
			o.Outcome, o.DialStatus = screenpop.OutcomeCancelled, "CANCEL"
		default:
			o.Outcome, o.DialStatus = screenpop.OutcomeNoAnswer, "NOANSWER"
		}
		c.Offers = append(c.Offers, o)
		if o.Rang() {
			c.OfferedTo = append(c.OfferedTo, op)
		}
	}
	c.AnsweredBy, c.AnsweredAt = nil, nil
	if status == screenpop.StatusAnswered && len(offers) > 0 {
		c.AnsweredBy, c.AnsweredAt, c.TalkedTo = &offers[0], ptrTime(t.Add(6*time.Second)), []string{offers[0]}
		c.RingSeconds, c.WaitSeconds, c.TalkSeconds = 4.25, 6.5, 53.5
	}
	return c
}

// seedCallLog logs a day of calls of every kind, on lines with sources,
// and one call just before the day and one just after:
//
//	c9 03-13 23:59:59.999  new      Радио  missed     rang 101
//	c1 09:00  Иван (client)   Радио  answered   rang 101 102, talked to 101
//	c2 09:10  Мария, new      Сайт   missed     rang 102
//	c3 09:20  Мария, a lead   Радио  abandoned  rang 101 102
//	c4 09:30  withheld        Радио  answered   rang 102, talked to 102 then 103
//	c5 09:40  extension 105   -      failed
//	c6 09:50  101 called Иван back (outbound), answered
//	c7 10:00  Иван on a direct line (internal), busy: 103's phone
//	c8 03-15 00:00  new      Сайт   answered   rang 101
func seedCallLog(t *testing.T, s logStore) {
	t.Helper()
	ctx := t.Context()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, src := range []screenpop.Source{
		{DID: radioLine, Source: "Радио «Европа Плюс»", Campaign: "Весна", From: from},
		{DID: siteLine, Source: "Сайт", From: from},
		{DID: directLine, Source: "Прямой Иванова", From: from, Internal: true},
	} {
		if _, err := s.AddSource(ctx, src); err != nil {
			t.Fatalf("AddSource: %v", err)
		}
	}
	if _, err := s.ImportClients(ctx, []screenpop.ClientHistory{{Client: screenpop.Client{
		LastName: "Петров", FirstName: "Иван", Phones: []string{ivan}}}}); err != nil {
		t.Fatalf("ImportClients: %v", err)
	}
	c4 := logCall("c4", "anonymous", radioLine, mar14(9, 30), screenpop.StatusAnswered, "102")
	c4.TalkedTo = []string{"102", "103"}
	c5 := logCall("c5", "105", "", mar14(9, 40), screenpop.StatusFailed)
	c6 := logCall("c6", "89161234567", "", mar14(9, 50), screenpop.StatusAnswered)
	c6.Direction, c6.AnsweredBy, c6.TalkedTo = screenpop.Outbound, ptr("101"), []string{"101"}
	c1 := logCall("c1", "89161234567", radioLine, mar14(9, 0), screenpop.StatusAnswered, "101", "102")
	c1.CallerName, c1.LookupName = "MOSCOW", "Петров Иван" // the carrier's name, and screenpop's in Stasis
	calls := []screenpop.Call{
		logCall("c9", "+79990000002", radioLine, mar14(0, 0).Add(-time.Millisecond), screenpop.StatusMissed, "101"),
		c1,
		logCall("c2", maria, siteLine, mar14(9, 10), screenpop.StatusMissed, "102"),
		logCall("c3", maria, radioLine, mar14(9, 20), screenpop.StatusAbandoned, "101", "102"),
		c4, c5, c6,
		logCall("c7", ivan, directLine, mar14(10, 0), screenpop.StatusBusy, "103"),
		logCall("c8", "+79990000001", siteLine, mar14(24, 0), screenpop.StatusAnswered, "101"),
	}
	for _, c := range calls { // one at a time, as calls end
		if err := s.SaveCalls(ctx, []screenpop.Call{c}); err != nil {
			t.Fatalf("SaveCalls %s: %v", c.ID, err)
		}
	}
}

// listIDs lists the IDs of the calls f matches, in the listing's order.
func listIDs(t *testing.T, s CallLister, f screenpop.CallFilter) []string {
	t.Helper()
	ids := []string{}
	if err := s.Calls(t.Context(), f, func(c screenpop.Call) error {
		ids = append(ids, c.ID)
		return nil
	}); err != nil {
		t.Fatalf("Calls(%+v): %v", f, err)
	}
	return ids
}

func TestCallLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testCallLog(t, b)
		})
	}
}

func testCallLog(t *testing.T, b backend) {
	day := func(f screenpop.CallFilter) screenpop.CallFilter {
		f.From, f.To = mar14(0, 0), mar14(24, 0)
		return f
	}
	statuses := func(s ...screenpop.Status) []screenpop.Status { return s }
	kinds := func(k ...screenpop.CallerKind) []screenpop.CallerKind { return k }

	t.Run("every filter lists the calls it should, newest first", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		seedCallLog(t, s)
		tests := []struct {
			name   string
			filter screenpop.CallFilter
			want   string
		}{
			{"no filter lists every call", screenpop.CallFilter{}, "c8 c7 c6 c5 c4 c3 c2 c1 c9"},
			{"a day holds its first instant, not the next day's", day(screenpop.CallFilter{}), "c7 c6 c5 c4 c3 c2 c1"},
			{"outbound calls", day(screenpop.CallFilter{Direction: screenpop.Outbound}), "c6"},
			{"inbound calls", day(screenpop.CallFilter{Direction: screenpop.Inbound}), "c7 c5 c4 c3 c2 c1"},
			{"missed and abandoned calls", day(screenpop.CallFilter{Statuses: statuses(screenpop.StatusMissed, screenpop.StatusAbandoned)}), "c3 c2"},
			{"answered calls, in and out", day(screenpop.CallFilter{Statuses: statuses(screenpop.StatusAnswered)}), "c6 c4 c1"},
			{"busy and failed calls", day(screenpop.CallFilter{Statuses: statuses(screenpop.StatusBusy, screenpop.StatusFailed)}), "c7 c5"},
			{"clients' calls, in and out", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindClient)}), "c6 c1"},
			{"a number's second call is a lead's", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindLead)}), "c3"},
			{"a number's first call is a new caller's", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindNew)}), "c2"},
			{"withheld callers", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindWithheld)}), "c4"},
			{"extensions and direct lines are internal", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindInternal)}), "c7 c5"},
			{"clients and leads", day(screenpop.CallFilter{Kinds: kinds(screenpop.KindClient, screenpop.KindLead)}), "c6 c3 c1"},
			{"a source", day(screenpop.CallFilter{Source: "Радио «Европа Плюс»"}), "c4 c3 c1"},
			{"a source, any day", screenpop.CallFilter{Source: "Радио «Европа Плюс»"}, "c4 c3 c1 c9"},
			{"another source", day(screenpop.CallFilter{Source: "Сайт"}), "c2"},
			{"a source spelt otherwise matches nothing", day(screenpop.CallFilter{Source: "радио"}), ""},
			{"a campaign", day(screenpop.CallFilter{Campaign: "Весна"}), "c4 c3 c1"},
			{"an operator's calls: rang, talked and placed", day(screenpop.CallFilter{Operator: "101"}), "c6 c3 c1"},
			{"an operator whose phone rang on every inbound call", day(screenpop.CallFilter{Operator: "102"}), "c4 c3 c2 c1"},
			{"an operator transferred to, and one whose phone was busy", day(screenpop.CallFilter{Operator: "103"}), "c7 c4"},
			{"an operator with no calls", day(screenpop.CallFilter{Operator: "104"}), ""},
			{"a number in its national form, in and out", day(screenpop.CallFilter{Caller: "8 (916) 123-45-67"}), "c7 c6 c1"},
			{"a number in E.164", day(screenpop.CallFilter{Caller: maria}), "c3 c2"},
			{"an extension", day(screenpop.CallFilter{Caller: "105"}), "c5"},
			{"a withheld caller as logged", day(screenpop.CallFilter{Caller: "anonymous"}), "c4"},
			{"a number that never called", day(screenpop.CallFilter{Caller: "+79000000000"}), ""},
			{"a source's answered calls", day(screenpop.CallFilter{Source: "Радио «Европа Плюс»", Statuses: statuses(screenpop.StatusAnswered)}), "c4 c1"},
			{"an operator's inbound calls", day(screenpop.CallFilter{Operator: "101", Direction: screenpop.Inbound}), "c3 c1"},
			{"the first calls only", screenpop.CallFilter{Limit: 2}, "c8 c7"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := strings.Join(listIDs(t, s, tt.filter), " "); got != tt.want {
					t.Errorf("listed %q, want %q", got, tt.want)
				}
			})
		}
	})

	t.Run("listed calls are the stored ones, with their offers when asked", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		seedCallLog(t, s)
		for _, offers := range []bool{true, false} {
			var n int
			err := s.Calls(t.Context(), screenpop.CallFilter{Offers: offers}, func(got screenpop.Call) error {
				n++
				want, err := s.Call(t.Context(), got.PBX, got.ID)
				if err != nil {
					return err
				}
				if !offers {
					want.Offers = []screenpop.Offer{}
				}
				if diff := cmp.Diff(want, got, sameTime); diff != "" {
					t.Errorf("listed call %s (offers %v) differs from the stored one (-stored +listed):\n%s", got.ID, offers, diff)
				}
				return nil
			})
			if err != nil || n != 9 {
				t.Errorf("listed %d calls (%v), want 9", n, err)
			}
		}
	})

	t.Run("pages neither repeat nor skip a call, even as new calls are logged", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		// 30 calls, three at each instant, so pages end inside a tie.
		var calls []screenpop.Call
		for i := range 30 {
			calls = append(calls, callAt(fmt.Sprintf("p%02d", i), "+7916000"+pad4(i), radioLine, mar14(9, i/3)))
		}
		save(t, s, calls...)
		all := listIDs(t, s, screenpop.CallFilter{})

		var paged []string
		f := screenpop.CallFilter{Limit: 4}
		for page := 1; ; page++ {
			var got []screenpop.Call
			if err := s.Calls(t.Context(), f, func(c screenpop.Call) error { got = append(got, c); return nil }); err != nil {
				t.Fatal(err)
			}
			for _, c := range got {
				paged = append(paged, c.ID)
			}
			if len(got) < f.Limit {
				break
			}
			if page == 2 {
				// Calls ending meanwhile started later: they are not on
				// the pages that follow.
				save(t, s, callAt("late-1", "+79160009991", radioLine, mar14(11, 0)), callAt("late-2", "+79160009992", radioLine, mar14(9, 59)))
			}
			last := got[len(got)-1]
			f.AfterStartedAt, f.AfterID = last.StartedAt, last.ID
		}
		if !slices.Equal(paged, all) {
			t.Errorf("pages of 4 listed\n%v\nwant the listing\n%v", paged, all)
		}
	})

	t.Run("a long listing is read in batches and writing goes on meanwhile", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		const n = 2*callBatch + 234
		calls := make([]screenpop.Call, n)
		for i := range calls {
			calls[i] = callAt(fmt.Sprintf("b%04d", i), "+7916100"+pad4(i), siteLine, mar14(0, 0).Add(time.Duration(i)*time.Second))
		}
		save(t, s, calls...)

		var listed []string
		err := s.Calls(t.Context(), screenpop.CallFilter{To: mar14(12, 0)}, func(c screenpop.Call) error {
			if len(listed)%callBatch == 0 {
				// The embedded store has one connection: a listing that
				// held it would leave the writer waiting for ever.
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				late := callAt(fmt.Sprintf("during-%d", len(listed)), "+79169999999", siteLine, mar14(13, 0))
				if err := s.SaveCalls(ctx, []screenpop.Call{late}); err != nil {
					return fmt.Errorf("save a call during the listing: %w", err)
				}
			}
			listed = append(listed, c.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != n || listed[0] != fmt.Sprintf("b%04d", n-1) || listed[n-1] != "b0000" {
			t.Errorf("listed %d calls from %s to %s, want %d from b%04d to b0000", len(listed), listed[0], listed[len(listed)-1], n, n-1)
		}
		if got := listIDs(t, s, screenpop.CallFilter{Limit: callBatch + 100}); len(got) != callBatch+100 {
			t.Errorf("a limit of %d over two batches listed %d calls", callBatch+100, len(got))
		}
	})

	t.Run("an error from the caller stops the listing and is returned", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		seedCallLog(t, s)
		stop := errors.New("the client went away")
		var n int
		err := s.Calls(t.Context(), screenpop.CallFilter{}, func(screenpop.Call) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Errorf("Calls returned %v after %d calls, want the caller's error after 3", err, n)
		}
	})

	t.Run("every filter is read through an index", func(t *testing.T) {
		t.Parallel()
		s := openCallLog(t, b)
		seedCallLog(t, s)
		for name, f := range map[string]screenpop.CallFilter{
			"a day":                day(screenpop.CallFilter{}),
			"a day, a next page":   day(screenpop.CallFilter{AfterStartedAt: mar14(9, 0), AfterID: "c1"}),
			"statuses and kinds":   day(screenpop.CallFilter{Statuses: statuses(screenpop.StatusMissed), Kinds: kinds(screenpop.KindNew)}),
			"a source":             day(screenpop.CallFilter{Source: "Сайт", Campaign: "x", Direction: screenpop.Inbound}),
			"an operator":          day(screenpop.CallFilter{Operator: "101"}),
			"a number":             day(screenpop.CallFilter{Caller: ivan}),
			"a number, any day":    {Caller: ivan},
			"an extension, a day":  day(screenpop.CallFilter{Caller: "105"}),
			"every filter at once": day(screenpop.CallFilter{Caller: ivan, Operator: "101", Source: "Сайт", Statuses: statuses(screenpop.StatusMissed)}),
		} {
			plan := queryPlan(t, s, f)
			for _, line := range strings.Split(plan, "\n") {
				line = strings.TrimSpace(strings.TrimLeft(line, " ->"))
				for _, whole := range []string{"Seq Scan on calls", "Seq Scan on offers", "SCAN calls", "SCAN offers"} {
					if strings.HasPrefix(line, whole) {
						t.Errorf("%s: the query reads a whole table (%s):\n%s", name, line, plan)
					}
				}
			}
		}
	})
}

func pad4(i int) string { return fmt.Sprintf("%04d", i) }

// queryPlan explains the first batch's query for f. PostgreSQL's planner
// is told to avoid sequential scans, as a call log of millions of rows
// would make it: it still chooses one where no index can serve.
func queryPlan(t *testing.T, s logStore, f screenpop.CallFilter) string {
	t.Helper()
	var lines []string
	switch s := s.(type) {
	case *Postgres:
		q, args := listQuery(pgDialect, s.region, f, callBatch)
		conn, err := s.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		tx, err := conn.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		if _, err := tx.Exec(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(t.Context(), "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	case *SQLite:
		q, args := listQuery(sqliteDialect, s.region, f, callBatch)
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, sqliteArgs(args)...)
		if err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN %s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no plan for %+v", f)
	}
	return strings.Join(lines, "\n")
}

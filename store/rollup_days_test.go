package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// TestRollupDaysFollowTheirHours reads reports that fill the roll-ups of
// days (0026), then writes a call into a day already rolled up, replaces
// one, deletes one and its note, and after each step checks that the days
// held are exactly what the raw rows give (CheckRollups fills them again
// from hours rebuilt from the calls) and that the reports read from them
// are the raw rows' ones, in Moscow, in Berlin over the night its clocks
// go forward (a day of 23 hours, held apart from Moscow's), in UTC and in
// India (half an hour off: no days). A day changed by hand is what
// CheckRollups reports and what a rebuild puts right.
func TestRollupDaysFollowTheirHours(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ok := openMigrated(t, b).(rollupStore)
			if !ok {
				t.Fatalf("%s keeps no roll-ups", b.name)
			}
			s.(interface{ SetRegion(string) }).SetRegion("RU")
			ctx := context.Background()
			since := time.Date(2025, time.January, 1, 0, 0, 0, 0, reportsZone)
			for _, src := range []screenpop.Source{
				{DID: lineYandex, Source: "Яндекс.Директ", Campaign: "Сервис", From: since},
				{DID: "+74951110002", Source: "Авито", From: since},
			} {
				if _, err := s.AddSource(ctx, src); err != nil {
					t.Fatal(err)
				}
			}
			g := &rollupGen{r: rand.New(rand.NewPCG(7, 26))}
			calls := make([]screenpop.Call, 200)
			for i := range calls {
				calls[i] = g.call(fmt.Sprintf("d-%03d", i))
			}
			if err := s.SaveCalls(ctx, calls); err != nil {
				t.Fatal(err)
			}
			noter := s.(interface {
				SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
			})
			note := func(c screenpop.Call, purpose string) {
				n := screenpop.Note{CallID: c.ID, Purpose: purpose, Text: "перезвонить",
					Operator: screenpop.Operator{Extension: "101"}, At: c.EndedAt}
				if _, err := noter.SaveNote(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range calls {
				if i%3 == 0 {
					note(c, []string{"sales", "service_booking"}[i%2])
				}
			}
			checkRollupDays(t, s, "after writing 200 calls")
			held := heldDayCount(t, s)
			// Moscow's, Berlin's and UTC's days of the four reports: some
			// share their bounds (Berlin's and UTC's), some do not.
			if held < 20 {
				t.Fatalf("the reports hold %d days' roll-ups: the days are not filled", held)
			}

			// An inbound call answered at 12:34 Moscow time on a day held.
			at := time.Date(2025, time.March, 28, 12, 34, 0, 0, reportsZone)
			answered := at.Add(7 * time.Second)
			added := screenpop.Call{ID: "d-added", Direction: screenpop.Inbound, DID: lineYandex, Caller: "+79160009999",
				CallerE164: ptr("+79160009999"), Status: screenpop.StatusAnswered, WaitSeconds: 7, StartedAt: at,
				AnsweredAt: &answered, AnsweredBy: ptr("102"), EndedAt: at.Add(time.Minute),
				Offers:    []screenpop.Offer{reportOffer(at, "102", screenpop.OutcomeAnswered, 1, 2, 7, 60)},
				OfferedTo: []string{"102"}}
			if err := s.SaveCalls(ctx, []screenpop.Call{added}); err != nil {
				t.Fatal(err)
			}
			note(added, "sales")
			checkRollupDays(t, s, "after writing a call into a day held")

			inbound := slices.IndexFunc(calls, func(c screenpop.Call) bool { return c.Direction == screenpop.Inbound })
			replaced := g.moreComplete(calls[inbound])
			if err := s.SaveCalls(ctx, []screenpop.Call{replaced}); err != nil {
				t.Fatal(err)
			}
			checkRollupDays(t, s, "after replacing a call with a more complete record")

			deleteCalls(t, s, []string{calls[3].ID, added.ID})
			deleteNotes(t, s, []string{calls[6].ID})
			checkRollupDays(t, s, "after deleting two calls and a note")

			// A day's roll-up changed by hand: the reports read it (they
			// now count a call more), the check says so, a rebuild puts it
			// right and keeps the days.
			held = heldDayCount(t, s)
			execSQL(t, s, `UPDATE rollup_day_calls SET calls = calls + 1, answered = answered + 1
				WHERE day_start = (SELECT min(day_start) FROM rollup_day_calls WHERE calls > 0)`)
			from := time.Date(2025, time.March, 25, 0, 0, 0, 0, reportsZone)
			got, err := s.summary(ctx, from, from.AddDate(0, 0, 12), report.DefaultServiceLevel, true)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.summary(ctx, from, from.AddDate(0, 0, 12), report.DefaultServiceLevel, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Totals.Total == want.Totals.Total {
				t.Errorf("a day's roll-up changed by hand, the report still counts %d calls: it does not read the days", got.Totals.Total)
			}
			d, err := s.CheckRollups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d.Calls == 0 || len(d.Examples) == 0 || !strings.HasPrefix(d.Examples[0], "rollup_day_calls ") {
				t.Errorf("a day's roll-up changed by hand, the check says %+v", d)
			}
			n, err := s.RebuildRollups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n.Days != held {
				t.Errorf("rebuilt, the roll-ups hold %d days; %d were held", n.Days, held)
			}
			checkRollupDays(t, s, "after a rebuild")
		})
	}
}

// checkRollupDays checks that the roll-ups, the days' too, are what the
// raw rows give, and that reports of the week from 25 March 2025 and of
// 27 March to 2 April (days held or filled now, and their previous
// periods) read the raw rows' figures from them, in four zones.
func checkRollupDays(t *testing.T, s rollupStore, when string) {
	t.Helper()
	ctx := context.Background()
	d, err := s.CheckRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !d.None() {
		t.Errorf("%s: the roll-ups differ from the raw rows in %d call and %d operator rows: %v", when, d.Calls, d.Operators, d.Examples)
	}
	for _, zone := range []string{"Europe/Moscow", "Europe/Berlin", "UTC", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, days := range [][2]int{{25, 12}, {27, 7}} {
			from := time.Date(2025, time.March, days[0], 0, 0, 0, 0, loc)
			to := from.AddDate(0, 0, days[1])
			got, err := s.summary(ctx, from, to, report.DefaultServiceLevel, true)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.summary(ctx, from, to, report.DefaultServiceLevel, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: the report of %d days from %s in %s from the roll-ups differs from the raw rows' (-raw +roll-ups):\n%s",
					when, days[1], from.Format(time.DateOnly), zone, diff)
			}
			if want.Totals.Total == 0 || len(want.Operators) == 0 || len(want.Purposes) == 0 {
				t.Errorf("%s: the report of %d days from %s in %s counts no calls, operators or purposes: it proves nothing",
					when, days[1], from.Format(time.DateOnly), zone)
			}
		}
	}
	// Read again with every day held: the days alone serve them.
	d, err = s.CheckRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !d.None() {
		t.Errorf("%s, the days filled: the roll-ups differ from the raw rows in %d call and %d operator rows: %v",
			when, d.Calls, d.Operators, d.Examples)
	}
}

// heldDayCount is how many days' roll-ups s holds.
func heldDayCount(t *testing.T, s rollupStore) int {
	t.Helper()
	ctx := context.Background()
	var n int
	var err error
	switch s := s.(type) {
	case *Postgres:
		err = s.pool.QueryRow(ctx, "SELECT count(*) FROM rollup_days").Scan(&n)
	case *SQLite:
		err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM rollup_days").Scan(&n)
	default:
		t.Fatalf("%T holds no days", s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRollupDaysWhileCallsAreWritten reads reports of days held while
// calls are written into those days, one at a time, a third of them
// noted: refreshes take the days out as
// reports fill them. Each report counts every call written before it
// began and none that is not stored (a day lost between a refresh and a
// read would count fewer), and once the writes stop, the roll-ups and
// the reports are the raw rows'.
func TestRollupDaysWhileCallsAreWritten(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ok := openMigrated(t, b).(rollupStore)
			if !ok {
				t.Fatalf("%s keeps no roll-ups", b.name)
			}
			ctx := context.Background()
			g := &rollupGen{r: rand.New(rand.NewPCG(8, 26))}
			var inbound []screenpop.Call
			for i := 0; len(inbound) < 240; i++ {
				if c := g.call(fmt.Sprintf("w-%03d", i)); c.Direction == screenpop.Inbound {
					inbound = append(inbound, c)
				}
			}
			if err := s.SaveCalls(ctx, inbound[:40]); err != nil {
				t.Fatal(err)
			}
			from := time.Date(2025, time.March, 25, 0, 0, 0, 0, reportsZone)
			to := from.AddDate(0, 0, 12)
			if _, err := s.summary(ctx, from, to, report.DefaultServiceLevel, true); err != nil {
				t.Fatal(err)
			}
			if heldDayCount(t, s) == 0 {
				t.Fatal("the first report held no days")
			}

			noter := s.(interface {
				SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
			})
			var written atomic.Int64
			written.Store(40)
			done := make(chan error, 1)
			go func() {
				defer close(done)
				for i, c := range inbound[40:] {
					if err := s.SaveCalls(ctx, []screenpop.Call{c}); err != nil {
						done <- err
						return
					}
					written.Add(1)
					if i%3 == 0 {
						n := screenpop.Note{CallID: c.ID, Purpose: "sales", Text: "перезвонить",
							Operator: screenpop.Operator{Extension: "101"}, At: c.EndedAt}
						if _, err := noter.SaveNote(ctx, n); err != nil {
							done <- err
							return
						}
					}
				}
			}()
			reads := 0
			for finished := false; !finished; reads++ {
				select {
				case err, more := <-done:
					if err != nil {
						t.Fatal(err)
					}
					finished = !more
				default:
				}
				before := int(written.Load())
				got, err := s.summary(ctx, from, to, report.DefaultServiceLevel, true)
				if err != nil {
					t.Fatal(err)
				}
				if got.Totals.Total < before || got.Totals.Total > len(inbound) {
					t.Fatalf("read %d: the report counts %d calls; %d were written before it began, %d in all",
						reads, got.Totals.Total, before, len(inbound))
				}
			}
			t.Logf("%d reports read while %d calls were written", reads, len(inbound)-40)
			checkRollupDays(t, s, "after writing calls while reports read")
		})
	}
}

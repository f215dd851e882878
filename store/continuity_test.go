package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// A call the tracker records more than once (at its end and again after a
// late event; truncated at a graceful stop and whole after the restart)
// keeps one row: the more complete record.

func TestSaveCallsKeepsTheMoreCompleteRecord(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testMoreComplete(t, b)
		})
	}
}

// truncated is c as a daemon stopping mid-call writes it: its end unseen.
func truncated(c screenpop.Call) screenpop.Call {
	c.EndedAt = *c.AnsweredAt
	c.TalkSeconds = 0
	c.CloseReason = "the daemon stopped during the call"
	c.Gaps = []screenpop.Gap{screenpop.GapEnd}
	c.Offers = c.Offers[:1]
	return c
}

func testMoreComplete(t *testing.T, b backend) {
	full := answeredCall("1700000900.1")
	flagged := full
	flagged.Gaps = []screenpop.Gap{screenpop.GapAnswer, screenpop.GapOffers}
	later := full
	later.EndedAt = full.EndedAt.Add(3 * time.Second)
	later.TalkSeconds += 3
	twoGaps := flagged
	oneGap := full
	oneGap.Gaps = []screenpop.Gap{screenpop.GapAnswer}

	tests := []struct {
		name          string
		first, second screenpop.Call
		want          screenpop.Call
	}{
		{"the full record written after a restart replaces the truncated one written at the stop", truncated(full), full, full},
		{"a truncated record never replaces a full one", full, truncated(full), full},
		{"a record with fewer gaps replaces one with more", twoGaps, oneGap, oneGap},
		{"a record with more gaps leaves one with fewer", oneGap, twoGaps, oneGap},
		{"an exact record replaces a flagged one", flagged, full, full},
		{"of two records as complete, the one that ended later stays", full, later, later},
		{"a record that ended earlier leaves the later one", later, full, later},
		{"the same record delivered again changes nothing", full, full, full},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMigrated(t, b)
			id := fmt.Sprintf("1700000900.%d", i)
			first, second, want := tt.first, tt.second, tt.want
			first.ID, second.ID, want.ID = id, id, id
			for _, batch := range [][]screenpop.Call{{first}, {second}} {
				if err := s.SaveCalls(context.Background(), batch); err != nil {
					t.Fatalf("SaveCalls: %v", err)
				}
			}
			assertStoredOnce(t, s, want)
			if n := countRows(t, s, "offers", id); n != len(want.Offers) {
				t.Errorf("offers of the call: %d rows, want %d", n, len(want.Offers))
			}
			t.Logf("saved twice: 1 row, %d offers, gaps %v", countRows(t, s, "offers", id), want.Gaps)
		})
	}

	t.Run("both versions in one batch keep the more complete one", func(t *testing.T) {
		s := openMigrated(t, b)
		c := full
		c.ID = "1700000901.1"
		if err := s.SaveCalls(context.Background(), []screenpop.Call{truncated(c), c, truncated(c)}); err != nil {
			t.Fatalf("SaveCalls: %v", err)
		}
		assertStoredOnce(t, s, c)
	})

	t.Run("a replacement keeps the caller kind the client base gave the first record", func(t *testing.T) {
		s := openMigrated(t, b)
		c := full
		c.ID = "1700000902.1"
		c.CallerKind = ""
		if err := s.SaveCalls(context.Background(), []screenpop.Call{truncated(c)}); err != nil {
			t.Fatal(err)
		}
		first, err := s.Call(context.Background(), c.PBX, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The caller becomes a client during the call (an operator made
		// the lead a client).
		addClientPhone(t, s, *c.CallerE164)
		if err := s.SaveCalls(context.Background(), []screenpop.Call{c}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Call(context.Background(), c.PBX, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CallerKind != first.CallerKind || got.TalkSeconds != c.TalkSeconds {
			t.Errorf("replaced record: kind %q talk %v, want kind %q (as first written) talk %v",
				got.CallerKind, got.TalkSeconds, first.CallerKind, c.TalkSeconds)
		}
	})
}

// addClientPhone adds a client (not a lead) with the number.
func addClientPhone(t *testing.T, s callStore, e164 string) {
	t.Helper()
	stmts := []string{
		`INSERT INTO clients (client_id, last_name, first_name, patronymic) VALUES (900001, 'Vries', 'Jan', '')`,
		`INSERT INTO client_phones (client_id, e164, seq) VALUES (900001, '` + e164 + `', 1)`,
	}
	for _, q := range stmts {
		var err error
		switch s := s.(type) {
		case *Postgres:
			_, err = s.pool.Exec(context.Background(), q)
		case *SQLite:
			_, err = s.db.ExecContext(context.Background(), q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestGapsAreStoredAndFiltered(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openCallLog(t, b)
			exact := answeredCall("1700000950.1")
			answer := answeredCall("1700000950.2")
			answer.Gaps = []screenpop.Gap{screenpop.GapAnswer, screenpop.GapStart, screenpop.GapAnswer}
			end := answeredCall("1700000950.3")
			end.Gaps = []screenpop.Gap{screenpop.GapEnd}
			end.CloseReason = "ended while the ARI connection was down"
			if err := s.SaveCalls(context.Background(), []screenpop.Call{exact, answer, end}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Call(context.Background(), answer.PBX, answer.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := []screenpop.Gap{screenpop.GapStart, screenpop.GapAnswer}; !cmp.Equal(got.Gaps, want) {
				t.Errorf("Call(%s).Gaps = %v, want %v (canonical order, each once)", answer.ID, got.Gaps, want)
			}
			var listed []string
			if err := s.Calls(context.Background(), screenpop.CallFilter{}, func(c screenpop.Call) error {
				listed = append(listed, c.ID+":"+strings.Join(strs(c.Gaps), ","))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if want := []string{"1700000950.3:end", "1700000950.2:start,answer", "1700000950.1:"}; !cmp.Equal(listed, want) {
				t.Errorf("listed %v, want %v", listed, want)
			}
			for _, tt := range []struct {
				f    screenpop.CallFilter
				want []string
			}{
				{screenpop.CallFilter{Uncertain: true}, []string{end.ID, answer.ID}},
				{screenpop.CallFilter{Gaps: []screenpop.Gap{screenpop.GapStart, screenpop.GapOffers}}, []string{answer.ID}},
				{screenpop.CallFilter{Gaps: []screenpop.Gap{screenpop.GapEnd}}, []string{end.ID}},
			} {
				if got := listIDs(t, s, tt.f); !cmp.Equal(got, tt.want) {
					t.Errorf("filter %+v: %v, want %v", tt.f, got, tt.want)
				}
			}
		})
	}
}

// poisonCaller is refused by the database in the poison tests: a check the
// test adds, as a database refusing a value it cannot hold does.
const poisonCaller = "poisoned-caller"

func refuseCaller(t *testing.T, s callStore) {
	t.Helper()
	var err error
	switch s := s.(type) {
	case *Postgres:
		_, err = s.pool.Exec(context.Background(),
			`ALTER TABLE calls ADD CONSTRAINT test_refuses CHECK (caller <> '`+poisonCaller+`')`)
	case *SQLite:
		_, err = s.db.ExecContext(context.Background(), `CREATE TRIGGER test_refuses BEFORE INSERT ON calls
			WHEN NEW.caller = '`+poisonCaller+`' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriterSetsAsideAPoisonedRecord(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b)
			refuseCaller(t, s)
			w := newTestWriter(t, openTestSpool(t, t.TempDir(), 16<<20), s).start(t)
			calls := spoolCalls(100)
			calls[37].Caller = poisonCaller
			// Bytes PostgreSQL's text refuses, and a name far too long:
			// cleaned, not refused.
			calls[60].CallerName = "Jan\x00 de \xffVries" + strings.Repeat("x", 5000)
			recordAll(w, calls)
			w.flush(t)

			stored := countRows(t, s, "calls", "")
			rejected, err := s.RejectedCalls(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: 100 calls, one poisoned: %d stored, %d set aside, writer counted %d rejected, spool depth %d",
				b.name, stored, len(rejected), w.Rejected(), w.Depth())
			if stored != 99 || len(rejected) != 1 || w.Rejected() != 1 || w.Depth() != 0 {
				t.Fatalf("want 99 stored, 1 set aside, 1 counted, spool empty")
			}
			if rejected[0].CallID != calls[37].ID || !strings.Contains(string(rejected[0].Record), poisonCaller) || rejected[0].Reason == "" {
				t.Errorf("set aside %+v, want call %s with its record and the reason", rejected[0], calls[37].ID)
			}
			if last := w.LastRejected(); last.CallID != calls[37].ID {
				t.Errorf("LastRejected = %+v, want call %s", last, calls[37].ID)
			}
			got, err := s.Call(context.Background(), calls[60].PBX, calls[60].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.CallerName, "Jan de \uFFFDVries") || len([]rune(got.CallerName)) != maxCallerName {
				t.Errorf("caller name stored as %.40q (%d characters), want it cleaned and cut to %d", got.CallerName,
					len([]rune(got.CallerName)), maxCallerName)
			}
		})
	}
}

func TestPostgresRefusesANULByteOnlyUncleaned(t *testing.T) {
	// The cleaning is what saves the call log from error 22021: the same
	// name sent as it is, is refused, and Refused says so.
	p := openMigrated(t, backends[0]).(*Postgres)
	_, err := p.pool.Exec(context.Background(), `SELECT $1::text`, "Jan\x00")
	if err == nil || !Refused(err) {
		t.Fatalf("a NUL byte sent to PostgreSQL: err %v, Refused %v; want a refusal", err, Refused(err))
	}
	t.Logf("PostgreSQL on a NUL byte: %v (Refused: %v)", err, Refused(err))
	if Refused(context.DeadlineExceeded) || Refused(fmt.Errorf("save: %w", context.Canceled)) {
		t.Error("a timeout counted as a refusal: the record would be set aside instead of kept")
	}
}

func TestSummaryLeavesUncertainDurationsOutOfAverages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b).(interface {
				callStore
				Summary(ctx context.Context, from, to time.Time, sl time.Duration) (report.Summary, error)
			})
			exact := answeredCall("1700000970.1") // waited 6.5 s; bob rang 4.2 s and talked 182.125 s
			answer := answeredCall("1700000970.2")
			answer.Gaps, answer.WaitSeconds = []screenpop.Gap{screenpop.GapAnswer}, 100 // answered unseen: wait, ring and talk are estimates
			end := answeredCall("1700000970.3")
			end.Gaps, end.WaitSeconds = []screenpop.Gap{screenpop.GapEnd}, 8.5 // end unseen: talk is an estimate
			end.CloseReason = "ended while the ARI connection was down"
			if err := s.SaveCalls(context.Background(), []screenpop.Call{exact, answer, end}); err != nil {
				t.Fatal(err)
			}
			day := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
			got, err := s.Summary(context.Background(), day, day.AddDate(0, 0, 1), 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var bob report.OperatorSummary
			for _, o := range got.Operators {
				if o.Operator == "bob" {
					bob = o
				}
			}
			t.Logf("%s: %d answered; wait over %d calls, avg %.2f s; bob answered %d, ring avg %.2f s, talk avg %.2f s",
				b.name, got.Totals.Answered, got.Wait.Answered, got.Wait.AvgSeconds, bob.Answered, bob.RingAvgSeconds, bob.TalkAvgSeconds)
			near := func(a, b float64) bool { return a > b-0.06 && a < b+0.06 }
			if got.Totals.Answered != 3 || got.Wait.Answered != 2 || !near(got.Wait.AvgSeconds, 7.5) {
				t.Errorf("answered %d, wait over %d calls avg %v; want all 3 counted, the wait over the 2 whose start and answer were seen, 7.5 s",
					got.Totals.Answered, got.Wait.Answered, got.Wait.AvgSeconds)
			}
			if sl := got.ServiceLevel; sl.Calls != 2 || sl.Within != 2 || sl.Uncertain != 1 {
				t.Errorf("service level %+v; want the 2 calls whose wait was seen, both within 20 s, and the one answered unseen apart", sl)
			}
			if bob.Answered != 3 || !near(bob.RingAvgSeconds, 4.2) || !near(bob.TalkAvgSeconds, 182.1) {
				t.Errorf("bob %+v; want 3 answered, ring 4.2 s (without the unseen answer), talk 182.1 s (the exact call only)", bob)
			}

			// The analysts' views, alike.
			var wait, ring, talk float64
			var answered int
			q1 := `SELECT avg_wait_seconds FROM calls_by_source_day`
			q2 := `SELECT answered, avg_ring_seconds, avg_talk_seconds FROM operator_stats WHERE operator = 'bob'`
			switch s := any(s).(type) {
			case *Postgres:
				err = errors.Join(s.pool.QueryRow(context.Background(), q1).Scan(&wait),
					s.pool.QueryRow(context.Background(), q2).Scan(&answered, &ring, &talk))
			case *SQLite:
				err = errors.Join(s.db.QueryRow(q1).Scan(&wait), s.db.QueryRow(q2).Scan(&answered, &ring, &talk))
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s views: avg wait %.1f s; bob %d answered, ring avg %.1f s, talk avg %.1f s", b.name, wait, answered, ring, talk)
			if !near(wait, 7.5) || answered != 3 || !near(ring, 4.2) || !near(talk, 182.1) {
				t.Errorf("views: wait %v, bob %d answered ring %v talk %v; want 7.5, 3, 4.2, 182.1", wait, answered, ring, talk)
			}
		})
	}
}

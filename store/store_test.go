package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// callStore is what the suite asks of a store; Postgres and SQLite both
// have it, and must behave alike.
type callStore interface {
	Migrate(ctx context.Context) error
	SaveCalls(ctx context.Context, calls []screenpop.Call) error
	RejectCall(ctx context.Context, c screenpop.Call, reason error) error
	Refused(err error) bool
	RejectedCalls(ctx context.Context) ([]Rejected, error)
	Call(ctx context.Context, pbx, id string) (screenpop.Call, error)
	Ping(ctx context.Context) error
	Close() error
}

// backend makes, for one test, an empty database of its own and returns a
// way to open handles on it. Handles are closed, and the database removed,
// when the test ends.
type backend struct {
	name  string
	fresh func(tb testing.TB) (open func() callStore)
}

var backends = []backend{
	{name: "PostgreSQL", fresh: freshPostgres},
	{name: "SQLite", fresh: freshSQLite},
}

func freshSQLite(tb testing.TB) func() callStore {
	path := filepath.Join(tb.TempDir(), "calls.db")
	return func() callStore {
		tb.Helper()
		s, err := OpenSQLite(context.Background(), path)
		if err != nil {
			tb.Fatalf("OpenSQLite: %v", err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
}

// openMigrated opens a migrated store on a fresh database of b's kind.
func openMigrated(tb testing.TB, b backend) callStore {
	tb.Helper()
	s := b.fresh(tb)()
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// countRows counts the rows of table, optionally those of one call.
func countRows(t testing.TB, s callStore, table, callID string) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	var args []any
	var n int
	var err error
	switch s := s.(type) {
	case *Postgres:
		if callID != "" {
			q += " WHERE call_id = $1"
			args = append(args, callID)
		}
		err = s.pool.QueryRow(context.Background(), q, args...).Scan(&n)
	case *SQLite:
		if callID != "" {
			q += " WHERE call_id = ?"
			args = append(args, callID)
		}
		err = s.db.QueryRowContext(context.Background(), q, args...).Scan(&n)
	default:
		t.Fatalf("countRows: unknown store %T", s)
	}
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// sameTime compares times as instants and by zone: the stores promise UTC.
var sameTime = cmp.Comparer(func(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location()
})

// t0 is when the test calls start: a time with milliseconds, in UTC, as the
// stores keep it.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }
func ptr(s string) *string          { return &s }

// answeredCall rang two operators; the second answered, then transferred
// the caller to a third.
func answeredCall(id string) screenpop.Call {
	return screenpop.Call{
		ID:              id,
		Direction:       screenpop.Inbound,
		Caller:          "0612345678",
		CallerE164:      ptr("+31612345678"),
		CallerName:      "J. de Vries",
		CallerKind:      screenpop.KindNew,
		DID:             "+31201234567",
		Status:          screenpop.StatusAnswered,
		OfferedTo:       []string{"alice", "bob"},
		AnsweredBy:      ptr("bob"),
		TalkedTo:        []string{"bob", "carol"},
		RingSeconds:     4.25,
		WaitSeconds:     6.5,
		TalkSeconds:     182.125,
		HangupCause:     16,
		HangupCauseText: "Normal Clearing",
		StartedAt:       t0,
		AnsweredAt:      at(6500 * time.Millisecond),
		EndedAt:         t0.Add(188625 * time.Millisecond),
		Offers: []screenpop.Offer{
			{
				Operator: "alice", Channel: "PJSIP/alice-00000002",
				DialedAt: t0.Add(2 * time.Second), RingingAt: at(2250 * time.Millisecond), EndedAt: at(6500 * time.Millisecond),
				Outcome: screenpop.OutcomeAnsweredElsewhere, DialStatus: "CANCEL",
			},
			{
				Operator: "bob", Channel: "PJSIP/bob-00000003",
				DialedAt: t0.Add(2 * time.Second), RingingAt: at(2300 * time.Millisecond),
				AnsweredAt: at(6500 * time.Millisecond), EndedAt: at(188625 * time.Millisecond),
				Outcome: screenpop.OutcomeAnswered, DialStatus: "ANSWER",
			},
		},
	}
}

// withheldMissedCall came from a withheld number and rang one phone that
// never rang back: no E.164 number, nobody answered.
func withheldMissedCall(id string) screenpop.Call {
	return screenpop.Call{
		ID:              id,
		Direction:       screenpop.Inbound,
		Caller:          "anonymous",
		Withheld:        true,
		CallerKind:      screenpop.KindWithheld,
		DID:             "+31201234567",
		Status:          screenpop.StatusMissed,
		OfferedTo:       []string{"alice"},
		TalkedTo:        []string{},
		RingSeconds:     30,
		WaitSeconds:     31.5,
		HangupCause:     19,
		HangupCauseText: "No answer",
		StartedAt:       t0,
		EndedAt:         t0.Add(31500 * time.Millisecond),
		Offers: []screenpop.Offer{{
			Operator: "alice", Channel: "PJSIP/alice-00000007",
			DialedAt: t0.Add(1500 * time.Millisecond), RingingAt: at(1600 * time.Millisecond), EndedAt: at(31500 * time.Millisecond),
			Outcome: screenpop.OutcomeNoAnswer, DialStatus: "NOANSWER",
		}},
	}
}

// busyCall found every operator busy; the ARI connection dropped before its
// end was seen, so the tracker closed it.
func busyCall(id string) screenpop.Call {
	return screenpop.Call{
		ID:              id,
		Direction:       screenpop.Inbound,
		Caller:          "+442079460000",
		CallerE164:      ptr("+442079460000"),
		CallerKind:      screenpop.KindNew,
		DID:             "+31207654321",
		Status:          screenpop.StatusBusy,
		OfferedTo:       []string{},
		TalkedTo:        []string{},
		WaitSeconds:     0.75,
		HangupCause:     17,
		HangupCauseText: "User busy",
		StartedAt:       t0,
		EndedAt:         t0.Add(750 * time.Millisecond),
		CloseReason:     "ended while the ARI connection was down",
		Offers:          []screenpop.Offer{},
	}
}

func TestStores(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testStore(t, b)
		})
	}
}

func testStore(t *testing.T, b backend) {
	t.Run("a saved call reads back exactly as saved", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		tests := []struct {
			name string
			call screenpop.Call
		}{
			{"an answered and transferred call keeps its offers in order", answeredCall("1700000000.1")},
			{"a missed call from a withheld number keeps its nil number and nil answerer", withheldMissedCall("1700000000.2")},
			{"a busy call with no offers keeps its close reason", busyCall("1700000000.3")},
			{"a Stasis call keeps the carrier's caller name and screenpop's lookup name apart", func() screenpop.Call {
				c := answeredCall("1700000000.4")
				c.CallerName, c.LookupName = "MOSCOW", "Петров Иван"
				return c
			}()},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				if err := s.SaveCalls(ctx, []screenpop.Call{tt.call}); err != nil {
					t.Fatalf("SaveCalls: %v", err)
				}
				got, err := s.Call(ctx, tt.call.PBX, tt.call.ID)
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if diff := cmp.Diff(tt.call, got, sameTime); diff != "" {
					t.Errorf("Call(%q) differs from what was saved (-saved +read):\n%s", tt.call.ID, diff)
				}
			})
		}
	})

	t.Run("times read back in UTC to the millisecond, missing lists as empty ones and no direction as inbound", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		paris := time.FixedZone("CET", 3600)
		started := time.Date(2025, 3, 14, 10, 26, 53, 589_999_999, paris)
		answered := started.Add(2 * time.Second)
		saved := screenpop.Call{
			ID: "1700000001.1", Caller: "100", Status: screenpop.StatusAnswered,
			StartedAt: started, AnsweredAt: &answered, EndedAt: started.Add(time.Minute),
			Offers: []screenpop.Offer{{Operator: "alice", DialedAt: started, AnsweredAt: &answered, Outcome: screenpop.OutcomeAnswered}},
		}
		want := screenpop.Call{
			ID: "1700000001.1", Direction: screenpop.Inbound, Caller: "100", Status: screenpop.StatusAnswered,
			CallerKind: screenpop.KindInternal, OfferedTo: []string{}, TalkedTo: []string{},
			StartedAt:  time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC),
			AnsweredAt: ptrTime(time.Date(2025, 3, 14, 9, 26, 55, 589_000_000, time.UTC)),
			EndedAt:    time.Date(2025, 3, 14, 9, 27, 53, 589_000_000, time.UTC),
			Offers: []screenpop.Offer{{
				Operator: "alice", Outcome: screenpop.OutcomeAnswered,
				DialedAt:   time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC),
				AnsweredAt: ptrTime(time.Date(2025, 3, 14, 9, 26, 55, 589_000_000, time.UTC)),
			}},
		}
		if err := s.SaveCalls(t.Context(), []screenpop.Call{saved}); err != nil {
			t.Fatalf("SaveCalls: %v", err)
		}
		got, err := s.Call(t.Context(), saved.PBX, saved.ID)
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if diff := cmp.Diff(want, got, sameTime); diff != "" {
			t.Errorf("Call (-want +got):\n%s", diff)
		}
		if saved.StartedAt.Location() != paris || saved.Offers[0].DialedAt.Nanosecond() != 589_999_999 {
			t.Errorf("SaveCalls changed the caller's call: %v", saved.StartedAt)
		}
	})

	t.Run("a call that was never saved is not found", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		_, err := s.Call(t.Context(), "", "no-such-call")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Call of an unknown ID: got %v, want an error wrapping ErrNotFound", err)
		}
	})

	t.Run("saving a call again keeps one copy, the first", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		first := answeredCall("1700000002.1")
		second := answeredCall("1700000002.1")
		second.Status = screenpop.StatusAbandoned
		second.Offers = append(second.Offers, screenpop.Offer{Operator: "dave", DialedAt: t0, Outcome: screenpop.OutcomeCancelled})
		for _, c := range []screenpop.Call{first, second} {
			if err := s.SaveCalls(t.Context(), []screenpop.Call{c}); err != nil {
				t.Fatalf("SaveCalls: %v", err)
			}
		}
		assertStoredOnce(t, s, first)
	})

	t.Run("a batch holding a call twice stores the first and the rest of the batch", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		first := answeredCall("1700000003.1")
		again := withheldMissedCall("1700000003.1")
		other := busyCall("1700000003.2")
		if err := s.SaveCalls(t.Context(), []screenpop.Call{first, again, other}); err != nil {
			t.Fatalf("SaveCalls: %v", err)
		}
		assertStoredOnce(t, s, first)
		assertStoredOnce(t, s, other)
		if n := countRows(t, s, "calls", ""); n != 2 {
			t.Errorf("calls has %d rows, want 2", n)
		}
	})

	t.Run("a batch delivered again changes nothing", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		batch := []screenpop.Call{answeredCall("1700000004.1"), withheldMissedCall("1700000004.2"), busyCall("1700000004.3")}
		for range 2 {
			if err := s.SaveCalls(t.Context(), batch); err != nil {
				t.Fatalf("SaveCalls: %v", err)
			}
		}
		for _, c := range batch {
			assertStoredOnce(t, s, c)
		}
		if n := countRows(t, s, "offers", ""); n != 3 {
			t.Errorf("offers has %d rows, want 3", n)
		}
	})

	t.Run("an empty batch is accepted", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		if err := s.SaveCalls(t.Context(), nil); err != nil {
			t.Errorf("SaveCalls(nil): %v", err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("migrating again changes nothing and keeps the calls", func(t *testing.T) {
		t.Parallel()
		open := b.fresh(t)
		s := open()
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		c := answeredCall("1700000005.1")
		if err := s.SaveCalls(t.Context(), []screenpop.Call{c}); err != nil {
			t.Fatalf("SaveCalls: %v", err)
		}
		// Again on the same handle, then as a restarted daemon would.
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := open().Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate on a new handle: %v", err)
		}
		assertMigratedOnce(t, s, b.name)
		assertStoredOnce(t, s, c)
	})

	t.Run("daemons migrating at the same time all succeed, and migrations apply once", func(t *testing.T) {
		t.Parallel()
		open := b.fresh(t)
		const daemons = 4
		handles := make([]callStore, daemons)
		for i := range handles {
			handles[i] = open()
		}
		var wg sync.WaitGroup
		errs := make([]error, daemons)
		start := make(chan struct{})
		for i, s := range handles {
			wg.Go(func() {
				<-start
				errs[i] = s.Migrate(t.Context())
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate by daemon %d: %v", i, err)
			}
		}
		assertMigratedOnce(t, handles[0], b.name)
	})
}

func ptrTime(t time.Time) *time.Time { return &t }

// assertStoredOnce checks that want reads back, and that it has one calls
// row and one offers row per offer.
func assertStoredOnce(t *testing.T, s callStore, want screenpop.Call) {
	t.Helper()
	got, err := s.Call(t.Context(), want.PBX, want.ID)
	if err != nil {
		t.Fatalf("Call(%q): %v", want.ID, err)
	}
	if diff := cmp.Diff(want, got, sameTime); diff != "" {
		t.Errorf("Call(%q) (-want +got):\n%s", want.ID, diff)
	}
	if n := countRows(t, s, "calls", want.ID); n != 1 {
		t.Errorf("call %s has %d calls rows, want 1", want.ID, n)
	}
	if n := countRows(t, s, "offers", want.ID); n != len(want.Offers) {
		t.Errorf("call %s has %d offers rows, want %d", want.ID, n, len(want.Offers))
	}
}

func assertMigratedOnce(t *testing.T, s callStore, name string) {
	t.Helper()
	dialect := map[string]string{"PostgreSQL": "postgres", "SQLite": "sqlite"}[name]
	ms, err := migrations(dialect)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "schema_migrations", ""); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, len(ms))
	}
}

// callIDs returns n distinct call IDs, as Asterisk would: its unique IDs
// are epoch seconds and a sequence number.
func callIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s.%d", prefix, i+1)
	}
	return ids
}

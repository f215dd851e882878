package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// Several Asterisk boxes: a call is keyed (pbx, call_id), and two boxes
// started in the same second give their calls the same linkedids.

// boxCall is call i of box pbx: the same ID, start and operator on every
// box (operators answer both boxes' calls), the rest of the record the
// box's own (its caller, its wait), so that a record written over by the
// other box's would show.
func boxCall(pbx string, box, i int) screenpop.Call {
	id := fmt.Sprintf("1765000000.%d", i)
	start := t0.Add(time.Duration(i/4) * time.Second) // four calls a second: ties on started_at too
	op := fmt.Sprintf("op%d", i%7)
	number := fmt.Sprintf("+3161%d%06d", box, i)
	c := screenpop.Call{
		ID: id, PBX: pbx, Direction: screenpop.Inbound,
		Caller: number, CallerE164: ptr(number), CallerKind: screenpop.KindNew,
		DID: "+31201234567", Status: screenpop.StatusMissed,
		OfferedTo: []string{op}, TalkedTo: []string{},
		RingSeconds: 10, WaitSeconds: float64(box) + float64(i)/1000,
		HangupCause: 19, HangupCauseText: "No answer",
		StartedAt: start, EndedAt: start.Add(12 * time.Second),
		Offers: []screenpop.Offer{{
			Operator: op, Channel: "PJSIP/" + op + "-" + pbx,
			DialedAt: start.Add(time.Second), RingingAt: ptrTime(start.Add(1100 * time.Millisecond)),
			EndedAt: ptrTime(start.Add(12 * time.Second)), Outcome: screenpop.OutcomeNoAnswer, DialStatus: "NOANSWER",
		}},
	}
	if i%2 == 1 {
		c.Status, c.AnsweredBy, c.TalkedTo = screenpop.StatusAnswered, ptr(op), []string{op}
		c.AnsweredAt, c.TalkSeconds = ptrTime(start.Add(5*time.Second)), 7
		c.Offers[0].AnsweredAt, c.Offers[0].Outcome, c.Offers[0].DialStatus = ptrTime(start.Add(5*time.Second)), screenpop.OutcomeAnswered, "ANSWER"
	}
	return c
}

// pbxStore is what these tests ask of a store.
type pbxStore interface {
	callStore
	Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error
	SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
	Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error)
}

func TestBoxesWithCollidingCallIDs(t *testing.T) {
	const perBox = 1000
	boxes := []string{"pbx1", "pbx2"}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openMigrated(t, b).(pbxStore)
			want := map[string]screenpop.Call{}
			// Batches of 100 as the writer sends them, the boxes
			// interleaved as their calls end; every fourth batch delivered
			// twice (a crash between commit and the spool's cursor).
			start := time.Now()
			for from := 0; from < perBox; from += 50 {
				var batch []screenpop.Call
				for i := from; i < from+50; i++ {
					for box, pbx := range boxes {
						c := boxCall(pbx, box+1, i)
						want[screenpop.CallKey(pbx, c.ID)] = c
						batch = append(batch, c)
					}
				}
				for range 1 + map[bool]int{true: 1}[from%200 == 0] {
					if err := s.SaveCalls(ctx, batch); err != nil {
						t.Fatalf("SaveCalls: %v", err)
					}
				}
			}
			took := time.Since(start)
			rows, offers := countRows(t, s, "calls", ""), countRows(t, s, "offers", "")
			t.Logf("%s: %d calls of 2 boxes with the same %d IDs saved in batches of 100 (a quarter of them twice) in %v: %d rows, %d offers",
				b.name, len(want), perBox, took.Round(time.Millisecond), rows, offers)
			if rows != 2*perBox || offers != 2*perBox {
				t.Fatalf("stored %d calls and %d offers, want %d of each", rows, offers, 2*perBox)
			}

			// The reports' roll-ups count each box's calls apart.
			drift, err := s.(rollupStore).CheckRollups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !drift.None() {
				t.Errorf("the roll-ups differ from the raw rows in %d call and %d operator rows: %v", drift.Calls, drift.Operators, drift.Examples)
			}
			if p, ok := s.(*Postgres); ok {
				checkOperatorStats(t, p, "after 2 boxes' calls with the same IDs")
			}
			sum, err := s.(rollupStore).Summary(ctx, t0.Add(-time.Hour), t0.Add(24*time.Hour), 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			answered := 0
			for _, o := range sum.Operators {
				answered += o.CallsAnswered
			}
			t.Logf("%s: the report counts %d calls, %d answered, %d answered by the operators they share", b.name,
				sum.Totals.Total, sum.Totals.Answered, answered)
			if sum.Totals.Total != 2*perBox || sum.Totals.Answered != perBox || answered != perBox {
				t.Errorf("the report counts %d calls, %d answered, %d by operators; want %d, %d, %d",
					sum.Totals.Total, sum.Totals.Answered, answered, 2*perBox, perBox, perBox)
			}

			// Every record reads back as its box saved it.
			for _, pbx := range boxes {
				for _, i := range []int{0, 1, 500, 999} {
					w := want[screenpop.CallKey(pbx, fmt.Sprintf("1765000000.%d", i))]
					got, err := s.Call(ctx, pbx, w.ID)
					if err != nil {
						t.Fatalf("Call(%s, %s): %v", pbx, w.ID, err)
					}
					if d := cmp.Diff(w, got, sameTime, ignoreStoreSet); d != "" {
						t.Fatalf("call %s/%s read back differs (-saved +read):\n%s", pbx, w.ID, d)
					}
				}
			}
			if _, err := s.Call(ctx, "", "1765000000.1"); err == nil {
				t.Fatal("the one box's call 1765000000.1 was never saved, yet it reads back")
			}

			// The listing, read in pages of 500 by its keyset, holds each
			// call once, each with its own box's record and offers, though
			// both boxes' calls of an ID started at the same instant.
			seen := map[string]bool{}
			err = s.Calls(ctx, screenpop.CallFilter{Offers: true}, func(c screenpop.Call) error {
				k := screenpop.CallKey(c.PBX, c.ID)
				if seen[k] {
					return fmt.Errorf("call %s listed twice", k)
				}
				seen[k] = true
				if d := cmp.Diff(want[k], c, sameTime, ignoreStoreSet); d != "" {
					return fmt.Errorf("call %s listed differs (-saved +listed):\n%s", k, d)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != 2*perBox {
				t.Fatalf("the listing holds %d calls, want %d", len(seen), 2*perBox)
			}
			for _, pbx := range append(boxes, "") {
				n := 0
				err := s.Calls(ctx, screenpop.CallFilter{PBX: &pbx, Operator: "op3"}, func(c screenpop.Call) error {
					if c.PBX != pbx {
						return fmt.Errorf("pbx=%q listed a call of %q", pbx, c.PBX)
					}
					n++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if wantN := map[string]int{"": 0}[pbx]; pbx != "" {
					wantN = 143 // i%7 == 3 for i < 1000
					if n != wantN {
						t.Errorf("pbx=%s operator=op3 lists %d calls, want %d", pbx, n, wantN)
					}
				} else if n != wantN {
					t.Errorf("pbx= lists %d calls, want none", n)
				}
			}

			// A more complete record replaces its own box's call only.
			better := boxCall("pbx2", 2, 7)
			better.CloseReason, better.Gaps = "", nil
			worse := boxCall("pbx1", 1, 7)
			worse.CloseReason, worse.Gaps = "ended while the ARI connection was down", []screenpop.Gap{screenpop.GapEnd}
			if err := s.SaveCalls(ctx, []screenpop.Call{worse}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Call(ctx, "pbx1", better.ID); got.CloseReason != "" {
				t.Errorf("a less complete record of pbx1 replaced the stored one: %q", got.CloseReason)
			}

			// Notes: one per call and box.
			for box, pbx := range boxes {
				for _, i := range []int{3, 4} {
					n := screenpop.Note{CallID: fmt.Sprintf("1765000000.%d", i), PBX: pbx, Purpose: "purpose of " + pbx,
						Text: "note", Operator: screenpop.Operator{Name: "Op", Extension: fmt.Sprint(101 + box)}, At: t0}
					if _, err := s.SaveNote(ctx, n); err != nil {
						t.Fatalf("SaveNote: %v", err)
					}
				}
			}
			notes := dumpQuery(t, s, `SELECT pbx, call_id, purpose, operator FROM call_notes ORDER BY pbx, call_id`)
			wantNotes := [][]string{
				{"pbx1", "1765000000.3", "purpose of pbx1", "101"}, {"pbx1", "1765000000.4", "purpose of pbx1", "101"},
				{"pbx2", "1765000000.3", "purpose of pbx2", "102"}, {"pbx2", "1765000000.4", "purpose of pbx2", "102"},
			}
			if d := cmp.Diff(wantNotes, notes.rows); d != "" {
				t.Errorf("notes (-want +got):\n%s", d)
			}
			viewNotes := dumpQuery(t, s, `SELECT pbx, call_id, purpose FROM report_calls WHERE purpose IS NOT NULL ORDER BY pbx, call_id`)
			t.Logf("%s: %d notes on 2 calls of each box, %d in report_calls", b.name, len(notes.rows), len(viewNotes.rows))
			if len(viewNotes.rows) != 4 {
				t.Errorf("report_calls holds %d noted calls, want 4: %v", len(viewNotes.rows), viewNotes.rows)
			}

			// Callbacks: each box's missed calls are their callers' items,
			// none lost to the other box's call of the same ID.
			cbs, err := s.Callbacks(ctx, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			byBox := map[byte]int{}
			for _, cb := range cbs {
				byBox[cb.Number[5]]++ // +3161<box>...
			}
			t.Logf("%s: callback list holds %d items: %d of pbx1's callers, %d of pbx2's", b.name, len(cbs), byBox['1'], byBox['2'])
			if byBox['1'] != perBox/2 || byBox['2'] != perBox/2 {
				t.Errorf("callback items by box: %v, want %d each", byBox, perBox/2)
			}

			// Records set aside keep their box.
			for _, pbx := range boxes {
				if err := s.RejectCall(ctx, boxCall(pbx, 1, 42), fmt.Errorf("refused")); err != nil {
					t.Fatal(err)
				}
			}
			rej, err := s.RejectedCalls(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rej) != 2 || rej[0].PBX != "pbx1" || rej[1].PBX != "pbx2" || rej[0].CallID != rej[1].CallID {
				t.Errorf("rejected calls: %+v, want call 42 of each box", rej)
			}
		})
	}
}

// ignoreStoreSet leaves out what the store sets itself on a call.
var ignoreStoreSet = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Source", ".Campaign":
		return true
	}
	return false
}, cmp.Ignore())

// table is a query's result as text, for comparing across versions.
type dumped struct {
	cols []string
	rows [][]string
}

func dumpQuery(t testing.TB, s callStore, q string) dumped {
	t.Helper()
	var out dumped
	str := func(v any) string {
		switch v := v.(type) {
		case nil:
			return "NULL"
		case []byte:
			return string(v)
		case time.Time:
			return v.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		return fmt.Sprint(v)
	}
	switch s := s.(type) {
	case *Postgres:
		rs, err := s.pool.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		for _, f := range rs.FieldDescriptions() {
			out.cols = append(out.cols, f.Name)
		}
		for rs.Next() {
			vs, err := rs.Values()
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			row := make([]string, len(vs))
			for i, v := range vs {
				row[i] = str(v)
			}
			out.rows = append(out.rows, row)
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	case *SQLite:
		rs, err := s.db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		out.cols, _ = rs.Columns()
		for rs.Next() {
			vs := make([]any, len(out.cols))
			ps := make([]any, len(vs))
			for i := range vs {
				ps[i] = &vs[i]
			}
			if err := rs.Scan(ps...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			row := make([]string, len(vs))
			for i, v := range vs {
				row[i] = str(v)
			}
			out.rows = append(out.rows, row)
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	default:
		t.Fatalf("dump: unknown store %T", s)
	}
	return out
}

// execSQL runs statements on the store's database as a migration does.
func execSQL(t testing.TB, s callStore, q string) {
	t.Helper()
	var err error
	switch s := s.(type) {
	case *Postgres:
		_, err = s.pool.Exec(context.Background(), q)
	case *SQLite:
		_, err = s.db.ExecContext(context.Background(), q)
	}
	if err != nil {
		t.Fatalf("%.60s…: %v", q, err)
	}
}

// migrateBefore gives a fresh store the schema as it was before version:
// every migration older than it, recorded as Migrate records them.
func migrateBefore(t testing.TB, s callStore, version int) {
	t.Helper()
	engine := map[bool]string{true: "postgres", false: "sqlite"}[isPostgres(s)]
	ms, err := migrations(engine)
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, s, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at text NOT NULL DEFAULT 'before')`)
	for _, m := range ms {
		if m.version >= version {
			break
		}
		execSQL(t, s, m.sql)
		execSQL(t, s, fmt.Sprintf(`INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')`, m.version, m.name))
	}
}

func isPostgres(s callStore) bool { _, ok := s.(*Postgres); return ok }

// A store from before 0017, with the one box's calls, offers, notes, a
// complaint and a record set aside, migrates and reads the same: every
// table and view holds what it held, the records read back through the
// store, and the one box (”) goes on writing to the same rows.
func TestUpgradeToBoxesKeepsTheCallLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := b.fresh(t)().(pbxStore)
			migrateBefore(t, s, 17)
			list := func(v ...string) string {
				if isPostgres(s) {
					return "'{" + strings.Join(v, ",") + "}'"
				}
				if len(v) == 0 {
					return "'[]'"
				}
				return `'["` + strings.Join(v, `","`) + `"]'`
			}
			no := map[bool]string{true: "false", false: "0"}[isPostgres(s)]
			execSQL(t, s, `INSERT INTO operators (name, extension, token_hash) VALUES ('Bob', '102', `+
				map[bool]string{true: "'\\x" + strings.Repeat("ab", 32) + "'", false: "x'" + strings.Repeat("ab", 32) + "'"}[isPostgres(s)]+`)`)
			execSQL(t, s, `INSERT INTO calls (call_id, caller, caller_e164, caller_name, withheld, did, status, offered_to,
				answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds, hangup_cause, hangup_cause_text,
				started_at, answered_at, ended_at, close_reason, direction, source, campaign, caller_kind, gaps) VALUES
				('1700000000.1', '0612345678', '+31612345678', 'J. de Vries', `+no+`, '+31201234567', 'answered', `+list("101", "102")+`,
				 '102', `+list("102")+`, 4.25, 6.5, 182.125, 16, 'Normal Clearing',
				 '2025-03-14T09:26:53.589Z', '2025-03-14T09:27:00.089Z', '2025-03-14T09:30:02.214Z', '', 'inbound', '', '', 'new', `+list()+`),
				('1700000000.5', '+442079460000', '+442079460000', '', `+no+`, '+31201234567', 'missed', `+list("101")+`,
				 NULL, `+list()+`, 30, 31.5, 0, 19, 'No answer',
				 '2025-03-14T10:00:00.000Z', NULL, '2025-03-14T10:00:31.500Z', '', 'inbound', '', '', 'new', `+list("end")+`)`)
			execSQL(t, s, `INSERT INTO offers (call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status) VALUES
				('1700000000.1', 1, '101', 'PJSIP/101-1', '2025-03-14T09:26:55.589Z', '2025-03-14T09:26:55.839Z', NULL, '2025-03-14T09:27:00.089Z', 'answered_elsewhere', 'CANCEL'),
				('1700000000.1', 2, '102', 'PJSIP/102-1', '2025-03-14T09:26:55.589Z', '2025-03-14T09:26:55.889Z', '2025-03-14T09:27:00.089Z', '2025-03-14T09:30:02.214Z', 'answered', 'ANSWER'),
				('1700000000.5', 1, '101', 'PJSIP/101-2', '2025-03-14T10:00:01.000Z', '2025-03-14T10:00:01.200Z', NULL, '2025-03-14T10:00:31.500Z', 'no_answer', 'NOANSWER')`)
			execSQL(t, s, `INSERT INTO call_notes (call_id, purpose, note, operator, operator_name, noted_at) VALUES
				('1700000000.1', 'sales', 'wants a quote', '102', 'Bob', '2025-03-14T09:31:00.000Z')`)
			execSQL(t, s, `INSERT INTO rejected_calls (call_id, record, reason) VALUES ('1700000000.9', '{"call_id":"1700000000.9"}', 'value too long')`)

			queries := []string{
				`SELECT call_id, caller, caller_e164, caller_name, withheld, did, status, offered_to, answered_by, talked_to,
					ring_seconds, wait_seconds, talk_seconds, hangup_cause, hangup_cause_text, started_at, answered_at, ended_at,
					close_reason, direction, source, campaign, caller_kind, gaps, lookup_name FROM calls ORDER BY call_id`,
				`SELECT * FROM offers ORDER BY call_id, seq`,
				`SELECT * FROM call_notes ORDER BY call_id`,
				`SELECT id, call_id, record, reason FROM rejected_calls ORDER BY id`,
				`SELECT * FROM calls_by_source_day ORDER BY day`,
				`SELECT * FROM missed_without_callback ORDER BY started_at`,
				`SELECT * FROM operator_stats ORDER BY day, operator`,
				`SELECT * FROM report_calls ORDER BY started_at`,
				`SELECT * FROM operator_calls ORDER BY day, operator`,
				// 0018 moved the numbers of 0016's roll-ups to rollup_numbers;
				// 0023 made a row of an hour's and source's statuses.
				`SELECT hour, source, sum(calls) AS calls, sum(new_callers) AS new_callers FROM rollup_calls GROUP BY hour, source ORDER BY hour, source`,
				`SELECT * FROM rollup_operators ORDER BY hour, operator`,
			}
			before := make([]dumped, len(queries))
			for i, q := range queries {
				before[i] = dumpQuery(t, s, q)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate to 0017: %v", err)
			}
			rows := 0
			for i, q := range queries {
				// The columns they had, by name: tables and views end with
				// pbx now.
				q = strings.Replace(q, "*", strings.Join(before[i].cols, ", "), 1)
				after := dumpQuery(t, s, q)
				if d := cmp.Diff(before[i], after, cmp.AllowUnexported(dumped{})); d != "" {
					t.Errorf("%s changed by 0017 (-before +after):\n%s", q, d)
				}
				rows += len(after.rows)
			}
			for _, table := range []string{"calls", "offers", "call_notes", "rejected_calls", "complaints"} {
				if got := dumpQuery(t, s, "SELECT DISTINCT pbx FROM "+table).rows; len(got) > 1 || (len(got) == 1 && got[0][0] != "") {
					t.Errorf("%s.pbx after 0017: %v, want ''", table, got)
				}
			}
			t.Logf("%s: %d tables and views read the same %d rows before and after 0017", b.name, len(queries), rows)

			// Through the store: the one box is "".
			got, err := s.Call(ctx, "", "1700000000.1")
			if err != nil {
				t.Fatalf("Call after 0017: %v", err)
			}
			if got.PBX != "" || len(got.Offers) != 2 || got.Offers[1].Operator != "102" || *got.AnsweredBy != "102" {
				t.Errorf("call read after 0017: %+v", got)
			}
			var listed []string
			if err := s.Calls(ctx, screenpop.CallFilter{}, func(c screenpop.Call) error {
				listed = append(listed, screenpop.CallKey(c.PBX, c.ID))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"1700000000.5", "1700000000.1"}, listed); d != "" {
				t.Errorf("listing after 0017 (-want +got):\n%s", d)
			}
			// The daemon delivering the stored call again changes nothing;
			// a note written again replaces the one from before 0017.
			again := got
			again.CloseReason = "ended while the ARI connection was down"
			if err := s.SaveCalls(ctx, []screenpop.Call{again}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SaveNote(ctx, screenpop.Note{CallID: "1700000000.1", Purpose: "service", Text: "t",
				Operator: screenpop.Operator{Name: "Bob", Extension: "102"}, At: t0}); err != nil {
				t.Fatal(err)
			}
			if n, m := countRows(t, s, "calls", ""), countRows(t, s, "call_notes", ""); n != 2 || m != 1 {
				t.Errorf("after writing the one box's call and note again: %d calls, %d notes; want 2 and 1", n, m)
			}
			if c, _ := s.Call(ctx, "", "1700000000.1"); c.CloseReason != "" {
				t.Errorf("a less complete record replaced the stored one: %q", c.CloseReason)
			}
			rej, err := s.RejectedCalls(ctx)
			if err != nil || len(rej) != 1 || rej[0].PBX != "" || rej[0].CallID != "1700000000.9" {
				t.Errorf("rejected calls after 0017: %+v, %v", rej, err)
			}
		})
	}
}

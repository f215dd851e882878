package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/screenpop/screenpop/screenpop/report"
)

// The reports read roll-ups of the call log (migrations 0015, 0018,
// 0021, 0023): the inbound calls of each UTC hour and source, by status,
// with their waits, the IDs of the numbers that called
// (rollup_number_ids), and the missed calls' delays to their first call
// back, the lists as big-endian integers (readRollupRow); and each
// operator's figures by UTC hour. Triggers on calls and offers mark the
// hours a write, a replacing record or a delete touches as stale (and a
// call out the hours of the missed calls it may call back), and a read
// counts those hours again from their calls first (refreshRollups):
// keeping the figures themselves in the writer's transaction made writing
// calls four times as slow (migration 0018). RebuildRollups makes the
// roll-ups again from the raw rows and CheckRollups says whether they
// differ from them.
//
// A report asks for local days. In a zone whose offsets are whole hours,
// each local hour is one UTC hour (the hour clocks go back spans two), so
// the roll-ups give exactly what the raw rows would: a month reads some
// twenty thousand rows, however long the log. The distinct callers do not
// add up by hour: each hour keeps its numbers, which the report makes
// distinct over its range in bitmaps (report.Fold). In a zone half an
// hour off UTC (India, Newfoundland, Adelaide), or on a day its offset is,
// the report reads the raw rows. Purposes are rolled up by hour too
// (0025), and whole local days are rolled up from the hours for long
// ranges (0026, rollup_days.go).

// RollupDrift is how the roll-ups differ from the raw rows: the keys
// (hour and source of rollup_calls, hour and operator of
// rollup_operators, and so on; a day's bounds and source or operator of
// the days' roll-ups) whose figures differ, or that only one side has.
// Calls counts the calls' and purposes' rows, Operators the operators'.
type RollupDrift struct {
	Calls     int `json:"calls"`
	Operators int `json:"operators"`
	// Examples are a few of them, described for a person.
	Examples []string `json:"examples"`
}

// None says the roll-ups are the raw rows' figures.
func (d RollupDrift) None() bool { return d.Calls == 0 && d.Operators == 0 }

// RollupCounts is what the roll-ups hold: their rows, and the calls they
// count.
type RollupCounts struct {
	CallRows     int `json:"call_rows"`
	OperatorRows int `json:"operator_rows"`
	Calls        int `json:"calls"`
	// Days are the local days rolled up (filled again from the rebuilt
	// hours).
	Days int `json:"days"`
}

// rollupRow is one roll-up row as text, its waits sorted and a row of
// zeros left out (the triggers leave one where the last figures were
// taken out): the rows kept and those rebuilt from the raw rows compare
// equal when their figures are.
type rollupRow struct {
	table, key, figures string
}

// rollupDrift compares the roll-ups as kept (have) with those the raw
// rows give (want).
func rollupDrift(have, want []rollupRow) RollupDrift {
	index := func(rows []rollupRow) map[[2]string]string {
		m := make(map[[2]string]string, len(rows))
		for _, r := range rows {
			m[[2]string{r.table, r.key}] = r.figures
		}
		return m
	}
	h, w := index(have), index(want)
	var d RollupDrift
	var keys [][2]string
	for k, f := range h {
		if w[k] != f {
			keys = append(keys, k)
		}
	}
	for k := range w {
		if _, ok := h[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, k := range keys {
		switch k[0] {
		case "rollup_calls", "rollup_purposes", "rollup_day_calls", "rollup_day_hours", "rollup_day_purposes":
			d.Calls++
		default:
			d.Operators++
		}
		if len(d.Examples) < 5 {
			d.Examples = append(d.Examples, fmt.Sprintf("%s %s: kept %s, the calls give %s",
				k[0], k[1], orNone(h[k]), orNone(w[k])))
		}
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// refreshRollups counts the hours the triggers marked stale again from
// their calls, if there are any, in one transaction with the writes that
// clear the marks: a call written meanwhile marks its hour again, for the
// next read. On PostgreSQL rollup_refresh holds writers back for the time
// it takes; on SQLite the transaction holds the one write lock.
func (s *sqlStore) refreshRollups(ctx context.Context) error {
	var stale bool
	if err := s.conn.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rollup_stale)`).Scan(&stale); err != nil {
		return fmt.Errorf("refresh the roll-ups: %w", err)
	}
	if !stale {
		return nil
	}
	err := s.inTx(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, s.dialect.reports.rollupRefresh)
		return err
	})
	if err != nil {
		return fmt.Errorf("refresh the roll-ups: %w", err)
	}
	return nil
}

// RebuildRollups makes the roll-ups again from the raw rows (calls and
// offers), the days held filled again from the rebuilt hours, and says
// what they hold. Writers wait while it runs: seconds for a year of a
// busy call centre (SQLite: the store's one connection is held).
func (s *sqlStore) RebuildRollups(ctx context.Context) (RollupCounts, error) {
	var n RollupCounts
	err := s.inTx(ctx, func(tx tx) error {
		if d := s.dialect.reports.rollupLock; d != "" {
			if _, err := tx.exec(ctx, d); err != nil {
				return err
			}
		}
		days, err := heldDays(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, s.dialect.reports.rollupRebuild); err != nil {
			return err
		}
		if err := s.fillHeldDays(ctx, tx, days); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT (SELECT count(*) FROM rollup_calls), (SELECT count(*) FROM rollup_operators),
			(SELECT coalesce(sum(calls), 0) FROM rollup_calls), (SELECT count(*) FROM rollup_days)`).Scan(
			&n.CallRows, &n.OperatorRows, &n.Calls, &n.Days)
	})
	if err != nil {
		return RollupCounts{}, fmt.Errorf("rebuild the roll-ups: %w", err)
	}
	return n, nil
}

// CheckRollups compares the roll-ups with what the raw rows give, by
// rebuilding them in a transaction it then rolls back: writers wait while
// it runs, and nothing changes; the days held are filled again from the
// rebuilt hours and compared too. The stale hours are counted again
// first, as a report would: the check is of the others.
func (s *sqlStore) CheckRollups(ctx context.Context) (RollupDrift, error) {
	if err := s.refreshRollups(ctx); err != nil {
		return RollupDrift{}, err
	}
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: %w", err)
	}
	defer tx.rollback(ctx)
	d := s.dialect.reports
	read := func() ([]rollupRow, error) {
		return queryAll(ctx, tx, func(r row) (rollupRow, error) {
			var v rollupRow
			err := r.Scan(&v.table, &v.key, &v.figures)
			return v, err
		}, d.rollupRows)
	}
	// The kept roll-ups, as of the lock the rebuild takes first.
	if d.rollupLock != "" {
		if _, err := tx.exec(ctx, d.rollupLock); err != nil {
			return RollupDrift{}, fmt.Errorf("check the roll-ups: %w", err)
		}
	}
	have, err := read()
	if err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: read them: %w", err)
	}
	days, err := heldDays(ctx, tx)
	if err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: read the days: %w", err)
	}
	if _, err := tx.exec(ctx, d.rollupRebuild); err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: count the calls again: %w", err)
	}
	if err := s.fillHeldDays(ctx, tx, days); err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: %w", err)
	}
	want, err := read()
	if err != nil {
		return RollupDrift{}, fmt.Errorf("check the roll-ups: read them: %w", err)
	}
	return rollupDrift(have, want), nil
}

// rollupRowReader reads rollupDayCalls's rows, its buffers kept from one row
// to the next: the fold copies what it keeps.
type rollupRowReader struct {
	waits, numbers, fresh, delays []byte
	row                           report.RollupRow
}

// read reads a row of rollupDayCalls, its first columns into lead. Its
// lists are valid until the next read.
func (r *rollupRowReader) read(row row, lead ...any) (report.RollupRow, error) {
	h := &r.row
	err := row.Scan(append(lead, &h.Source, &h.Calls, &h.Answered, &h.Missed, &h.Abandoned, &h.Busy, &h.Failed, &h.NewCallers,
		&r.waits, &r.numbers, &r.fresh, &h.MissedNumbered, &r.delays)...)
	if err != nil {
		return report.RollupRow{}, err
	}
	if h.Waits, err = int32s(h.Waits[:0], r.waits, "waits"); err != nil {
		return report.RollupRow{}, err
	}
	if h.Numbers, err = int32s(h.Numbers[:0], r.numbers, "numbers"); err != nil {
		return report.RollupRow{}, err
	}
	if h.NewNumbers, err = int32s(h.NewNumbers[:0], r.fresh, "new numbers"); err != nil {
		return report.RollupRow{}, err
	}
	if len(r.delays)%8 != 0 {
		return report.RollupRow{}, fmt.Errorf("decode the call backs' delays: %d bytes are not 8-byte integers", len(r.delays))
	}
	h.CallbackDelays = h.CallbackDelays[:0]
	for b := r.delays; len(b) > 0; b = b[8:] {
		h.CallbackDelays = append(h.CallbackDelays, float64(int64(binary.BigEndian.Uint64(b)))/1e6)
	}
	return *h, nil
}

// int32s appends the 4-byte big-endian integers of b (a roll-up's waits
// in milliseconds, or numbers' IDs) to dst.
func int32s(dst []int32, b []byte, what string) ([]int32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("decode the %s: %d bytes are not 4-byte integers", what, len(b))
	}
	for ; len(b) > 0; b = b[4:] {
		dst = append(dst, int32(binary.BigEndian.Uint32(b)))
	}
	return dst, nil
}

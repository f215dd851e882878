package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// The roll-ups' benchmarks read the reports page's summary and
// operator_stats over a busy month (benchCallLog's generator: 100,000
// calls, March 2025) and over a year of such months, on both stores:
//
//	go test -run '^$' -bench 'Rollup' -benchtime 10x ./store/
//
// The month's log is written through the triggers (COPY: a trigger per
// row). The year is the month and eleven copies of it, each 30 days
// earlier than the last (1.2 million calls, 2.2 million offers), written
// with the triggers off and rolled up by RebuildRollups: the month's log
// shows the triggers right, and a year through them would take an hour of
// this machine.

// benchRollupMonths are the logs: a month, and a year.
var benchRollupMonths = []int{1, 12}

// benchRollupShift is how far back each copy of the month goes.
const benchRollupShift = 30 * 24 * time.Hour

// benchRollupLog returns a DSN for a schema of its own holding months
// copies of the month, made once and kept as benchCallLog keeps its own
// (a schema apart: the roll-ups' triggers and views are not the other
// benchmarks' to measure).
func benchRollupLog(tb testing.TB, months int) string {
	tb.Helper()
	n := benchCalls(tb)
	ctx := context.Background()
	schema := fmt.Sprintf("screenpop_bench_rollups_%d_%d", n, months)
	dsn := withTimeZone(withSearchPath(testPostgresDSN(), schema), "Europe/Moscow")
	conn := adminConn(tb)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", schema); err != nil {
		tb.Fatalf("lock %s: %v", schema, err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", schema)

	var calls, seed, version int64
	err := conn.QueryRow(ctx, "SELECT calls, seed, generator FROM "+schema+".bench_calllog").Scan(&calls, &seed, &version)
	if err == nil && calls == int64(n) && seed == benchSeed && version == benchCallLogVersion {
		p := openBenchLog(tb, dsn)
		defer p.Close()
		if err := p.Migrate(ctx); err != nil {
			tb.Fatalf("migrate %s: %v", schema, err)
		}
		return dsn
	}
	tb.Logf("call log: generating %d months of %d calls into schema %s (once; later runs reuse it)", months, n, schema)
	start := time.Now()
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := conn.Exec(ctx, q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	p := openBenchLog(tb, dsn)
	defer p.Close()
	if err := p.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", schema, err)
	}
	if months > 1 {
		for _, q := range []string{"ALTER TABLE calls DISABLE TRIGGER USER", "ALTER TABLE offers DISABLE TRIGGER USER"} {
			if _, err := p.pool.Exec(ctx, q); err != nil {
				tb.Fatalf("%s: %v", q, err)
			}
		}
	}
	g := newBenchLog(n)
	g.store(tb, p) // through the triggers, for a log of one month
	tb.Logf("call log: the month written in %v", time.Since(start).Round(time.Millisecond))
	if months > 1 {
		copyStart := time.Now()
		tx, err := p.pool.Begin(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var qs []string
		for k := 1; k < months; k++ {
			shift := fmt.Sprintf("interval '%d hours'", k*int(benchRollupShift.Hours()))
			qs = append(qs, `INSERT INTO calls (call_id, direction, caller, caller_e164, caller_name, withheld, did,
				status, offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
				hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason,
				recorded_at, source, campaign, caller_kind, gaps)
				SELECT call_id || '~`+fmt.Sprint(k)+`', direction, caller, caller_e164, caller_name, withheld, did,
				status, offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
				hangup_cause, hangup_cause_text, started_at - `+shift+`, answered_at - `+shift+`, ended_at - `+shift+`, close_reason,
				recorded_at - `+shift+`, source, campaign, caller_kind, gaps
				FROM calls WHERE call_id NOT LIKE '%~%'`,
				`INSERT INTO offers (call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status)
				SELECT call_id || '~`+fmt.Sprint(k)+`', seq, operator, channel, dialed_at - `+shift+`, ringing_at - `+shift+`,
				answered_at - `+shift+`, ended_at - `+shift+`, outcome, dial_status
				FROM offers WHERE call_id NOT LIKE '%~%'`)
		}
		qs = append(qs, "ALTER TABLE calls ENABLE TRIGGER USER", "ALTER TABLE offers ENABLE TRIGGER USER")
		for _, q := range qs {
			if _, err := tx.Exec(ctx, q); err != nil {
				tb.Fatalf("%s: %v", q, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("call log: %d more months copied in %v", months-1, time.Since(copyStart).Round(time.Millisecond))
		rebuildStart := time.Now()
		counts, err := p.RebuildRollups(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Logf("rollups rebuild: %d inbound calls in %d call rows and %d operator rows, in %v",
			counts.Calls, counts.CallRows, counts.OperatorRows, time.Since(rebuildStart).Round(time.Millisecond))
	}
	for _, q := range []string{
		"VACUUM ANALYZE calls, offers, callback_closures, sources, operators, clients, client_phones, call_notes, rollup_calls, rollup_operators, rollup_number_ids",
		"CREATE TABLE bench_calllog (calls integer NOT NULL, seed bigint NOT NULL, generator integer NOT NULL, generated_at timestamptz NOT NULL DEFAULT now())",
	} {
		if _, err := p.pool.Exec(ctx, q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.pool.Exec(ctx, "INSERT INTO bench_calllog (calls, seed, generator) VALUES ($1, $2, $3)",
		n, benchSeed, benchCallLogVersion); err != nil {
		tb.Fatalf("mark %s: %v", schema, err)
	}
	tb.Logf("call log: %d months ready in %v", months, time.Since(start).Round(time.Millisecond))
	return dsn
}

// benchRollupRanges are the ranges the benchmarks read: the month, and
// the year up to its end.
func benchRollupRanges(months int) []struct {
	name     string
	from, to time.Time
} {
	r := []struct {
		name     string
		from, to time.Time
	}{{"month", benchMonthFrom, benchMonthTo}}
	if months > 1 {
		r = append(r, struct {
			name     string
			from, to time.Time
		}{"year", benchMonthTo.AddDate(-1, 0, 0), benchMonthTo})
	}
	return r
}

// BenchmarkRollupSummary reads the reports page's summary (the period
// and the one before it) from PostgreSQL, over the month of a log of one
// month and of a year, and over the year; before timing, it checks that
// the roll-ups agree with the raw rows and that the summary read from
// them is the one the raw rows give.
func BenchmarkRollupSummary(b *testing.B) {
	for _, months := range benchRollupMonths {
		// A log is made and checked only when one of its benchmarks is
		// asked for (-bench).
		b.Run(fmt.Sprintf("PostgreSQL/log=%dmonths", months), func(b *testing.B) {
			p := openBenchLog(b, withApplicationName(benchRollupLog(b, months), benchApp))
			defer p.Close()
			ctx := context.Background()
			benchCheckRollups(b, p, months)
			for _, r := range benchRollupRanges(months) {
				b.Run(r.name, func(b *testing.B) {
					var s report.Summary
					var err error
					cpu := startCPU(b, p)
					for b.Loop() {
						if s, err = p.Summary(ctx, r.from.In(benchZone), r.to.In(benchZone), report.DefaultServiceLevel); err != nil {
							b.Fatal(err)
						}
					}
					cpu.report(b)
					b.ReportMetric(float64(s.Totals.Total), "inbound_calls")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				})
			}
		})
	}
}

// benchApp is the application_name of the benchmarks' PostgreSQL
// sessions, which finds their backends for their CPU time.
var benchApp = fmt.Sprintf("screenpop-bench-%d", os.Getpid())

// withApplicationName sets the application_name of every session on a
// URL DSN.
func withApplicationName(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " application_name=" + name
}

// cpuMeter measures the CPU time a benchmark's reads use: this
// process's (getrusage), and for PostgreSQL that of the backends of the
// sessions named benchApp (from /proc: the server runs on this machine).
// On a machine shared with other work, CPU time per read says what a read
// costs better than the wall time, which includes waiting for a core.
type cpuMeter struct {
	p        *Postgres
	self     time.Duration
	backends map[int]time.Duration
}

// startCPU reads the CPU times so far; call it before b.Loop.
func startCPU(b *testing.B, p *Postgres) *cpuMeter {
	m := &cpuMeter{p: p, self: processCPU()}
	if p != nil {
		m.backends = map[int]time.Duration{}
		for _, pid := range m.pids(b) {
			if t, ok := processCPUOf(pid); ok {
				m.backends[pid] = t
			}
		}
	}
	return m
}

func (m *cpuMeter) pids(b *testing.B) []int {
	var pids []int32
	err := m.p.pool.QueryRow(context.Background(), `SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
		WHERE application_name = $1`, benchApp).Scan(&pids)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]int, len(pids))
	for i, pid := range pids {
		out[i] = int(pid)
	}
	return out
}

// report reports the CPU time per read since startCPU: cpu-ms/op this
// process's, pg-cpu-ms/op the backends'.
func (m *cpuMeter) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(processCPU()-m.self)/1e6/n, "cpu-ms/op")
	if m.p == nil {
		return
	}
	var used time.Duration
	for _, pid := range m.pids(b) {
		if t, ok := processCPUOf(pid); ok {
			used += t - m.backends[pid]
		}
	}
	b.ReportMetric(float64(used)/1e6/n, "pg-cpu-ms/op")
}

// BenchmarkRollupOperatorStats reads operator_stats over the month from
// PostgreSQL, on a log of one month and of a year.
func BenchmarkRollupOperatorStats(b *testing.B) {
	for _, months := range benchRollupMonths {
		b.Run(fmt.Sprintf("PostgreSQL/log=%dmonths", months), func(b *testing.B) {
			p := openBenchLog(b, withApplicationName(benchRollupLog(b, months), benchApp))
			defer p.Close()
			ctx := context.Background()
			for _, r := range benchOperatorStatsRanges(months) {
				b.Run(r.name, func(b *testing.B) {
					rows := 0
					cpu := startCPU(b, p)
					for b.Loop() {
						got, err := p.pool.Query(ctx, `SELECT * FROM operator_stats WHERE day BETWEEN $1 AND $2`, r.from, r.to)
						if err != nil {
							b.Fatal(err)
						}
						rows = 0
						for got.Next() {
							rows++
						}
						if err := got.Err(); err != nil {
							b.Fatal(err)
						}
					}
					cpu.report(b)
					if rows != r.days*benchOperators {
						b.Fatalf("operator_stats has %d rows from %s to %s; want %d, a row per operator and day", rows, r.from, r.to, r.days*benchOperators)
					}
					b.ReportMetric(float64(rows), "rows")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				})
			}
		})
	}
}

// benchOperatorStatsRanges are the days the operator_stats benchmarks
// read: March 2025 (the month), and on a year's log every day of the
// copies of it (each starts 30 days before the last, so they cover 361
// days without a gap).
func benchOperatorStatsRanges(months int) []struct {
	name     string
	from, to string
	days     int
} {
	r := []struct {
		name     string
		from, to string
		days     int
	}{{"month", "2025-03-01", "2025-03-31", 31}}
	if months > 1 {
		from := benchMonthFrom.Add(-time.Duration(months-1) * benchRollupShift).In(benchZone)
		r = append(r, struct {
			name     string
			from, to string
			days     int
		}{"year", from.Format(time.DateOnly), "2025-03-31", 30*(months-1) + 31})
	}
	return r
}

// benchCheckRollups checks a benchmark's log: the roll-ups are the raw
// rows' figures, and the month's summary (and the year's) from them is
// the raw rows' summary.
func benchCheckRollups(b *testing.B, s interface {
	CheckRollups(ctx context.Context) (RollupDrift, error)
	summary(ctx context.Context, from, to time.Time, sl time.Duration, rollups bool) (report.Summary, error)
}, months int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	d, err := s.CheckRollups(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if !d.None() {
		b.Fatalf("the roll-ups differ from the raw rows: %+v", d)
	}
	b.Logf("rollups check: a log of %d months agrees with its raw rows (%v)", months, time.Since(start).Round(time.Millisecond))
	var monthCalls int
	for _, r := range benchRollupRanges(months) {
		start := time.Now()
		got, err := s.summary(ctx, r.from.In(benchZone), r.to.In(benchZone), report.DefaultServiceLevel, true)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("the %s of a log of %d months: the first summary from the roll-ups, filling the days not held, took %v",
			r.name, months, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		want, err := s.summary(ctx, r.from.In(benchZone), r.to.In(benchZone), report.DefaultServiceLevel, false)
		if err != nil {
			b.Fatal(err)
		}
		if !summariesEqual(got, want) {
			b.Fatalf("the %s's summary from the roll-ups is not the raw rows'", r.name)
		}
		if r.name == "month" {
			monthCalls = want.Totals.Total
		} else if want.Totals.Total < (months-1)*monthCalls {
			b.Fatalf("the %s holds %d inbound calls, not the %d months of %d it should", r.name, want.Totals.Total, months, monthCalls)
		}
		b.Logf("the %s of a log of %d months: %d inbound calls; the same summary from the raw rows took %v",
			r.name, months, want.Totals.Total, time.Since(start).Round(time.Millisecond))
	}
}

func summariesEqual(a, b report.Summary) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

// benchSQLiteRollupLogs are SQLite stores holding the month, and months
// copies of it, in files kept between runs as benchRollupLog keeps its
// schemas (in $TMPDIR/screenpop-bench-sqlite, marked with the generator's
// version; delete them to start over) and migrated when opened. The month
// is written as the PostgreSQL one is, rows as the store would have
// written them, in one transaction through the triggers, which mark its
// hours stale: the first read counts them. Its file is copied (VACUUM
// INTO), and the copies are written in SQL with the triggers off, then
// rolled up by RebuildRollups.
//
// The stores stay open until cleanup's functions run.
func benchSQLiteRollupLogs(b *testing.B, months int, cleanup func(func())) (month, all *SQLite) {
	b.Helper()
	ctx := context.Background()
	n := benchCalls(b)
	dir := filepath.Join(os.TempDir(), "screenpop-bench-sqlite")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	monthPath := filepath.Join(dir, fmt.Sprintf("rollups_%d_1.db", n))
	allPath := filepath.Join(dir, fmt.Sprintf("rollups_%d_%d.db", n, months))
	open := func(path string) *SQLite {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			b.Fatalf("migrate %s: %v", path, err)
		}
		s.SetRegion("RU")
		return s
	}
	ready := func(s *SQLite) bool {
		var calls, seed, version int64
		err := s.db.QueryRowContext(ctx, "SELECT calls, seed, generator FROM bench_calllog").Scan(&calls, &seed, &version)
		return err == nil && calls == int64(n) && seed == benchSeed && version == benchCallLogVersion
	}
	mark := func(s *SQLite) {
		for _, q := range []string{
			"ANALYZE",
			"CREATE TABLE bench_calllog (calls INTEGER NOT NULL, seed INTEGER NOT NULL, generator INTEGER NOT NULL)",
			fmt.Sprintf("INSERT INTO bench_calllog VALUES (%d, %d, %d)", n, benchSeed, benchCallLogVersion),
		} {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	if _, err := os.Stat(allPath); err == nil {
		month, all = open(monthPath), open(allPath)
		if ready(month) && ready(all) {
			b.Logf("SQLite: the logs of %s and %s kept from an earlier run", monthPath, allPath)
			return month, all
		}
		month.Close()
		all.Close()
	}
	for _, p := range []string{monthPath, allPath} {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				b.Fatal(err)
			}
		}
	}

	start := time.Now()
	g := newBenchLog(n)
	s := open(allPath)
	for i, name := range benchOperatorNames[:benchOperators] {
		if _, _, err := s.AddOperator(ctx, name, fmt.Sprint(101+i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, l := range benchLines {
		if l.source != "" {
			src := screenpop.Source{DID: "+" + l.did, Source: l.source, Campaign: l.campaign, Internal: l.internal,
				From: time.Date(2024, 1, 1, 0, 0, 0, 0, benchZone)}
			if _, err := s.AddSource(ctx, src); err != nil {
				b.Fatal(err)
			}
		}
	}
	err := s.inTx(ctx, func(tx tx) error {
		for _, t := range g.tables() {
			if err := tx.copyRows(ctx, t.table, t.columns, t.rows); err != nil {
				return fmt.Errorf("write %s: %w", t.table, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("SQLite: the month written through the triggers in %v", time.Since(start).Round(time.Millisecond))
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", monthPath); err != nil {
		b.Fatal(err)
	}
	month = open(monthPath)
	mark(month)

	rows, err := s.db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup_%'`)
	if err != nil {
		b.Fatal(err)
	}
	triggers := map[string]string{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			b.Fatal(err)
		}
		triggers[name] = sql
	}
	rows.Close()
	var qs []string
	for name := range triggers {
		qs = append(qs, "DROP TRIGGER "+name)
	}
	ms := func(col string, k int) string {
		return fmt.Sprintf("strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', %s, '-%d hours')", col, k*int(benchRollupShift.Hours()))
	}
	for k := 1; k < months; k++ {
		qs = append(qs, fmt.Sprintf(`INSERT INTO calls (call_id, direction, caller, caller_e164, caller_name, withheld, did,
			status, offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
			hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason,
			recorded_at, source, campaign, caller_kind, gaps)
			SELECT call_id || '~%d', direction, caller, caller_e164, caller_name, withheld, did,
			status, offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
			hangup_cause, hangup_cause_text, %s, %s, %s, close_reason, %s, source, campaign, caller_kind, gaps
			FROM calls WHERE call_id NOT LIKE '%%~%%'`, k, ms("started_at", k), ms("answered_at", k), ms("ended_at", k), ms("recorded_at", k)),
			fmt.Sprintf(`INSERT INTO offers (call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status)
			SELECT call_id || '~%d', seq, operator, channel, %s, %s, %s, %s, outcome, dial_status
			FROM offers WHERE call_id NOT LIKE '%%~%%'`, k, ms("dialed_at", k), ms("ringing_at", k), ms("answered_at", k), ms("ended_at", k)))
	}
	for _, sql := range triggers {
		qs = append(qs, sql)
	}
	copyStart := time.Now()
	err = s.inTx(ctx, func(tx tx) error {
		for _, q := range qs {
			if _, err := tx.exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(q, "\n", 2)[0], err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("SQLite: %d more months copied in %v", months-1, time.Since(copyStart).Round(time.Millisecond))
	rebuildStart := time.Now()
	counts, err := s.RebuildRollups(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("SQLite rollups rebuild: %d inbound calls in %d call rows and %d operator rows, in %v",
		counts.Calls, counts.CallRows, counts.OperatorRows, time.Since(rebuildStart).Round(time.Millisecond))
	mark(s)
	b.Logf("SQLite: the logs ready in %v", time.Since(start).Round(time.Millisecond))
	return month, s
}

// BenchmarkSQLiteRollupSummary is BenchmarkRollupSummary on the embedded
// store. Each run makes its logs again: some minutes.
func BenchmarkSQLiteRollupSummary(b *testing.B) {
	var logs []*SQLite
	cleanup := b.Cleanup // the logs serve every sub-benchmark
	for i, months := range benchRollupMonths {
		b.Run(fmt.Sprintf("SQLite/log=%dmonths", months), func(b *testing.B) {
			if logs == nil {
				month, year := benchSQLiteRollupLogs(b, benchRollupMonths[1], cleanup)
				logs = []*SQLite{month, year}
			}
			s := logs[i]
			ctx := context.Background()
			benchCheckRollups(b, s, months)
			for _, r := range benchRollupRanges(months) {
				b.Run(r.name, func(b *testing.B) {
					var sum report.Summary
					var err error
					cpu := startCPU(b, nil)
					for b.Loop() {
						if sum, err = s.Summary(ctx, r.from.In(benchZone), r.to.In(benchZone), report.DefaultServiceLevel); err != nil {
							b.Fatal(err)
						}
					}
					cpu.report(b)
					b.ReportMetric(float64(sum.Totals.Total), "inbound_calls")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				})
			}
			// operator_stats counts the process's local days (TZ).
			for _, r := range benchOperatorStatsRanges(months) {
				b.Run("operator_stats/"+r.name, func(b *testing.B) {
					rows := 0
					cpu := startCPU(b, nil)
					for b.Loop() {
						got, err := s.db.QueryContext(ctx, `SELECT * FROM operator_stats WHERE day BETWEEN ? AND ?`, r.from, r.to)
						if err != nil {
							b.Fatal(err)
						}
						rows = 0
						for got.Next() {
							rows++
						}
						if err := got.Err(); err != nil {
							b.Fatal(err)
						}
						got.Close()
					}
					cpu.report(b)
					if rows < (r.days-1)*benchOperators {
						b.Fatalf("operator_stats has %d rows from %s to %s; want about %d, a row per operator and day", rows, r.from, r.to, r.days*benchOperators)
					}
					b.ReportMetric(float64(rows), "rows")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				})
			}
		})
	}
}

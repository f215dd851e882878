package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// viewBenchQueries are the analysts' queries the benchmark times: each
// view, as a tool asks for it, for a busy day and for the month.
var viewBenchQueries = []struct{ name, query string }{
	{"calls_by_source_day", `SELECT * FROM calls_by_source_day WHERE day BETWEEN $1 AND $2`},
	{"missed_without_callback", `SELECT * FROM missed_without_callback WHERE day BETWEEN $1 AND $2`},
	{"operator_stats", `SELECT * FROM operator_stats WHERE day BETWEEN $1 AND $2`},
}

// viewBenchRanges: Friday 14 March 2025, and the whole month.
var viewBenchRanges = []struct{ name, from, to string }{
	{"day", "2025-03-14", "2025-03-14"},
	{"month", "2025-03-01", "2025-03-31"},
}

// BenchmarkAnalystViews reads each analyst view over a made-up month of
// 100,000 calls (benchCallLog; SCREENPOP_BENCH_CALLS for another size),
// for a day and for the month, in Moscow time, reporting ms/query. Before
// timing, it checks that PostgreSQL reads the calls and their offers
// through indexes (EXPLAIN ANALYZE: no Seq Scan on either), and that the
// views agree with the call log and the callback list.
//
//	go test -run '^$' -bench AnalystViews -benchtime 20x ./store/
func BenchmarkAnalystViews(b *testing.B) {
	p := openBenchLog(b, benchCallLog(b))
	defer p.Close()
	ctx := context.Background()

	for _, q := range viewBenchQueries {
		for _, r := range viewBenchRanges {
			plan := viewPlan(b, p, q.query, r.from, r.to)
			for _, line := range strings.Split(plan, "\n") {
				if strings.Contains(line, "Seq Scan on calls") || strings.Contains(line, "Seq Scan on offers") {
					b.Fatalf("%s for a %s reads a whole table: %s\n%s", q.name, r.name, strings.TrimSpace(line), plan)
				}
			}
			if r.name == "day" {
				b.Logf("%s for a day:\n%s", q.name, plan)
			}
		}
	}
	checkViewsAgree(b, p)

	for _, q := range viewBenchQueries {
		for _, r := range viewBenchRanges {
			b.Run(q.name+"/"+r.name, func(b *testing.B) {
				n, rows := 0, 0
				for b.Loop() {
					got, err := p.pool.Query(ctx, q.query, r.from, r.to)
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
					if rows == 0 {
						b.Fatalf("%s for %s to %s: no rows", q.name, r.from, r.to)
					}
					n++
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(n), "ms/query")
				b.ReportMetric(float64(rows), "rows")
			})
		}
	}
}

// viewPlan is how PostgreSQL runs an analyst's query for from to to.
func viewPlan(b *testing.B, p *Postgres, query, from, to string) string {
	b.Helper()
	rows, err := p.pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+query, from, to)
	if err != nil {
		b.Fatalf("EXPLAIN %s: %v", query, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatalf("EXPLAIN %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// checkViewsAgree checks the views' month against the call log it was
// made from and against the callback list: timing views that count wrong
// would prove nothing.
func checkViewsAgree(b *testing.B, p *Postgres) {
	b.Helper()
	ctx := context.Background()
	var viewTotal, viewOffered, viewAnswered, logTotal, logOffered, logAnswered int64
	if err := p.pool.QueryRow(ctx, `SELECT
		(SELECT sum(total) FROM calls_by_source_day),
		(SELECT sum(offered) FROM operator_stats), (SELECT sum(answered) FROM operator_stats)`).
		Scan(&viewTotal, &viewOffered, &viewAnswered); err != nil {
		b.Fatal(err)
	}
	if err := p.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM calls WHERE direction = 'inbound'),
		count(*) FILTER (WHERE f.ringing_at IS NOT NULL OR f.answered_at IS NOT NULL),
		count(*) FILTER (WHERE f.outcome = 'answered')
		FROM offers f JOIN calls c USING (call_id) WHERE c.direction = 'inbound'`).
		Scan(&logTotal, &logOffered, &logAnswered); err != nil {
		b.Fatal(err)
	}
	if viewTotal != logTotal || viewOffered != logOffered || viewAnswered != logAnswered {
		b.Fatalf("the views count %d inbound calls, %d rings of operators' phones and %d answered; the log has %d, %d and %d",
			viewTotal, viewOffered, viewAnswered, logTotal, logOffered, logAnswered)
	}
	var missed int
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM missed_without_callback`).Scan(&missed); err != nil {
		b.Fatal(err)
	}
	cbs, err := p.Callbacks(ctx, benchMonthTo.Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	attempts := 0
	for _, cb := range cbs {
		attempts += cb.Attempts
	}
	if missed != attempts {
		b.Fatalf("missed_without_callback holds %d calls; the callback list %d", missed, attempts)
	}
	b.Logf("the month: %d inbound calls, ringing operators' phones %d times, %d answered; %d missed calls of %d numbers not called back",
		logTotal, logOffered, logAnswered, missed, len(cbs))
}

package store

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
)

// benchSeed is the synthetic client base the benchmarks load.
const benchSeed = 2026

// benchClients is how many clients the lookup benchmarks load:
// SCREENPOP_BENCH_CLIENTS (1000000 for a dealership group's whole base), or
// 100,000.
func benchClients(b *testing.B) int {
	s := os.Getenv("SCREENPOP_BENCH_CLIENTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("SCREENPOP_BENCH_CLIENTS=%q: want a number of clients", s)
	}
	return n
}

// importBatchSize is how many clients an importer hands ImportClients at a
// time.
const importBatchSize = 5000

// loadSynth imports n synthetic clients in batches, making the next batch
// while the store writes one, and returns the time spent in ImportClients.
func loadSynth(b *testing.B, s clientBase, n int) time.Duration {
	batches := make(chan []screenpop.ClientHistory, 2)
	go func() {
		defer close(batches)
		batch := make([]screenpop.ClientHistory, 0, importBatchSize)
		for c := range synth.Clients(benchSeed, n, time.Now()) {
			if batch = append(batch, c); len(batch) == importBatchSize {
				batches <- batch
				batch = make([]screenpop.ClientHistory, 0, importBatchSize)
			}
		}
		if len(batch) > 0 {
			batches <- batch
		}
	}()
	var spent time.Duration
	for batch := range batches {
		start := time.Now()
		if _, err := s.ImportClients(context.Background(), batch); err != nil {
			for range batches {
			}
			b.Fatalf("ImportClients: %v", err)
		}
		spent += time.Since(start)
	}
	return spent
}

func BenchmarkPostgresLookupPhone(b *testing.B) { benchmarkLookupPhone(b, backends[0]) }
func BenchmarkSQLiteLookupPhone(b *testing.B)   { benchmarkLookupPhone(b, backends[1]) }

// benchmarkLookupPhone loads a client base, checks that the lookup reads
// only through indexes, then looks up known numbers one after the other,
// as calls come in.
func benchmarkLookupPhone(b *testing.B, be backend) {
	n := benchClients(b)
	s := openClientBase(b, be)
	start := time.Now()
	spent := loadSynth(b, s, n)
	b.Logf("%s: imported %d clients in %v, %v in ImportClients: %.0f clients/s",
		be.name, n, time.Since(start).Round(time.Millisecond), spent.Round(time.Millisecond), float64(n)/spent.Seconds())
	phones := synth.Phones(benchSeed, n)
	plan := lookupPlan(b, s, phones[len(phones)/2])
	b.Logf("the lookup's plan:\n%s", plan)
	for _, line := range strings.Split(plan, "\n") {
		// PostgreSQL's sequential scans and SQLite's full scans read a
		// whole table; the lookup must read only index entries.
		if strings.Contains(line, "Seq Scan") || strings.HasPrefix(strings.TrimLeft(line, " |-`"), "SCAN ") {
			b.Fatalf("the lookup reads a whole table: %s\n%s", strings.TrimSpace(line), plan)
		}
	}

	ctx := context.Background()
	i := 0
	for b.Loop() {
		recs, err := s.LookupPhone(ctx, phones[(i*7919)%len(phones)])
		if err != nil || len(recs) == 0 {
			b.Fatalf("LookupPhone(%s) = %d clients, %v; want the client", phones[(i*7919)%len(phones)], len(recs), err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/lookup")
}

// lookupPlan is how the store runs the lookup: PostgreSQL's EXPLAIN ANALYZE
// after ANALYZE (so the planner knows the tables' sizes), SQLite's EXPLAIN
// QUERY PLAN.
func lookupPlan(b *testing.B, s clientBase, e164 string) string {
	ctx := context.Background()
	since := time.Now().Add(-yearDays)
	var lines []string
	switch s := s.(type) {
	case *Postgres:
		// Only this schema's tables: other tests share the database.
		if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE employees, clients, client_phones, cars, visits, contacts, complaints"); err != nil {
			b.Fatalf("VACUUM ANALYZE: %v", err)
		}
		rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+pgLookupPhone, e164, since)
		if err != nil {
			b.Fatalf("EXPLAIN: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				b.Fatalf("EXPLAIN: %v", err)
			}
			lines = append(lines, line)
		}
	case *SQLite:
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqliteLookupPhone, e164, formatTime(since))
		if err != nil {
			b.Fatalf("EXPLAIN QUERY PLAN: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				b.Fatalf("EXPLAIN QUERY PLAN: %v", err)
			}
			lines = append(lines, detail)
		}
	}
	return strings.Join(slices.Clip(lines), "\n")
}

func BenchmarkPostgresImportClients(b *testing.B) { benchmarkImportClients(b, backends[0]) }
func BenchmarkSQLiteImportClients(b *testing.B)   { benchmarkImportClients(b, backends[1]) }

// benchmarkImportClients imports batches of 5,000 synthetic clients into a
// growing base, as a bulk load does.
func benchmarkImportClients(b *testing.B, be backend) {
	s := openClientBase(b, be)
	var clients []screenpop.ClientHistory
	for c := range synth.Clients(benchSeed, importBatchSize, time.Now()) {
		clients = append(clients, c)
	}
	n := 0
	for b.Loop() {
		if _, err := s.ImportClients(context.Background(), clients); err != nil {
			b.Fatalf("ImportClients: %v", err)
		}
		n += len(clients)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "clients/s")
}

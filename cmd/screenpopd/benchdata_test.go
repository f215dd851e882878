package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/synth"
	"github.com/screenpop/screenpop/store"
)

// benchSeed is the made-up client base the benchmarks load.
const benchSeed = 2026

// benchClients is how many clients a benchmark's base holds:
// SCREENPOP_BENCH_CLIENTS, or the million of a dealership group's base.
func benchClients(b *testing.B) int {
	s := os.Getenv("SCREENPOP_BENCH_CLIENTS")
	if s == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("SCREENPOP_BENCH_CLIENTS=%q: want a number of clients", s)
	}
	return n
}

// benchImportBatch is how many clients go to ImportClients at a time.
const benchImportBatch = 5000

// clientBase returns a DSN for a schema of its own holding n made-up
// clients of benchSeed. A million take minutes to import, so the schema
// (screenpop_bench_N) is kept between runs and filled only when its
// marker table does not say it holds all n; drop it to start over.
func clientBase(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("screenpop_bench_%d", n)
	conn, err := pgx.Connect(ctx, testPostgresDSN())
	if err != nil {
		b.Fatalf("PostgreSQL is needed for this benchmark (set SCREENPOP_TEST_POSTGRES): %v", err)
	}
	defer conn.Close(ctx)
	// Two runs at once must not both fill the schema.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", schema); err != nil {
		b.Fatal(err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", schema)

	sep := "?"
	if strings.Contains(testPostgresDSN(), "?") {
		sep = "&"
	}
	dsn := testPostgresDSN() + sep + "search_path=" + schema
	var have int
	err = conn.QueryRow(ctx, "SELECT clients FROM "+schema+".bench_base WHERE seed = $1", benchSeed).Scan(&have)
	if err == nil && have == n {
		b.Logf("client base: %d clients already in schema %s", n, schema)
		return dsn
	}

	// No marker: never filled, or an import that did not finish.
	b.Logf("client base: importing %d made-up clients into schema %s (once; later runs reuse it)", n, schema)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	importClients(b, db, n)
	b.Logf("client base: imported %d clients in %v", n, time.Since(start).Round(time.Second))
	// The planner must know the tables' sizes, and index-only scans need
	// the visibility map.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+schema+".employees, "+schema+".clients, "+schema+".client_phones, "+
		schema+".cars, "+schema+".visits, "+schema+".contacts, "+schema+".complaints"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+schema+".bench_base (clients integer NOT NULL, seed bigint NOT NULL, imported_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".bench_base (clients, seed) VALUES ($1, $2)", n, benchSeed); err != nil {
		b.Fatal(err)
	}
	return dsn
}

// importClients imports n made-up clients in batches, making the next
// batch while the database writes one.
func importClients(b *testing.B, db *store.Postgres, n int) {
	b.Helper()
	batches := make(chan []screenpop.ClientHistory, 2)
	go func() {
		defer close(batches)
		batch := make([]screenpop.ClientHistory, 0, benchImportBatch)
		for c := range synth.Clients(benchSeed, n, time.Now()) {
			if batch = append(batch, c); len(batch) == benchImportBatch {
				batches <- batch
				batch = make([]screenpop.ClientHistory, 0, benchImportBatch)
			}
		}
		if len(batch) > 0 {
			batches <- batch
		}
	}()
	done, next := 0, 100_000
	for batch := range batches {
		if _, err := db.ImportClients(context.Background(), batch); err != nil {
			for range batches {
			}
			b.Fatalf("import clients: %v", err)
		}
		if done += len(batch); done >= next || done == n {
			b.Logf("client base: %d of %d clients imported", done, n)
			next += 100_000
		}
	}
}

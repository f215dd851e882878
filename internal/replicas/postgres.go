package replicas

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// PostgresDSN is the test PostgreSQL: $SCREENPOP_TEST_POSTGRES, or the
// machine's at 127.0.0.1:5432, database test.
func PostgresDSN() string {
	if dsn := os.Getenv("SCREENPOP_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// FreshSchema creates a schema of its own for a test and returns a DSN
// that uses it; the schema is dropped afterwards.
func FreshSchema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, PostgresDSN())
	if err != nil {
		t.Fatalf("PostgreSQL is needed for this test (set SCREENPOP_TEST_POSTGRES): %v", err)
	}
	schema := fmt.Sprintf("cluster_%d", rand.Uint64())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, PostgresDSN())
		if err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	sep := "?"
	if bytes.ContainsRune([]byte(PostgresDSN()), '?') {
		sep = "&"
	}
	return PostgresDSN() + sep + "search_path=" + schema
}

// Rows counts the call log's rows, -1 while the table is not there.
func Rows(dsn string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM calls").Scan(&n); err != nil {
		return -1
	}
	return n
}

// Stored reads the whole call log.
func Stored(t *testing.T, dsn string) []screenpop.Call {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, dsn)
	defer db.Close()
	var calls []screenpop.Call
	if err := db.Calls(ctx, screenpop.CallFilter{Offers: true}, func(c screenpop.Call) error {
		calls = append(calls, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return calls
}

// Settle waits until the call log at dsn has not changed for longer than
// the writers' ack wait (10 s): a record taken by a writer killed with it
// is written by another once that wait is over.
func Settle(t *testing.T, dsn string) {
	t.Helper()
	last, since := Rows(dsn), time.Now()
	for time.Since(since) < 12*time.Second {
		time.Sleep(100 * time.Millisecond)
		if n := Rows(dsn); n != last {
			last, since = n, time.Now()
		}
	}
}

// openStore opens the store at dsn, for the caller to close.
func openStore(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	db, err := store.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

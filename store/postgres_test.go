package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// testPostgresDSN is the server the tests use. They need it: a missing
// PostgreSQL fails them, for a skipped test would hide the very store the
// daemon runs on in production.
func testPostgresDSN() string {
	if dsn := os.Getenv("SCREENPOP_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// adminConn connects to the test server, failing the test with what to do
// when it cannot.
func adminConn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	dsn := testPostgresDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		where := "the address in SCREENPOP_TEST_POSTGRES"
		if cfg, perr := pgx.ParseConfig(dsn); perr == nil {
			where = fmt.Sprintf("%s:%d, database %s", cfg.Host, cfg.Port, cfg.Database)
		}
		tb.Fatalf("these tests need PostgreSQL, and it is not reachable at %s: %v\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or point SCREENPOP_TEST_POSTGRES at one.",
			where, err)
	}
	return conn
}

// freshPostgres gives the test a schema of its own, with a random name, so
// tests run in parallel and leave nothing behind: the schema is dropped when
// the test ends.
func freshPostgres(tb testing.TB) func() callStore {
	tb.Helper()
	conn := adminConn(tb)
	defer conn.Close(context.Background())
	schema := "screenpop_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		conn := adminConn(tb)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dsn := withSearchPath(testPostgresDSN(), schema)
	return func() callStore {
		tb.Helper()
		p, err := OpenPostgres(context.Background(), dsn)
		if err != nil {
			tb.Fatalf("OpenPostgres: %v", err)
		}
		tb.Cleanup(func() { p.Close() })
		return p
	}
}

// withSearchPath adds search_path to a DSN in either of its forms; pgx sends
// it to the server as a run-time parameter of every connection.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func TestOpenPostgresFailsFastWithoutRevealingThePassword(t *testing.T) {
	const password = "Tr0ub4dor-and-3"
	conn := adminConn(t) // the server must be up for the refused-database case to mean anything
	server := conn.Config()
	conn.Close(context.Background())

	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{
			name: "a closed port is reported at once",
			dsn:  "postgres://postgres:" + password + "@127.0.0.1:1/test?sslmode=disable",
			want: "connect to postgres: ",
		},
		{
			name: "a closed port in a keyword/value DSN is reported at once",
			dsn:  "host=127.0.0.1 port=1 user=postgres password=" + password + " dbname=test sslmode=disable",
			want: "connect to postgres: ",
		},
		{
			name: "a database the server does not have is reported",
			dsn: fmt.Sprintf("postgres://%s:%s@%s:%d/screenpop_no_such_database?sslmode=disable",
				server.User, password, server.Host, server.Port),
			want: "screenpop_no_such_database",
		},
		{
			name: "a DSN that cannot be parsed is reported without its text",
			dsn:  "postgres://postgres:" + password + "@127.0.0.1:port/test",
			want: "connect to postgres: the DSN cannot be parsed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			p, err := OpenPostgres(ctx, tt.dsn)
			if err == nil {
				p.Close()
				t.Fatal("OpenPostgres succeeded, want an error")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("OpenPostgres took %v to fail, want under 3s", took)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error reveals the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRedactHidesThePasswordWhateverTheErrorSays(t *testing.T) {
	err := redact(fmt.Errorf("dial: %w", context.DeadlineExceeded), "")
	if err.Error() != "dial: context deadline exceeded" {
		t.Errorf("with no password, got %q, want the error unchanged", err)
	}
	err = redact(fmt.Errorf("auth as postgres:s3cret failed: %w", context.DeadlineExceeded), "s3cret")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("redacted error still holds the password: %q", err)
	}
	if !strings.Contains(err.Error(), "auth as postgres:xxxxx failed") {
		t.Errorf("redacted error lost its meaning: %q", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("redacted error no longer wraps its cause")
	}
}

func BenchmarkPostgresSaveCalls(b *testing.B) {
	benchmarkSaveCalls(b, backends[0])
}

func BenchmarkSQLiteSaveCalls(b *testing.B) {
	benchmarkSaveCalls(b, backends[1])
}

// benchmarkSaveCalls saves batches of 100 new calls with two offers each,
// the Writer's steady state in a busy hour.
func benchmarkSaveCalls(b *testing.B, be backend) {
	s := openMigrated(b, be)
	const batchSize = 100
	batch := make([]screenpop.Call, batchSize)
	n := 0
	for b.Loop() {
		for i := range batch {
			n++
			c := answeredCall(fmt.Sprintf("1700000000.%d", n))
			batch[i] = c
		}
		if err := s.SaveCalls(context.Background(), batch); err != nil {
			b.Fatalf("SaveCalls: %v", err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "calls/s")
}

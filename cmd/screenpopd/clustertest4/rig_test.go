package clustertest4_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/internal/replicas"
)

func TestMain(m *testing.M) { replicas.Main(m) }

// long is how long these tests wait on a condition: several boxes,
// their leases spreading over the replicas, load the machine more than
// the one box of the other cluster tests.
const long = 60 * time.Second

// cluster starts n replicas of the boxes in config (or, with config
// empty, of box pbx1 at ariURL) on NATS at natsURL with the call log in
// PostgreSQL at dsn, and waits for them to be ready.
func cluster(t *testing.T, n int, ariURL, config, natsURL, dsn string) []*replicas.Replica {
	t.Helper()
	return spec(ariURL, config, natsURL, dsn).Start(t, n)
}

// spec is the cluster of these tests: its streams on one NATS node.
func spec(ariURL, config, natsURL, dsn string) replicas.ClusterSpec {
	return replicas.ClusterSpec{ARIURL: ariURL, Config: config, NATSURL: natsURL, DSN: dsn, StreamReplicas: 1}
}

// unseenRows counts the unseen periods stored.
func unseenRows(t *testing.T, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM unseen_periods").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package clustertest3_test

import (
	"testing"

	"github.com/screenpop/screenpop/internal/replicas"
)

func TestMain(m *testing.M) { replicas.Main(m) }

// newReplica makes a replica of box pbx1 on NATS at natsURL (three
// nodes), with the call log in PostgreSQL at dsn, which Asterisk's
// outbound websocket reaches at /ari/events (and no address of
// Asterisk's at all: its commands go over that websocket).
func newReplica(t *testing.T, name, natsURL, dsn string) *replicas.Replica {
	return replicas.ClusterSpec{NATSURL: natsURL, DSN: dsn, StreamReplicas: 3}.Replica(t, name)
}

// Package clustertest holds the end-to-end tests of clustered mode:
// three daemons as real child processes (so that kill -9 is a real
// death) on a three-node NATS JetStream cluster embedded on loopback,
// PostgreSQL, and the ARI simulator; every record is compared with an
// oracle, a tracker on an unbroken connection of its own. It lives in a
// package of its own to keep within go test's time limit beside the
// daemon's other tests. It has no code but its tests.
package clustertest

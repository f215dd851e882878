// Package clustertest4 holds end-to-end tests of clustered mode with
// several Asterisk boxes, and of the unseen periods a cluster records:
// real replica processes on an embedded NATS and PostgreSQL, with
// simulated boxes, started with internal/replicas. It is a package of
// its own so that each package keeps within go test's ten minutes on a
// loaded machine. It has no code but its tests.
package clustertest4

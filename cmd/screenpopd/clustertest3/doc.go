// Package clustertest3 holds the end-to-end tests of clustered mode with
// Asterisk's outbound websockets: daemons as real child processes
// (internal/replicas, so that kill -9 is a real death) behind a
// round-robin TCP load balancer, which the simulated Asterisk dials as
// real Asterisk dials its websocket_client.conf uri, queueing events
// while no replica has its connection; a three-node NATS JetStream
// cluster of the machine's nats-server on loopback; PostgreSQL. Every
// record is compared with an oracle (internal/oracletest), a tracker on
// an unbroken inbound connection of its own. It lives in a package of
// its own to keep within go test's time limit beside the other cluster
// tests. It has no code but its tests.
package clustertest3

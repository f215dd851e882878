// Package replicas runs screenpopd as real child processes for the
// end-to-end tests (cmd/screenpopd/continuity, clustertest to
// clustertest4, outage, ...), so that kill -9 is a real death: Main
// builds the daemon once for a test binary, New and Cluster (or a
// ClusterSpec, for several boxes or Asterisk's outbound websockets)
// start replicas of it, Holder and BoxHolder find the one that holds a
// box. Beside them: the test PostgreSQL (FreshSchema, Rows, Stored), the
// sockets a process opened (TCPPeers), and Percentile for the figures
// the tests print.
//
// It is test support, as net/http/httptest is: its functions take a
// *testing.T and fail the test. Only tests import it. It must never
// import cmd/screenpopd (it builds it with go build).
package replicas

// Package oracletest is what the end-to-end tests of call tracking and
// the call log (cmd/screenpopd/continuity, clustertest, clustertest2, ...)
// share to know whether a daemon's records are true: the simulated
// Asterisk they run against (Sim, Load), an oracle (RunTracked: the real
// ARI client, intake and tracker on an unbroken connection, which sees
// every event), the comparison of a daemon's records with the oracle's
// (Judge, Verdict), and waits that hold on a loaded machine (WaitLong,
// WaitProgressLong, or WaitWithin a longer time).
//
// It is test support, as net/http/httptest is: its functions take a
// *testing.T and fail the test. Only tests import it. It must never
// import cmd/screenpopd or store.
package oracletest

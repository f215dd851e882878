// Package loadtest is the load harness: it runs screenpopd and, in the
// same invocation, the naive pipeline (loadtest/naive) as processes of
// their own, against the simulated Asterisk (ari/arisim) placing realistic
// calls, with PostgreSQL holding the client base and the call log, and the
// operators' pages connected over real websockets. The simulator and the
// pages run in the benchmark's process, apart from the daemon measured.
//
// It reports, per rate and per pipeline, the CPU the daemon's process
// spent per call (utime+stime from /proc), pop latency p50 and p99
// (ringing frame written to pop read), pops missing, and ARI events
// dropped. See BenchmarkLoad for the command. It imports screenpop's
// packages only as a user would: the daemon is its built binary.
package loadtest

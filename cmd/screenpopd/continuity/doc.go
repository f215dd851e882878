// Package continuity holds the end-to-end fault tests of call tracking
// and the call log: 500 calls through 100 drops of the events websocket
// (a fault-injecting TCP proxy), and the daemon, as a real child process,
// stopped with SIGTERM and kill -9 every few seconds during 300 calls.
// Every record is compared with an oracle: a daemon that saw every event.
// They live in a package of their own so that they run beside the
// daemon's other tests (go test runs packages in parallel) and each
// package keeps within go test's time limit. It has no code but its tests.
package continuity

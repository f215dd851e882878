// Package outage tests what operators, analysts and admins see while the
// call log's PostgreSQL is stopped and then hangs under load: the daemon
// runs as its own process against the simulated Asterisk, the pages in a
// real Chromium, the database in a cluster of the test's own. It lives
// apart from cmd/screenpopd because its outage alone lasts 90 s, and a
// package's tests must end within go test's ten minutes on a loaded
// machine.
package outage

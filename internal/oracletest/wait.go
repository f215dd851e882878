package oracletest

import (
	"testing"
	"time"
)

// Long is how long WaitLong and WaitProgressLong give what a loaded
// machine may take seconds to do.
const Long = 30 * time.Second

// WaitLong waits for what a loaded machine may take seconds to do: it
// gives up after Long.
func WaitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, Long, what, cond)
}

// WaitWithin is WaitLong giving up after d, for a test whose machine is
// loaded by more than the one box and cluster the others run.
func WaitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitProgressLong waits for cond as long as progress (a count that grows
// while the work goes on) has grown within the last Long.
func WaitProgressLong(t testing.TB, what string, progress func() int, cond func() bool) {
	t.Helper()
	WaitProgressWithin(t, Long, what, progress, cond)
}

// WaitProgressWithin is WaitProgressLong giving up after no progress
// for d.
func WaitProgressWithin(t testing.TB, d time.Duration, what string, progress func() int, cond func() bool) {
	t.Helper()
	if !progressWithin(d, progress, cond) {
		t.Fatalf("gave up waiting until %s: no progress for %s", what, d)
	}
}

// ProgressLong is WaitProgressLong that fails the test and goes on when
// progress stops, so that a verdict after it can say what is missing
// (the calls a daemon never stored, by ID). It reports whether cond
// came true.
func ProgressLong(t testing.TB, what string, progress func() int, cond func() bool) bool {
	t.Helper()
	if progressWithin(Long, progress, cond) {
		return true
	}
	t.Errorf("gave up waiting until %s: no progress for %s (at %d)", what, Long, progress())
	return false
}

func progressWithin(d time.Duration, progress func() int, cond func() bool) bool {
	last, since := progress(), time.Now()
	for !cond() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > d {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

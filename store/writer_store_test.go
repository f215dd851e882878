package store

import (
	"fmt"
	"sync"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

// These tests run the Writer against both real stores: what they prove,
// each call stored exactly once through crashes and lost acknowledgements,
// rests on SaveCalls skipping calls it already has.

func TestWriterStoresEachCallOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testWriterStoresEachCallOnce(t, b)
		})
	}
}

func testWriterStoresEachCallOnce(t *testing.T, b backend) {
	t.Run("calls recorded from many goroutines are all stored, each once", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 16<<20), s).start(t)
		const goroutines, each = 8, 150 // 1200 calls: more than two batches
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for _, id := range callIDs(fmt.Sprintf("17000002%02d", g), each) {
					w.Record(answeredCall(id))
				}
			})
		}
		wg.Wait()
		w.flush(t)
		assertRows(t, s, goroutines*each)
		if n := w.Written(); n != goroutines*each {
			t.Errorf("Written = %d, want %d", n, goroutines*each)
		}
	})

	t.Run("a batch whose commit was not acknowledged is retried and stored once", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), &lostAck{db: s, times: 2}).start(t)
		calls := spoolCalls(30)
		recordAll(w, calls)
		w.flush(t)
		assertRows(t, s, len(calls))
		if w.Failures() < 2 {
			t.Errorf("Failures = %d, want at least the 2 lost acknowledgements", w.Failures())
		}
	})

	t.Run("a crash after the database committed but before the spool moved on stores each call once", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, b)
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		saver := &lostAck{db: s, times: -1}
		w := newTestWriter(t, sp, saver).start(t)
		calls := spoolCalls(50)
		recordAll(w, calls)
		waitFor(t, "the calls to be committed", func() bool { return saver.n.Load() >= 1 && w.Failures() >= 1 })
		w.stop()
		crash(sp)
		assertRows(t, s, len(calls)) // committed, though the spool does not know

		sp = openTestSpool(t, dir, 1<<20)
		if d := sp.Depth(); d != len(calls) {
			t.Errorf("Depth after restart = %d, want %d: nothing was acknowledged", d, len(calls))
		}
		w = newTestWriter(t, sp, s).start(t)
		w.flush(t)
		assertRows(t, s, len(calls))
	})

	restarts := []struct {
		name    string
		written int // of 40 calls, before the crash
	}{
		{"calls spooled but never written before a crash are all stored after restart, each once", 0},
		{"after a crash with some calls written, the rest are stored after restart, each once", 15},
	}
	for _, tt := range restarts {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b)
			dir := t.TempDir()
			calls := spoolCalls(40)
			sp := openTestSpool(t, dir, 1<<20)
			w := newTestWriter(t, sp, s)
			if tt.written > 0 {
				w.start(t)
				recordAll(w, calls[:tt.written])
				w.flush(t)
				if err := w.stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			recordAll(w, calls[tt.written:]) // Run has stopped: they are only spooled
			crash(sp)                        // killed: no Flush, no Close

			sp = openTestSpool(t, dir, 1<<20)
			if d := sp.Depth(); d != len(calls)-tt.written {
				t.Errorf("Depth after restart = %d, want %d", d, len(calls)-tt.written)
			}
			w = newTestWriter(t, sp, s).start(t)
			w.flush(t)
			assertRows(t, s, len(calls))
			for _, c := range []screenpop.Call{calls[0], calls[len(calls)-1]} {
				assertStoredOnce(t, s, c)
			}
		})
	}
}

// assertRows checks that s holds n calls with two offers each: none lost,
// none twice.
func assertRows(t *testing.T, s callStore, n int) {
	t.Helper()
	if got := countRows(t, s, "calls", ""); got != n {
		t.Errorf("calls has %d rows, want %d", got, n)
	}
	if got := countRows(t, s, "offers", ""); got != 2*n {
		t.Errorf("offers has %d rows, want %d", got, 2*n)
	}
}

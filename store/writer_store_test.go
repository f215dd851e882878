package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/spool"
)

// These tests run the spool's Writer against both real stores: what they
// prove, each call stored exactly once through crashes and lost
// acknowledgements, rests on SaveCalls skipping calls it already has. The
// Writer's own behaviour, against fakes, is tested in package spool.

// waitTimeout bounds a wait on a condition: only a broken writer or store
// reaches it, so it is generous enough for a starved, loaded machine.
const waitTimeout = 2 * time.Minute

func openTestSpool(t *testing.T, dir string, maxBytes int64) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, maxBytes)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// crashed leaves sp as a killed daemon leaves its spool on disk. A process
// crash loses no appended line and Close writes no cursor, so closing is
// what the next start finds after a kill: what Close adds, the fsync,
// matters only for a power failure (tested in package spool).
func crashed(t *testing.T, sp *spool.Spool) {
	t.Helper()
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

func spoolCalls(n int) []screenpop.Call {
	calls := make([]screenpop.Call, n)
	for i, id := range callIDs("1700000100", n) {
		calls[i] = answeredCall(id)
	}
	return calls
}

// testWriter is a spool.Writer with its Run goroutine and its log.
type testWriter struct {
	*spool.Writer
	logs *strings.Builder
	mu   *sync.Mutex
	stop func() error // cancels Run and returns what it returned
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newTestWriter(t *testing.T, sp *spool.Spool, db spool.Saver) *testWriter {
	t.Helper()
	w := &testWriter{logs: &strings.Builder{}, mu: &sync.Mutex{}}
	w.Writer = spool.NewWriter(sp, db, slog.New(slog.NewJSONHandler(lockedWriter{w.mu, w.logs}, nil)))
	return w
}

// start runs the writer until stop is called or the test ends. Run
// returns within its own bound (its last attempt's) once cancelled.
func (w *testWriter) start(t *testing.T) *testWriter {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	w.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { w.stop() })
	return w
}

func (w *testWriter) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		t.Fatalf("Flush: %v\nlogs:\n%s", err, w.logs)
	}
}

func recordAll(w *testWriter, calls []screenpop.Call) {
	for _, c := range calls {
		w.Record(c)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting, after %v, for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lostAck is a Saver that commits each batch to a real store and then
// reports a failure, as when the connection drops before the commit's
// answer arrives: the writer cannot tell the calls were stored. It does so
// for the first `times` batches (all of them if times < 0).
type lostAck struct {
	db    spool.Saver
	times int
	n     atomic.Int64
}

func (l *lostAck) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	return l.db.RejectCall(ctx, c, reason)
}

func (l *lostAck) Refused(err error) bool { return l.db.Refused(err) }

func (l *lostAck) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	if err := l.db.SaveCalls(ctx, calls); err != nil {
		return err
	}
	if n := l.n.Add(1); l.times < 0 || n <= int64(l.times) {
		return errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
	}
	return nil
}

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
		crashed(t, sp)
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
			crashed(t, sp)                   // no Flush, no Run to finish

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

package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// fakeDB is a Saver in memory that, like the real stores, keeps the first
// version of a call. It can be taken down and brought back.
type fakeDB struct {
	mu       sync.Mutex
	calls    map[string]screenpop.Call
	down     bool
	attempts int
	rejected []string
}

func newFakeDB() *fakeDB { return &fakeDB{calls: map[string]screenpop.Call{}} }

func (f *fakeDB) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.down {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	for _, c := range calls {
		if _, ok := f.calls[c.ID]; !ok {
			f.calls[c.ID] = c
		}
	}
	return nil
}

func (f *fakeDB) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	f.rejected = append(f.rejected, c.ID)
	return nil
}

// Refused says which errors the fake refuses the data with.
func (f *fakeDB) Refused(err error) bool { return isRefusal(err) }

func (f *fakeDB) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeDB) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.calls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// logBuffer collects a logger's JSON lines, safe for the writer's goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many records at level have msg as their message.
func (b *logBuffer) count(level slog.Level, msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == level.String() && rec.Msg == msg {
			n++
		}
	}
	return n
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	msgOutage  = "cannot write the call log; calls wait in the spool and writes are retried"
	msgResumed = "call log writes resumed"
	msgLost    = "lost a call: it could not be spooled for the call log"
	msgSkipped = "skipped a corrupt call log spool record"
	// waitTimeout bounds a wait on a condition: only a broken writer
	// reaches it, so it is generous enough for a starved, loaded machine.
	waitTimeout = 2 * time.Minute
)

// testWriter is a Writer with short waits, and its Run goroutine.
type testWriter struct {
	*Writer
	logs *logBuffer
	stop func() error // cancels Run and returns what it returned
}

func newTestWriter(t *testing.T, sp *Spool, db Saver) *testWriter {
	t.Helper()
	logs := &logBuffer{}
	w := NewWriter(sp, db, slog.New(slog.NewJSONHandler(logs, nil)))
	w.minBackoff, w.maxBackoff, w.finalTimeout = 2*time.Millisecond, 20*time.Millisecond, 2*time.Second
	return &testWriter{Writer: w, logs: logs}
}

// start runs the writer until stop is called or the test ends.
func (w *testWriter) start(t *testing.T) *testWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	w.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitTimeout):
				err = fmt.Errorf("Run did not return within %v of its context ending", waitTimeout)
				t.Error(err)
			}
		})
		return err
	}
	t.Cleanup(func() { w.stop() })
	return w
}

func (w *testWriter) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v\nlogs:\n%s", err, w.logs)
	}
}

func recordAll(w *testWriter, calls []screenpop.Call) {
	for _, c := range calls {
		w.Record(c)
	}
}

// assertNoPersonalData checks that the log names calls by call_id only:
// phone numbers and names are personal data.
func assertNoPersonalData(t *testing.T, logs *logBuffer) {
	t.Helper()
	for _, secret := range []string{"12345678", "J. de Vries"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds personal data (%q):\n%s", secret, logs)
		}
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

func TestWriter(t *testing.T) {
	t.Run("calls recorded while the database is away wait in the spool, are written once it is back, and the outage is logged once", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		db.setDown(true)
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db).start(t)
		calls := spoolCalls(3)
		recordAll(w, calls)
		waitFor(t, "several failed attempts", func() bool { return w.Failures() >= 5 })
		if d := w.Depth(); d != 3 {
			t.Errorf("Depth while the database is away = %d, want 3", d)
		}
		db.setDown(false)
		w.flush(t)
		if diff := cmp.Diff(ids(calls), db.ids()); diff != "" {
			t.Errorf("calls in the database (-want +got):\n%s", diff)
		}
		if d, n := w.Depth(), w.Written(); d != 0 || n != 3 {
			t.Errorf("Depth, Written = %d, %d; want 0, 3", d, n)
		}
		if n := w.logs.count(slog.LevelError, msgOutage); n != 1 {
			t.Errorf("the outage was logged %d times over %d failed attempts, want once:\n%s", n, w.Failures(), w.logs)
		}
		// Run logs the recovery once the spool is empty, just after Flush
		// has seen it so.
		waitFor(t, "the recovery to be logged", func() bool { return w.logs.count(slog.LevelInfo, msgResumed) > 0 })
		if n := w.logs.count(slog.LevelInfo, msgResumed); n != 1 {
			t.Errorf("the recovery was logged %d times, want once:\n%s", n, w.logs)
		}
	})

	t.Run("Record returns at once while the database hangs", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		db := newFakeDB()
		hang := saverFunc(func(ctx context.Context, calls []screenpop.Call) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return db.SaveCalls(ctx, calls)
		})
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), hang).start(t)
		calls := spoolCalls(200)
		start := time.Now()
		recordAll(w, calls)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("recording 200 calls took %v while the database hung", took)
		}
		close(release)
		w.flush(t)
		if n := len(db.ids()); n != 200 {
			t.Errorf("%d calls in the database, want 200", n)
		}
	})

	t.Run("a database that hangs is given up on and tried again", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		var attempts atomic.Int64
		hangOnce := saverFunc(func(ctx context.Context, calls []screenpop.Call) error {
			if attempts.Add(1) == 1 {
				<-ctx.Done() // a connection lost without a word
				return ctx.Err()
			}
			return db.SaveCalls(ctx, calls)
		})
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), hangOnce)
		w.saveTimeout = 50 * time.Millisecond
		w.start(t)
		recordAll(w, spoolCalls(3))
		w.flush(t)
		if n := len(db.ids()); n != 3 || w.Failures() != 1 {
			t.Errorf("%d calls stored after %d failures, want 3 after 1", n, w.Failures())
		}
	})

	t.Run("a full spool loses the newest calls, counts and logs each, and the writer carries on", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		db.setDown(true)
		calls := spoolCalls(6)
		sp := openTestSpool(t, t.TempDir(), 3*lineSize(t, calls[0]))
		w := newTestWriter(t, sp, db).start(t)
		recordAll(w, calls[:5])
		if d, n := w.Depth(), w.Dropped(); d != 3 || n != 2 {
			t.Errorf("Depth, Dropped = %d, %d; want 3, 2", d, n)
		}
		if n := w.logs.count(slog.LevelError, msgLost); n != 2 {
			t.Errorf("lost calls logged %d times, want 2:\n%s", n, w.logs)
		}
		if !strings.Contains(w.logs.String(), "call spool is full") {
			t.Errorf("the log does not say the spool was full:\n%s", w.logs)
		}
		assertNoPersonalData(t, w.logs)
		db.setDown(false)
		w.flush(t)
		w.Record(calls[5])
		w.flush(t)
		want := ids(append(calls[:3:3], calls[5]))
		if diff := cmp.Diff(want, db.ids()); diff != "" {
			t.Errorf("calls in the database (-want +got):\n%s", diff)
		}
	})

	t.Run("stopping the writer writes what is left before Run returns", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db).start(t)
		recordAll(w, spoolCalls(20))
		if err := w.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n := len(db.ids()); n != 20 {
			t.Errorf("%d calls in the database after Run returned, want 20", n)
		}
	})

	t.Run("stopping while the database is away keeps the calls in the spool and says so", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		db := newFakeDB()
		db.setDown(true)
		sp := openTestSpool(t, dir, 1<<20)
		w := newTestWriter(t, sp, db).start(t)
		recordAll(w, spoolCalls(2))
		err := w.stop()
		if err == nil || !strings.Contains(err.Error(), "2 calls left in the spool") {
			t.Errorf("Run returned %v, want an error saying 2 calls are left", err)
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		if d := openTestSpool(t, dir, 1<<20).Depth(); d != 2 {
			t.Errorf("Depth of the reopened spool = %d, want 2", d)
		}
	})

	t.Run("Flush gives up when its context ends, saying how many calls wait", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		db.setDown(true)
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db).start(t)
		recordAll(w, spoolCalls(1))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := w.Flush(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 calls still in the spool") {
			t.Errorf("Flush = %v, want the deadline and the count", err)
		}
	})

	t.Run("once Flush returns, Written counts every call it waited for", func(t *testing.T) {
		t.Parallel()
		sp := openTestSpool(t, t.TempDir(), 1<<20)
		// A segment per call: each acknowledgement writes the cursor file
		// durably, and a Flush that looked at the spool's count could
		// return in that fsync, before the batch was counted.
		sp.segBytes = 1
		w := newTestWriter(t, sp, newFakeDB())
		w.linger = 0
		w.start(t)
		const n = 300
		early := 0
		for i, c := range spoolCalls(n) {
			w.Record(c)
			w.flush(t)
			if w.Written() != uint64(i+1) {
				early++
			}
		}
		if early > 0 {
			t.Errorf("%d of %d Flushes returned before Written counted the call", early, n)
		}
	})

	t.Run("Run refuses to run twice", func(t *testing.T) {
		t.Parallel()
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), newFakeDB()).start(t)
		waitFor(t, "the first Run to start", w.running.Load)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := w.Run(ctx); err == nil {
			t.Error("a second Run returned nil, want an error")
		}
	})
}

func TestWriterSkipsCorruptRecords(t *testing.T) {
	good := spoolCalls(5)
	tests := []struct {
		name string
		// damage writes to the spool in dir, after good[:2] were appended
		// and the process crashed.
		damage   func(t *testing.T, dir string)
		position string
	}{
		{
			name:   "a line torn by a crash is skipped, logged once, and the calls around it are written",
			damage: tearLastSegment,
		},
		{
			name: "a damaged line between calls is skipped, logged once, and the calls on either side are written",
			damage: func(t *testing.T, dir string) {
				line, _ := json.Marshal(good[2])
				appendToLastSegment(t, dir, "\x00\x00garbage\n"+string(line)+"\n")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sp := openTestSpool(t, dir, 1<<20)
			appendAll(t, sp, good[:2])
			crash(sp)
			tt.damage(t, dir)

			db := newFakeDB()
			db.setDown(true) // so that the bad record is met again and again
			w := newTestWriter(t, openTestSpool(t, dir, 1<<20), db).start(t)
			recordAll(w, good[3:])
			waitFor(t, "several failed attempts", func() bool { return w.Failures() >= 5 })
			db.setDown(false)
			w.flush(t)

			for _, c := range good[:2] {
				if !contains(db.ids(), c.ID) {
					t.Errorf("call %s, before the damage, is not in the database", c.ID)
				}
			}
			for _, c := range good[3:] {
				if !contains(db.ids(), c.ID) {
					t.Errorf("call %s, recorded after the restart, is not in the database", c.ID)
				}
			}
			if n := w.Corrupt(); n != 1 {
				t.Errorf("Corrupt = %d, want 1", n)
			}
			if n := w.logs.count(slog.LevelError, msgSkipped); n != 1 {
				t.Errorf("the bad record was logged %d times, want once:\n%s", n, w.logs)
			}
			if d := w.Depth(); d != 0 {
				t.Errorf("Depth = %d, want 0", d)
			}
			assertNoPersonalData(t, w.logs)
		})
	}
}

type saverFunc func(ctx context.Context, calls []screenpop.Call) error

func (f saverFunc) SaveCalls(ctx context.Context, calls []screenpop.Call) error { return f(ctx, calls) }

func (f saverFunc) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	return errors.New("saverFunc keeps no rejected calls")
}

func (f saverFunc) Refused(err error) bool { return isRefusal(err) }

func contains(ids []string, id string) bool {
	i := sort.SearchStrings(ids, id)
	return i < len(ids) && ids[i] == id
}

func appendToLastSegment(t *testing.T, dir, text string) {
	t.Helper()
	files := segmentFiles(t, dir)
	f, err := os.OpenFile(filepath.Join(dir, files[len(files)-1]), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestWriterGroupCommit(t *testing.T) {
	t.Run("calls recorded within the linger share one transaction", func(t *testing.T) {
		t.Parallel()
		var batches [][]string
		var mu sync.Mutex
		db := newFakeDB()
		saver := saverFunc(func(ctx context.Context, calls []screenpop.Call) error {
			mu.Lock()
			batches = append(batches, ids(calls))
			mu.Unlock()
			return db.SaveCalls(ctx, calls)
		})
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), saver)
		w.linger, w.batchSize = time.Hour, 20 // only a full batch ends the wait
		w.start(t)
		// Once Run has written out what the spool held at its start (here
		// nothing) and waits: a start's drain takes whatever is there.
		waitFor(t, "the writer idle", func() bool { return w.idle.Load() > 0 })
		calls := spoolCalls(20)
		recordAll(w, calls)
		waitFor(t, "the calls written", func() bool { return len(db.ids()) == 20 })
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([][]string{ids(calls)}, batches); diff != "" {
			t.Errorf("transactions (-want +got):\n%s", diff)
		}
	})
	t.Run("a flush does not wait for the linger", func(t *testing.T) {
		t.Parallel()
		db := newFakeDB()
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db)
		w.linger = time.Hour
		w.start(t)
		calls := spoolCalls(3)
		recordAll(w, calls)
		w.flush(t) // waitTimeout, far less than the linger
		if diff := cmp.Diff(ids(calls), db.ids()); diff != "" {
			t.Errorf("calls in the database after Flush (-want +got):\n%s", diff)
		}
	})
}

// refusingDB is a fakeDB that refuses the calls of one ID, as PostgreSQL
// refuses a NUL byte, and can be taken down.
type refusingDB struct {
	*fakeDB
	refuse string
}

func (r *refusingDB) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	for _, c := range calls {
		if c.ID == r.refuse {
			r.mu.Lock()
			down := r.down
			r.mu.Unlock()
			if !down {
				return fmt.Errorf("save call %s: %w", c.ID, refusal(`invalid byte sequence for encoding "UTF8": 0x00`))
			}
		}
	}
	return r.fakeDB.SaveCalls(ctx, calls)
}

func TestWriterTellsARefusedRecordFromAnUnreachableDatabase(t *testing.T) {
	t.Run("an unreachable database sets nothing aside: every call waits in the spool", func(t *testing.T) {
		db := newFakeDB()
		db.setDown(true)
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db).start(t)
		recordAll(w, spoolCalls(10))
		waitFor(t, "several failed attempts", func() bool { return w.Failures() >= 3 })
		t.Logf("database down: %d failed attempts, %d rejected, %d waiting", w.Failures(), w.Rejected(), w.Depth())
		if w.Rejected() != 0 || len(db.rejected) != 0 || w.Depth() != 10 {
			t.Errorf("rejected %d (%v), depth %d; want none set aside and all 10 waiting", w.Rejected(), db.rejected, w.Depth())
		}
		db.setDown(false)
		w.flush(t)
		if got := len(db.ids()); got != 10 {
			t.Errorf("%d calls stored once the database is back, want 10", got)
		}
	})

	t.Run("a refused record is set aside and the rest of its batch written", func(t *testing.T) {
		calls := spoolCalls(100)
		db := &refusingDB{fakeDB: newFakeDB(), refuse: calls[63].ID}
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), db).start(t)
		recordAll(w, calls)
		w.flush(t)
		t.Logf("100 calls, one refused: %d stored, set aside %v, %d save attempts", len(db.ids()), db.rejected, db.attempts)
		if len(db.ids()) != 99 || len(db.rejected) != 1 || db.rejected[0] != calls[63].ID || w.Rejected() != 1 {
			t.Errorf("stored %d, set aside %v; want 99 and %s", len(db.ids()), db.rejected, calls[63].ID)
		}
	})

	t.Run("a database that goes away while a refused batch is split keeps the batch spooled", func(t *testing.T) {
		calls := spoolCalls(8)
		db := &refusingDB{fakeDB: newFakeDB(), refuse: calls[5].ID}
		// The database goes away as the first refusal comes back: the
		// halves cannot be written, nor the refused record set aside.
		var once sync.Once
		failing := saverAndRejecter{
			save: func(ctx context.Context, cs []screenpop.Call) error {
				err := db.SaveCalls(ctx, cs)
				if db.Refused(err) {
					once.Do(func() { db.setDown(true) })
				}
				return err
			},
			reject: db.RejectCall,
		}
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), failing).start(t)
		recordAll(w, calls)
		waitFor(t, "the write to fail", func() bool { return w.Failures() >= 2 })
		// On a loaded machine the writer may have taken the first calls in
		// a batch of their own, written before the refusal: every call not
		// written waits in the spool.
		if stored := len(db.ids()); w.Rejected() != 0 || w.Depth() != 8-stored || stored > 5 {
			t.Errorf("rejected %d, depth %d, stored %d; want nothing set aside while the database is away, the refused record's batch waiting",
				w.Rejected(), w.Depth(), stored)
		}
		db.setDown(false)
		w.flush(t)
		if len(db.ids()) != 7 || len(db.rejected) != 1 {
			t.Errorf("stored %d, set aside %v; want 7 and 1", len(db.ids()), db.rejected)
		}
	})

	t.Run("FinishBy bounds the last attempt on a database that hangs", func(t *testing.T) {
		hang := saverAndRejecter{
			save:   func(ctx context.Context, _ []screenpop.Call) error { <-ctx.Done(); return ctx.Err() },
			reject: func(ctx context.Context, _ screenpop.Call, _ error) error { return nil },
		}
		w := newTestWriter(t, openTestSpool(t, t.TempDir(), 1<<20), hang)
		w.finalTimeout = time.Minute
		w.start(t)
		recordAll(w, spoolCalls(3))
		w.FinishBy(time.Now().Add(200 * time.Millisecond))
		start := time.Now()
		err := w.stop()
		if took := time.Since(start); took > 5*time.Second || err == nil {
			t.Errorf("Run returned %v after %v; want an error saying the calls wait, within FinishBy", err, took)
		}
	})
}

type saverAndRejecter struct {
	save   func(ctx context.Context, calls []screenpop.Call) error
	reject func(ctx context.Context, c screenpop.Call, reason error) error
}

func (s saverAndRejecter) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	return s.save(ctx, calls)
}
func (s saverAndRejecter) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	return s.reject(ctx, c, reason)
}
func (s saverAndRejecter) Refused(err error) bool { return isRefusal(err) }

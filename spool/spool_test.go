package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

func openTestSpool(t *testing.T, dir string, maxBytes int64) *Spool {
	t.Helper()
	sp, err := Open(dir, maxBytes)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// crash abandons sp as a killed process would: no sync, no cursor write,
// the files and the lock simply let go.
func crash(sp *Spool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, f := range sp.unsynced {
		f.Close()
	}
	if sp.active != nil {
		sp.active.Close()
	}
	sp.lock.Close()
	sp.unsynced, sp.active, sp.closed = nil, nil, true
}

func spoolCalls(n int) []screenpop.Call {
	calls := make([]screenpop.Call, n)
	for i, id := range callIDs("1700000100", n) {
		calls[i] = answeredCall(id)
	}
	return calls
}

func appendAll(t *testing.T, sp *Spool, calls []screenpop.Call) {
	t.Helper()
	for _, c := range calls {
		if err := sp.Append(c); err != nil {
			t.Fatalf("Append(%s): %v", c.ID, err)
		}
	}
}

// readAll consumes the whole spool, batch by batch, as the Writer does.
func readAll(t *testing.T, sp *Spool, batchSize int) (calls []screenpop.Call, bad int) {
	t.Helper()
	for {
		b, err := sp.peek(batchSize)
		if err != nil {
			t.Fatalf("peek: %v", err)
		}
		if len(b.bad)+len(b.calls) == 0 {
			return calls, bad
		}
		if len(b.calls)+len(b.bad) > batchSize {
			t.Fatalf("peek(%d) returned %d records", batchSize, len(b.calls)+len(b.bad))
		}
		calls = append(calls, b.calls...)
		bad += len(b.bad)
		if err := sp.ack(b.skip); err != nil {
			t.Fatalf("ack: %v", err)
		}
		if err := sp.ack(b.good); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
}

func ids(calls []screenpop.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

func TestSpool(t *testing.T) {
	t.Run("calls come out whole and in order, across segments and batches", func(t *testing.T) {
		sp := openTestSpool(t, t.TempDir(), 1<<20)
		sp.segBytes = 2000 // a few calls per segment
		want := spoolCalls(25)
		appendAll(t, sp, want)
		if d := sp.Depth(); d != 25 {
			t.Errorf("Depth after 25 appends = %d, want 25", d)
		}
		got, bad := readAll(t, sp, 7)
		if diff := cmp.Diff(want, got, sameTime); diff != "" || bad != 0 {
			t.Errorf("read back (-appended +read), %d bad:\n%s", bad, diff)
		}
		if d := sp.Depth(); d != 0 {
			t.Errorf("Depth after reading everything = %d, want 0", d)
		}
	})

	t.Run("segments are deleted once read, leaving at most the one being written", func(t *testing.T) {
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		sp.segBytes = 2000
		appendAll(t, sp, spoolCalls(25))
		if n := len(segmentFiles(t, dir)); n < 5 {
			t.Fatalf("25 calls made %d segments, want several", n)
		}
		readAll(t, sp, 10)
		if files := segmentFiles(t, dir); len(files) > 1 {
			t.Errorf("after reading everything, segments left: %v", files)
		}
	})

	t.Run("a reopened spool resumes after the last acknowledged call, or a little before it after a crash", func(t *testing.T) {
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		calls := spoolCalls(14)
		appendAll(t, sp, calls[:10])
		ack := func(n int) {
			t.Helper()
			b, err := sp.peek(n)
			if err != nil {
				t.Fatal(err)
			}
			if err := sp.ack(b.good); err != nil {
				t.Fatal(err)
			}
		}
		ack(4) // the cursor file follows the first ack
		ack(2) // and not the next, within cursorEvery
		crash(sp)

		// The two acknowledged last are delivered again: the database
		// skips them; none is lost.
		sp = openTestSpool(t, dir, 1<<20)
		if d := sp.Depth(); d != 6 {
			t.Errorf("Depth after a crash = %d, want 6 (the cursor file as the first ack left it)", d)
		}
		ack(3)
		ack(1)
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}

		// Closed cleanly: the cursor file says exactly where reading was.
		sp = openTestSpool(t, dir, 1<<20)
		if d := sp.Depth(); d != 2 {
			t.Errorf("Depth after a clean close = %d, want 2", d)
		}
		appendAll(t, sp, calls[10:])
		got, _ := readAll(t, sp, 100)
		if diff := cmp.Diff(ids(calls[8:]), ids(got)); diff != "" {
			t.Errorf("calls after reopening (-want +got):\n%s", diff)
		}
	})

	t.Run("a full spool refuses calls with ErrFull until calls are read", func(t *testing.T) {
		one := lineSize(t, spoolCalls(1)[0])
		sp := openTestSpool(t, t.TempDir(), 3*one)
		calls := spoolCalls(5)
		appendAll(t, sp, calls[:3])
		if err := sp.Append(calls[3]); !errors.Is(err, ErrFull) {
			t.Fatalf("Append to a full spool: got %v, want ErrFull", err)
		}
		if d := sp.Depth(); d != 3 {
			t.Errorf("Depth = %d, want 3: a refused call must not count", d)
		}
		readAll(t, sp, 100)
		if err := sp.Append(calls[4]); err != nil {
			t.Errorf("Append once the spool was read: %v", err)
		}
	})

	t.Run("a torn last line is skipped, and calls appended after it are whole", func(t *testing.T) {
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		calls := spoolCalls(4)
		appendAll(t, sp, calls[:3])
		crash(sp)
		tearLastSegment(t, dir)

		sp = openTestSpool(t, dir, 1<<20)
		if d := sp.Depth(); d != 4 {
			t.Errorf("Depth after reopening = %d, want 4 (3 calls and the torn line)", d)
		}
		appendAll(t, sp, calls[3:])
		got, bad := readAll(t, sp, 100)
		if diff := cmp.Diff(ids(calls), ids(got)); diff != "" || bad != 1 {
			t.Errorf("read (-want +got), %d bad records (want 1):\n%s", bad, diff)
		}
	})

	t.Run("a damaged cursor delivers the calls again rather than losing them", func(t *testing.T) {
		dir := t.TempDir()
		sp := openTestSpool(t, dir, 1<<20)
		calls := spoolCalls(3)
		appendAll(t, sp, calls)
		b, _ := sp.peek(2)
		if err := sp.ack(b.good); err != nil {
			t.Fatal(err)
		}
		crash(sp)
		if err := os.WriteFile(filepath.Join(dir, cursorFile), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		sp = openTestSpool(t, dir, 1<<20)
		got, _ := readAll(t, sp, 100)
		if diff := cmp.Diff(ids(calls), ids(got)); diff != "" {
			t.Errorf("calls read (-want +got):\n%s", diff)
		}
	})

	t.Run("a second process cannot open a spool in use", func(t *testing.T) {
		dir := t.TempDir()
		openTestSpool(t, dir, 1<<20)
		if sp, err := Open(dir, 1<<20); err == nil {
			sp.Close()
			t.Error("a second Open on the same dir succeeded")
		}
	})
}

// lineSize is how many bytes c takes in the spool.
func lineSize(t *testing.T, c screenpop.Call) int64 {
	sp := openTestSpool(t, t.TempDir(), 1<<20)
	if err := sp.Append(c); err != nil {
		t.Fatal(err)
	}
	return sp.pendingBytes
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if _, ok := segmentID(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	return names
}

// tearLastSegment appends half a call to the newest segment, as a crash in
// the middle of a write would leave it.
func tearLastSegment(t *testing.T, dir string) {
	t.Helper()
	files := segmentFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("no segment to tear")
	}
	f, err := os.OpenFile(filepath.Join(dir, files[len(files)-1]), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`{"call_id":"1700000199.1","caller":"06123`); err != nil {
		t.Fatal(err)
	}
}

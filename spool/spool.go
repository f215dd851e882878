package spool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// ErrFull is returned by Append when the spool holds maxBytes of calls
// not yet written to the database.
var ErrFull = errors.New("call spool is full")

// Spool is a bounded queue of calls on disk, between the tracker, which must
// never wait, and the database, which may be away.
//
// Calls are JSON lines appended to segment files (00000000000000000001.jsonl
// and so on); the file "cursor" says how far the Writer has got. A segment is
// deleted once the cursor has passed it. After a restart, appends go to a new
// segment, so a line torn by a crash stays at the end of an old segment,
// where the reader skips it, and never has a good record glued to it.
//
// What a crash can lose: Append hands each line to the operating system
// before it returns, so a process crash loses nothing. The Writer fsyncs the
// spool before each batch it reads (a group commit: one batch gathers the
// calls of DefaultLinger), so a power failure loses at most the calls
// appended since it last began a batch: that linger normally; while
// the database is slow or away, up to one attempt (at most 30s) and one
// backoff (at most 5s). Not fsyncing in Append is deliberate: Record runs on
// the tracker's goroutine, which must not wait for a disk either. The cursor
// moves only after the database has committed a batch, and its file
// follows at most once a second (fsynced before a finished segment is
// deleted, and at Close), so a crash delivers the last batches again;
// SaveCalls skips calls it already has.
//
// Append, Depth and Close may be called from any goroutine. Reading is the
// Writer's: one goroutine, and Close only after it has stopped.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64 // a segment is closed and a new one begun past this size
	lock     *os.File

	mu           sync.Mutex
	segs         []segment  // oldest first; the last is the one written to if active is set
	active       *os.File   // nil until the first Append after opening or a failed write
	unsynced     []*os.File // segments written to since the last sync, no longer active
	dirDirty     bool       // a segment was created since the last sync
	activeDirty  bool       // the active segment was written to since the last sync
	nextID       uint64     // the next segment to create
	cursor       position   // the first record not yet acknowledged
	pending      int        // records not yet acknowledged, whole or not
	pendingBytes int64
	appended     uint64 // records ever appended, counting those found at open
	acked        uint64 // records ever acknowledged
	closed       bool

	// The cursor file, the Writer's alone: what it says, whether that
	// was fsynced, and when it was last written (ack).
	cursorSaved   position
	cursorSynced  bool
	cursorWritten time.Time
}

type segment struct {
	id   uint64
	size int64 // bytes written: never beyond the last whole line of the active segment
}

// position is a place in the spool: a byte offset in a segment.
type position struct {
	seg uint64
	off int64
}

const (
	cursorFile = "cursor"
	// cursorEvery is how often the cursor file follows the cursor when no
	// segment is finished: a crash delivers again at most the batches
	// written since.
	cursorEvery    = time.Second
	segmentSuffix  = ".jsonl"
	maxSegmentSize = 8 << 20
	minSegmentSize = 64 << 10
)

// Open opens the spool in dir, creating dir if need be, and finds the
// calls left in it by the previous run. maxBytes bounds the calls waiting;
// the files can exceed it by at most one segment (a quarter of maxBytes,
// between 64 KiB and 8 MiB) whose calls have been written but which is not
// yet deleted.
//
// One process at a time: a second Open on the same dir fails.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("open spool %s: the size limit must be positive, not %d", dir, maxBytes)
	}
	// Calls carry phone numbers and names: readable by the daemon only.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	s := &Spool{
		dir:      dir,
		maxBytes: maxBytes,
		segBytes: min(maxSegmentSize, max(minSegmentSize, maxBytes/4)),
		lock:     lock,
	}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

// load reads the cursor and the segments, drops those already consumed, and
// counts what is left.
func (s *Spool) load() error {
	s.cursor = s.readCursor()
	s.cursorSaved, s.cursorSynced = s.cursor, true
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var last uint64
	for _, e := range entries {
		id, ok := segmentID(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		last = max(last, id)
		if id < s.cursor.seg {
			// Consumed; the crash came before its removal.
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
				return err
			}
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		s.segs = append(s.segs, segment{id: id, size: info.Size()})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].id < s.segs[j].id })
	s.nextID = max(last, s.cursor.seg) + 1
	for _, seg := range s.segs {
		start := s.start(seg)
		n, err := countRecords(s.segmentPath(seg.id), start, seg.size)
		if err != nil {
			return err
		}
		s.pending += n
		s.pendingBytes += seg.size - start
	}
	s.appended = uint64(s.pending)
	return nil
}

// readCursor returns where reading resumes. A missing cursor means nothing
// was ever acknowledged. An unreadable one (it is replaced by rename, but
// not always fsynced: a power failure may leave it empty on some file
// systems, or a damaged disk garble it) also restarts from the oldest
// segment: delivering calls twice is harmless, losing them is not.
func (s *Spool) readCursor() position {
	data, err := os.ReadFile(filepath.Join(s.dir, cursorFile))
	if err != nil {
		return position{}
	}
	seg, off, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	if !ok {
		return position{}
	}
	id, err1 := strconv.ParseUint(seg, 10, 64)
	o, err2 := strconv.ParseInt(off, 10, 64)
	if err1 != nil || err2 != nil || o < 0 {
		return position{}
	}
	return position{seg: id, off: o}
}

// start is where the unread part of seg begins.
func (s *Spool) start(seg segment) int64 {
	if seg.id == s.cursor.seg {
		return min(s.cursor.off, seg.size)
	}
	return 0
}

func segmentID(name string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(num) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(num, 10, 64)
	return id, err == nil
}

func (s *Spool) segmentPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, segmentSuffix))
}

// countRecords counts the lines between start and end of a segment, a torn
// last line included: the reader will skip it, and it counts until then.
func countRecords(path string, start, end int64) (int, error) {
	if start >= end {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(io.NewSectionReader(f, start, end-start))
	n := 0
	partial := false // within a line longer than the buffer
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			n++
			partial = false
			continue
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			partial = true // its newline is further on
		case errors.Is(err, io.EOF):
			if len(line) > 0 || partial {
				n++ // torn
			}
			return n, nil
		case err != nil:
			return 0, err
		}
	}
}

// Append adds a call to the spool. It never waits on the database; it
// returns ErrFull (wrapped) when the spool is full.
func (s *Spool) Append(c screenpop.Call) error {
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("spool call %s: %w", c.ID, err)
	}
	return s.appendLine(line, "call "+c.ID)
}

// AppendUnseen adds an unseen period to the spool, as Append a call: a
// line of its own kind (spoolLine), which an older spool never has.
func (s *Spool) AppendUnseen(p screenpop.UnseenPeriod) error {
	line, err := json.Marshal(spoolLine{Unseen: &p})
	if err != nil {
		return fmt.Errorf("spool unseen period: %w", err)
	}
	return s.appendLine(line, "unseen period from "+p.From.Format(time.RFC3339))
}

// spoolLine is a spool line of another kind than a call: a call's line
// is the call's JSON alone, as spools always had it, and has none of
// these fields.
type spoolLine struct {
	Unseen *screenpop.UnseenPeriod `json:"unseen_period,omitempty"`
}

// appendLine appends one record's JSON; what names it in errors.
func (s *Spool) appendLine(line []byte, what string) error {
	line = append(line, '\n')
	n := int64(len(line))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("spool %s: the spool is closed", what)
	}
	if s.pendingBytes+n > s.maxBytes {
		return fmt.Errorf("spool %s: %d records (%d bytes) wait: %w", what, s.pending, s.pendingBytes, ErrFull)
	}
	if s.active != nil && s.segs[len(s.segs)-1].size > 0 && s.segs[len(s.segs)-1].size+n > s.segBytes {
		s.seal()
	}
	if s.active == nil {
		if err := s.create(); err != nil {
			return fmt.Errorf("spool %s: %w", what, err)
		}
	}
	seg := &s.segs[len(s.segs)-1]
	written, err := s.active.Write(line)
	s.activeDirty = true
	if written > 0 {
		seg.size += int64(written)
		s.pending++
		s.pendingBytes += int64(written)
		s.appended++
	}
	if err != nil {
		// A short write leaves a torn line. Sealing the segment keeps the
		// next call out of it; the reader will skip the tear.
		s.seal()
		return fmt.Errorf("spool %s: %w", what, err)
	}
	return nil
}

// seal stops appending to the active segment; it is fsynced at the next
// sync.
func (s *Spool) seal() {
	s.unsynced = append(s.unsynced, s.active)
	s.active = nil
}

func (s *Spool) create() error {
	id := s.nextID
	f, err := os.OpenFile(s.segmentPath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.nextID++
	s.active = f
	s.segs = append(s.segs, segment{id: id})
	s.dirDirty = true
	return nil
}

func (s *Spool) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Depth is the number of calls waiting to be written to the database.
func (s *Spool) Depth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// counts returns how many records were ever appended and acknowledged.
func (s *Spool) counts() (appended, acked uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appended, s.acked
}

// sync makes what was appended so far survive a power failure. The fsyncs
// run outside the lock so that Append does not wait for the disk.
func (s *Spool) sync() error {
	s.mu.Lock()
	files, active, dirty := s.unsynced, s.active, s.dirDirty
	if !s.activeDirty {
		active = nil // nothing new to sync: an fsync costs even so
	}
	s.unsynced, s.dirDirty, s.activeDirty = nil, false, false
	s.mu.Unlock()

	var errs []error
	for _, f := range files {
		errs = append(errs, f.Sync(), f.Close())
	}
	if active != nil {
		if err := active.Sync(); err != nil {
			s.mu.Lock()
			s.activeDirty = true
			s.mu.Unlock()
			errs = append(errs, err)
		}
	}
	if dirty {
		if err := syncDir(s.dir); err != nil {
			s.mu.Lock()
			s.dirDirty = true
			s.mu.Unlock()
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync spool: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close syncs and closes the spool. Calls not yet written stay on disk for
// the next Open.
func (s *Spool) Close() error {
	err := s.sync()
	if !s.isClosed() {
		err = errors.Join(err, s.saveCursor(true))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.active != nil {
		err = errors.Join(err, s.active.Close())
		s.active = nil
	}
	err = errors.Join(err, s.lock.Close())
	if err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

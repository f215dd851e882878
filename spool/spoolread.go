package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The reading side of the Spool: the Writer's alone, from one goroutine.
// It reads files without holding the Spool's lock, up to sizes taken under
// it, so Append never waits for a read.

// badRecord is a spool line that is not a call: torn by a crash, or damaged.
type badRecord struct {
	segment string
	offset  int64
	err     error
}

// span is a run of records read from the spool, ready to be acknowledged.
type span struct {
	records int
	bytes   int64
	end     position
}

// batch is what one read returns: bad records first, then calls. A batch
// never has calls before a bad record, so the bad ones can be acknowledged
// (and logged) once, before the calls' fate depends on the database.
type batch struct {
	bad   []badRecord
	skip  span // acknowledges bad
	calls []screenpop.Call
	// unseen are the unseen periods among the calls (AppendUnseen).
	unseen []screenpop.UnseenPeriod
	good   span // acknowledges calls and unseen periods
}

// peek reads up to limit records from the cursor on, without consuming them.
func (s *Spool) peek(limit int) (batch, error) {
	s.mu.Lock()
	segs := append([]segment(nil), s.segs...)
	cur := s.cursor
	sealedUpTo := len(segs) // segs[i] for i < sealedUpTo will never grow
	if s.active != nil {
		sealedUpTo--
	}
	s.mu.Unlock()

	b := batch{skip: span{end: cur}, good: span{end: cur}}
	for i, seg := range segs {
		if seg.id < cur.seg {
			continue
		}
		start := int64(0)
		if seg.id == cur.seg {
			start = min(cur.off, seg.size)
		}
		done, err := s.readSegment(&b, seg, start, i < sealedUpTo, limit)
		if err != nil || !done {
			return b, err
		}
	}
	return b, nil
}

// readSegment adds the records of seg from start on to b. It reports
// whether it reached the segment's end: false means the batch is full, or
// a bad record follows its calls.
func (s *Spool) readSegment(b *batch, seg segment, start int64, sealed bool, limit int) (bool, error) {
	if start >= seg.size {
		return true, nil
	}
	name := filepath.Base(s.segmentPath(seg.id))
	f, err := os.Open(s.segmentPath(seg.id))
	if err != nil {
		return false, fmt.Errorf("read spool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(io.NewSectionReader(f, start, seg.size-start))
	off := start
	for b.skip.records+b.good.records < limit {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("read spool %s: %w", name, err)
		}
		torn := errors.Is(err, io.EOF) // no newline: the end of a sealed segment
		if torn && !sealed {
			return false, nil // cannot happen: only whole lines count in the active segment
		}
		var rec struct {
			screenpop.Call
			spoolLine
		}
		bad := error(nil)
		if torn {
			bad = errors.New("torn line (no newline at the end of the segment)")
		} else if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			bad = err
		} else if rec.Unseen == nil && rec.ID == "" {
			bad = errors.New("record has no call_id")
		}
		if bad != nil && len(b.calls)+len(b.unseen) > 0 {
			return false, nil // next batch: after these calls are written
		}
		off += int64(len(line))
		end := position{seg: seg.id, off: off}
		if sealed && off == seg.size {
			// The segment is finished: point past it so that it is deleted.
			end = position{seg: seg.id + 1}
		}
		sp := &b.good
		if bad != nil {
			b.bad = append(b.bad, badRecord{segment: name, offset: off - int64(len(line)), err: bad})
			sp = &b.skip
		} else if rec.Unseen != nil {
			b.unseen = append(b.unseen, *rec.Unseen)
		} else {
			b.calls = append(b.calls, rec.Call)
		}
		sp.records++
		sp.bytes += int64(len(line))
		sp.end = end
		if bad != nil {
			b.good.end = end // calls, if any follow, start after the bad record
		}
	}
	return false, nil
}

// ack consumes the records of sp: the cursor moves past them, and
// segments wholly behind it are deleted once the cursor file says so,
// durably. The file is written at most every cursorEvery otherwise, and
// not fsynced: a crash then delivers the last batches again, which
// SaveCalls skips, where a write and two fsyncs per batch cost a tenth
// of the daemon's CPU at 100 calls a second.
func (s *Spool) ack(sp span) error {
	if sp.records == 0 {
		return nil
	}
	s.mu.Lock()
	s.cursor = sp.end
	s.pending -= sp.records
	s.pendingBytes -= sp.bytes
	s.acked += uint64(sp.records)
	consumes := len(s.segs) > 0 && s.segs[0].id < sp.end.seg
	s.mu.Unlock()
	if !consumes && time.Since(s.cursorWritten) < cursorEvery {
		return nil
	}
	return s.saveCursor(consumes)
}

// saveCursor writes the cursor file (durably if durable, as it must be
// before a segment behind it is deleted) and deletes the segments wholly
// behind the cursor.
func (s *Spool) saveCursor(durable bool) error {
	s.mu.Lock()
	cur := s.cursor
	s.mu.Unlock()
	if cur != s.cursorSaved || durable && !s.cursorSynced {
		if err := s.writeCursor(cur, durable); err != nil {
			return fmt.Errorf("advance spool cursor: %w", err)
		}
		s.cursorSaved, s.cursorSynced = cur, durable
	}
	s.cursorWritten = time.Now()
	if !durable {
		return nil
	}
	s.mu.Lock()
	var consumed []uint64
	for len(s.segs) > 0 && s.segs[0].id < cur.seg {
		consumed = append(consumed, s.segs[0].id)
		s.segs = s.segs[1:]
	}
	s.mu.Unlock()

	var errs []error
	for _, id := range consumed {
		if err := os.Remove(s.segmentPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove written spool segments: %w", err)
	}
	return nil
}

// writeCursor replaces the cursor file atomically: a crash leaves the old
// cursor or the new, never a mix. Durable: fsynced, with the directory.
func (s *Spool) writeCursor(p position, durable bool) error {
	tmp := filepath.Join(s.dir, cursorFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %d\n", p.seg, p.off)
	if durable {
		err = errors.Join(err, f.Sync())
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, cursorFile)); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(s.dir)
}

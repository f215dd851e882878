package screenpop

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// StateFile is where the calls in progress are kept between runs. Its
// first line is a whole state, written aside and renamed into place, so
// that a crash leaves the old file or the new one. Each save after it
// appends one line: the calls that changed since the file's last line,
// those gone, and the records being handed over. A line is one write at
// the end of the file: a crash during it leaves a last line without its
// newline, which Load ignores (that save never returned, so nothing it
// held was handed over). Once the lines appended outgrow the whole state,
// the next save writes a whole state again.
//
// At a busy call centre most calls do not change between two saves (a
// save every 50 ms, calls that last minutes): writing the whole state each
// time was most of the daemon's CPU.
type StateFile struct {
	Path string

	enc stateEncoder
	// whole is the size of the whole state this StateFile wrote last, and
	// appended that of the lines it added since; zero whole: the next save
	// writes a whole state.
	whole, appended int
	// compactAt, if set, is the least size appended lines reach before a
	// whole state is written again (minCompact otherwise; tests set it).
	compactAt int
}

// minCompact is the least size of the lines appended after a whole
// state before a whole state is written again: a small state is not
// rewritten at every save.
const minCompact = 256 << 10

// stateLine is a line appended to the state file: the state as of SavedAt
// is the one before it with Calls put in place (by call ID), Gone taken
// out, and Handed and Stopped as they say.
type stateLine struct {
	SavedAt time.Time         `json:"saved_at"`
	Seen    time.Time         `json:"seen,omitzero"`
	Calls   []json.RawMessage `json:"calls,omitempty"`
	Gone    []string          `json:"gone,omitempty"`
	Handed  []Call            `json:"handed,omitempty"`
	Stopped bool              `json:"stopped,omitempty"`
}

// Save writes s. It is not called by two goroutines at once (the
// tracker's saver calls it).
func (f *StateFile) Save(s TrackerState) error {
	if err := f.save(s); err != nil {
		// What the file holds after a failed write is not known: the
		// next save starts it again from a whole state.
		f.whole = 0
		return fmt.Errorf("save calls in progress: %w", err)
	}
	return nil
}

func (f *StateFile) save(s TrackerState) error {
	limit := f.compactAt
	if limit <= 0 {
		limit = minCompact
	}
	if f.whole == 0 || f.appended > max(f.whole, limit) {
		return f.saveWhole(s)
	}
	line, err := f.enc.line(s)
	if err != nil {
		return err
	}
	// Opened for each line, so that no file stays open between saves.
	file, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = file.Write(line)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f.enc.commit()
	f.appended += len(line)
	return nil
}

// saveWhole writes the whole state aside and renames it into place.
func (f *StateFile) saveWhole(s TrackerState) error {
	data, err := f.enc.encode(s)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp := f.Path + ".new"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.Path); err != nil {
		return err
	}
	f.enc.commit()
	f.whole, f.appended = len(data), 0
	return nil
}

// stateEncoder encodes a TrackerState as json.Marshal does, byte for byte,
// or the line that takes the file from the last state it encoded to this
// one, encoding again only the calls the tracker copied anew since
// (savedCall.copy): the tracker marks the calls that change, so that no
// call is compared, nor copied, when it did not.
type stateEncoder struct {
	// last is each call of the state the file holds, by call ID; next
	// that of the state being written, until commit.
	last, next map[string]encodedCall
	buf        []byte
}

type encodedCall struct {
	copy uint64
	json []byte
}

// call is sc's JSON, and whether it is the same as in the file.
func (e *stateEncoder) call(sc *savedCall) (data []byte, same bool, err error) {
	if ec, ok := e.last[sc.Rec.ID]; ok && sc.copy != 0 && ec.copy == sc.copy {
		e.next[sc.Rec.ID] = ec
		return ec.json, true, nil
	}
	data, err = json.Marshal(sc)
	if err != nil {
		return nil, false, err
	}
	e.next[sc.Rec.ID] = encodedCall{copy: sc.copy, json: data}
	return data, false, nil
}

// commit makes the state last encoded the one the file holds.
func (e *stateEncoder) commit() { e.last, e.next = e.next, nil }

func (e *stateEncoder) encode(s TrackerState) ([]byte, error) {
	head := struct {
		Version int       `json:"version"`
		SavedAt time.Time `json:"saved_at"`
		Seen    time.Time `json:"seen,omitzero"`
	}{s.Version, s.SavedAt, s.Seen}
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	out := append(e.buf[:0], b[:len(b)-1]...) // without its closing brace
	out = append(out, `,"calls":`...)
	e.next = make(map[string]encodedCall, len(s.Calls))
	if s.Calls == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i, sc := range s.Calls {
			data, _, err := e.call(sc)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, data...)
		}
		out = append(out, ']')
	}
	out, err = appendTail(out, s)
	if err != nil {
		return nil, err
	}
	e.buf = out
	return out, nil
}

// line is the line taking the file's state to s, with its newline: a
// stateLine, the calls' JSON put in as it is.
func (e *stateEncoder) line(s TrackerState) ([]byte, error) {
	head, err := json.Marshal(struct {
		SavedAt time.Time `json:"saved_at"`
		Seen    time.Time `json:"seen,omitzero"`
	}{s.SavedAt, s.Seen})
	if err != nil {
		return nil, err
	}
	out := append(e.buf[:0], head[:len(head)-1]...)
	e.next = make(map[string]encodedCall, len(s.Calls))
	n := 0
	for _, sc := range s.Calls {
		data, same, err := e.call(sc)
		if err != nil {
			return nil, err
		}
		if same {
			continue
		}
		if n == 0 {
			out = append(out, `,"calls":[`...)
		} else {
			out = append(out, ',')
		}
		out, n = append(out, data...), n+1
	}
	if n > 0 {
		out = append(out, ']')
	}
	var gone []string
	for id := range e.last {
		if _, ok := e.next[id]; !ok {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		data, err := json.Marshal(gone)
		if err != nil {
			return nil, err
		}
		out = append(append(out, `,"gone":`...), data...)
	}
	out, err = appendTail(out, s)
	if err != nil {
		return nil, err
	}
	e.buf = out
	return append(out, '\n'), nil
}

// appendTail ends a state or a line: its records being handed over, and
// whether it was saved at a stop.
func appendTail(out []byte, s TrackerState) ([]byte, error) {
	if len(s.Handed) > 0 {
		handed, err := json.Marshal(s.Handed)
		if err != nil {
			return nil, err
		}
		out = append(append(out, `,"handed":`...), handed...)
	}
	if s.Stopped {
		out = append(out, `,"stopped":true`...)
	}
	return append(out, '}'), nil
}

// Load reads the saved state; ok is false when there is none. A state
// that cannot be read is moved aside (to Path.bad), for whoever wants to
// see it, and reported.
func (f *StateFile) Load() (s TrackerState, ok bool, err error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err == nil {
		s, err = readState(data)
	}
	if err != nil {
		bad := f.Path + ".bad"
		if rerr := os.Rename(f.Path, bad); rerr != nil {
			return s, false, fmt.Errorf("read calls in progress from %s: %w", f.Path, errors.Join(err, rerr))
		}
		return s, false, fmt.Errorf("read calls in progress from %s (moved to %s): %w", f.Path, filepath.Base(bad), err)
	}
	return s, true, nil
}

// readState reads a state file: its whole state, then each line appended.
// A last line without its newline was cut short by a crash as it was
// written: it is not part of the state.
func readState(data []byte) (s TrackerState, err error) {
	first, rest, _ := bytes.Cut(data, []byte{'\n'})
	if err := json.Unmarshal(first, &s); err != nil {
		return s, err
	}
	if s.Version != stateVersion {
		return s, fmt.Errorf("state version %d, this daemon reads %d", s.Version, stateVersion)
	}
	calls := map[string]*savedCall{}
	for _, sc := range s.Calls {
		if sc == nil {
			return s, fmt.Errorf("a call is null")
		}
		calls[sc.Rec.ID] = sc
	}
	lines := 0
	for {
		data, more, complete := bytes.Cut(rest, []byte{'\n'})
		if !complete {
			break
		}
		rest, lines = more, lines+1
		var l stateLine
		if err := json.Unmarshal(data, &l); err != nil {
			return s, fmt.Errorf("line %d: %w", lines+1, err)
		}
		for _, raw := range l.Calls {
			var sc savedCall
			if err := json.Unmarshal(raw, &sc); err != nil {
				return s, fmt.Errorf("line %d: %w", lines+1, err)
			}
			calls[sc.Rec.ID] = &sc
		}
		for _, id := range l.Gone {
			delete(calls, id)
		}
		s.SavedAt, s.Seen, s.Handed, s.Stopped = l.SavedAt, l.Seen, l.Handed, l.Stopped
	}
	if lines > 0 {
		s.Calls = make([]*savedCall, 0, len(calls))
		for _, sc := range calls {
			s.Calls = append(s.Calls, sc)
		}
		slices.SortFunc(s.Calls, func(a, b *savedCall) int {
			return cmp.Or(a.Rec.StartedAt.Compare(b.Rec.StartedAt), strings.Compare(a.Rec.ID, b.Rec.ID))
		})
	}
	return s, nil
}

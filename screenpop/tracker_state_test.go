package screenpop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The state file appends to its last whole state only the calls that
// changed (and those gone): what Load reads back must be the state last
// saved, save after save, as calls ring, are answered, end and are
// recorded, whether the saves were appended or written whole, and across
// a restart (a new StateFile on the same file).
func TestTheStateFileReadsBackEachSaveAsSaved(t *testing.T) {
	sorted := cmpopts.SortSlices(func(a, b *savedCall) bool {
		return a.Rec.StartedAt.Before(b.Rec.StartedAt) || a.Rec.StartedAt.Equal(b.Rec.StartedAt) && a.Rec.ID < b.Rec.ID
	})
	for _, way := range []struct {
		name string
		// compactAt is the StateFile's; restart makes a new StateFile
		// for each save.
		compactAt int
		restart   bool
	}{
		{name: "each save appended to the first"},
		{name: "a whole state written every other save", compactAt: 1},
		{name: "a daemon restarted between saves", restart: true},
	} {
		t.Run(way.name, func(t *testing.T) {
			p := newPBX()
			tr, log, _ := newTestTracker()
			path := filepath.Join(t.TempDir(), "calls.json")
			f := &StateFile{Path: path, compactAt: way.compactAt}
			saves := 0
			check := func(step string, s TrackerState) {
				t.Helper()
				if way.restart {
					f = &StateFile{Path: path}
				}
				if err := f.Save(s); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				if saves++; saves == 1 || way.restart {
					// A StateFile's first save is the whole state.
					want, err := json.Marshal(s)
					if err != nil {
						t.Fatal(err)
					}
					if got, _ := os.ReadFile(path); !bytes.Equal(got, append(want, '\n')) {
						t.Fatalf("%s: the file holds\n%s\nwant the whole state\n%s", step, got, want)
					}
				}
				back, ok, err := (&StateFile{Path: path}).Load()
				if !ok || err != nil {
					t.Fatalf("%s: load: %v %v", step, ok, err)
				}
				if diff := cmp.Diff(s, back, sorted, cmpopts.IgnoreFields(savedCall{}, "copy"), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%s: the state read back differs (-saved +read):\n%s", step, diff)
				}
			}
			check("no call", tr.State())
			var trunks, phones []Channel
			for i := range 6 {
				trunk := p.trunk(fmt.Sprintf("c%d", i), "+79161234567", "74951112233")
				trunks, phones = append(trunks, trunk), append(phones, p.phone(trunk, "101"))
				feed(tr, one(created(trunk, p.at(float64(i)))), ring(trunk, phones[i], p.at(float64(i)+0.1)))
				check(fmt.Sprintf("call %d rings", i), tr.State())
			}
			for i := range 3 {
				feed(tr, one(dial(trunks[i], phones[i], "ANSWER", p.at(10+float64(i)))))
				check(fmt.Sprintf("call %d answered", i), tr.State())
			}
			check("nothing changed", tr.State())
			feed(tr, one(destroyed(phones[4], p.at(20), 16)), one(destroyed(trunks[4], p.at(20), 16)))
			check("call 4 ended, waiting out the linger", tr.State())
			tr.Advance(p.at(30))
			s := tr.State()
			s.Handed = slices.Clone(log.calls)
			check("call 4 recorded and being handed to the call log", s)
			check("call 4 handed over", tr.State())
			// The save at a stop says so: the next start tells a stop from
			// a crash by it (unseen periods).
			tr.unseen.stopping = true
			check("the daemon stops", tr.State())
			if back, _, _ := (&StateFile{Path: path}).Load(); !back.Stopped {
				t.Fatal("the state saved at the stop does not say the daemon stopped")
			}
		})
	}
}

// A crash while a save's line is written leaves it without its newline:
// the state read back is the one before, which is what the tracker
// handed over records by. A line damaged before the last is a damaged
// file, moved aside.
func TestAStateLineCutShortIsNotRead(t *testing.T) {
	p := newPBX()
	tr, _, _ := newTestTracker()
	path := filepath.Join(t.TempDir(), "calls.json")
	f := &StateFile{Path: path}
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	feed(tr, one(created(trunk, p.at(0))))
	if err := f.Save(tr.State()); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	feed(tr, ring(trunk, p.phone(trunk, "101"), p.at(1)))
	if err := f.Save(tr.State()); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	if len(full) <= len(whole) {
		t.Fatalf("the second save did not append: %d bytes, then %d", len(whole), len(full))
	}
	if err := os.WriteFile(path, full[:len(full)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	back, ok, err := (&StateFile{Path: path}).Load()
	if !ok || err != nil {
		t.Fatalf("load: %v %v", ok, err)
	}
	if len(back.Calls) != 1 || len(back.Calls[0].Offers) != 0 || !back.SavedAt.Equal(p.at(0)) {
		t.Errorf("read back %d calls saved at %v, want the first save's: the call before it rang", len(back.Calls), back.SavedAt)
	}
	damaged := append(append(slices.Clone(whole), "{not json\n"...), full[len(whole):]...)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := (&StateFile{Path: path}).Load(); ok || err == nil {
		t.Errorf("load of a file with a damaged line: ok %v err %v, want an error", ok, err)
	}
	if err := readable(path + ".bad"); err != nil {
		t.Errorf("damaged file not kept aside: %v", err)
	}
}

// A state file an earlier screenpop wrote (one whole state, no newline
// after it) is read as it was saved.
func TestAStateFileWrittenWholeByAnEarlierVersionIsRead(t *testing.T) {
	p := newPBX()
	tr, _, _ := newTestTracker()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	feed(tr, one(created(trunk, p.at(0))), ring(trunk, p.phone(trunk, "101"), p.at(1)))
	s := tr.State()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "calls.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	back, ok, err := (&StateFile{Path: path}).Load()
	if !ok || err != nil {
		t.Fatalf("load: %v %v", ok, err)
	}
	if diff := cmp.Diff(s, back, cmpopts.IgnoreFields(savedCall{}, "copy")); diff != "" {
		t.Errorf("the state read back differs (-saved +read):\n%s", diff)
	}
}

// lockedLog is a call log read while the saver writes to it.
type lockedLog struct {
	mu    sync.Mutex
	calls []Call
}

func (l *lockedLog) Record(c Call) { l.mu.Lock(); l.calls = append(l.calls, c); l.mu.Unlock() }

func (l *lockedLog) len() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.calls) }

// A record handed over while the saver is busy (here: at the tick that
// ends the call's linger, with no event after it) reaches the call log
// once the saver is free, without waiting for another event.
func TestARecordHandedWhileTheSaverIsBusyReachesTheCallLog(t *testing.T) {
	p := newPBX()
	ops, _ := ParseEndpointPatterns([]string{"PJSIP/{ext}"})
	log := &lockedLog{}
	tr := NewTracker(TrackerConfig{InboundContexts: []string{"from-trunk"}, Operators: ops, Region: "RU", StaleAfter: time.Hour,
		Linger: 300 * time.Millisecond}, log, nil)
	release, busy := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	tr.KeepState(func(s TrackerState) error {
		if len(s.Calls) == 1 && s.Calls[0].Ended {
			// The save of the call's end hangs until its record is handed.
			once.Do(func() { busy <- struct{}{}; <-release })
		}
		return nil
	}, func(err error) { t.Errorf("save: %v", err) })
	events := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx, events) }()
	defer func() { cancel(); <-done }()
	trunk := p.trunk("c1", "+79161234567", "74951112233")
	start := time.Now()
	events <- created(trunk, start)
	events <- destroyed(trunk, start.Add(10*time.Millisecond), 16)
	<-busy // the call's end is being saved
	// The ticks move the clock past the linger: the record is handed
	// over while the first save still hangs.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		snap, err := tr.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.OpenCount == 0 && len(snap.Recent) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was not recorded within a minute of its linger")
		}
	}
	close(release)
	for deadline := time.Now().Add(time.Minute); log.len() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the record never reached the call log: it waited for an event that never came")
		}
	}
}

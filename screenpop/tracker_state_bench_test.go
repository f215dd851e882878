package screenpop

import (
	"fmt"
	"path/filepath"
	"testing"
)

// benchTracker is a tracker following 200 calls, ringing or talking.
func benchTracker() *Tracker {
	p := newPBX()
	tr, _, _ := newTestTracker()
	for i := range 200 {
		trunk := p.trunk(fmt.Sprintf("c%d", i), "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(float64(i)))), ring(trunk, p.phone(trunk, "101"), p.at(float64(i)+0.1)))
		if i%2 == 0 {
			feed(tr, one(dial(trunk, p.phone(trunk, "102"), "ANSWER", p.at(float64(i)+1))))
		}
	}
	return tr
}

// BenchmarkTrackerState is what call tracking itself spends on a save
// (the copy of its calls); the saver goroutine does the rest.
func BenchmarkTrackerState(b *testing.B) {
	tr := benchTracker()
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.State()
	}
}

// BenchmarkTrackerStateSave is one whole save, as the saver goroutine
// makes when a call starts or ends, with one call of the 200 changed
// since the last (at 100 calls/s a 50 ms save sees about as many calls
// change as there are events in it): it reports the bytes written a save.
func BenchmarkTrackerStateSave(b *testing.B) {
	tr := benchTracker()
	f := StateFile{Path: filepath.Join(b.TempDir(), "calls.json")}
	var ids []string
	for id := range tr.calls {
		ids = append(ids, id)
	}
	b.ReportAllocs()
	var written, last int64
	i := 0
	for b.Loop() {
		l := tr.calls[ids[i%len(ids)]].primary
		ch := l.ch
		ch.State = []string{"Ring", "Up"}[i%2]
		tr.Handle(Event{Kind: EventChannelUpdated, At: tr.now, Channel: ch})
		i++
		if err := f.Save(tr.State()); err != nil {
			b.Fatal(err)
		}
		size, _ := readSize(f.Path)
		if size > last {
			written += size - last
		} else {
			written += size // written whole again
		}
		last = size
	}
	b.ReportMetric(float64(written)/float64(i)/1024, "KiB/save")
}

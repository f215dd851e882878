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
// makes when a call starts or ends.
func BenchmarkTrackerStateSave(b *testing.B) {
	tr := benchTracker()
	f := StateFile{Path: filepath.Join(b.TempDir(), "calls.json")}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Save(tr.State()); err != nil {
			b.Fatal(err)
		}
	}
	size, _ := readSize(f.Path)
	b.ReportMetric(float64(size)/1024, "KiB/save")
}

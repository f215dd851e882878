package screenpop

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkTrackerStateSave is one save of the calls in progress, as call
// tracking makes when a call starts or ends, with 200 calls ringing or
// talking.
func BenchmarkTrackerStateSave(b *testing.B) {
	p := newPBX()
	tr, _, _ := newTestTracker()
	for i := range 200 {
		trunk := p.trunk(fmt.Sprintf("c%d", i), "+79161234567", "74951112233")
		feed(tr, one(created(trunk, p.at(float64(i)))), ring(trunk, p.phone(trunk, "101"), p.at(float64(i)+0.1)))
		if i%2 == 0 {
			feed(tr, one(dial(trunk, p.phone(trunk, "102"), "ANSWER", p.at(float64(i)+1))))
		}
	}
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

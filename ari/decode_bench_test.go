package ari

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

// allTraceLines is every event of every recorded trace.
func allTraceLines(tb testing.TB) [][]byte {
	tb.Helper()
	traceDir := tracesDir(tb)
	paths, err := filepath.Glob(filepath.Join(traceDir, "*.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	minimal, _ := filepath.Glob(filepath.Join(traceDir, "minimal-config", "*.jsonl"))
	paths = append(paths, minimal...)
	if len(paths) == 0 {
		tb.Fatalf("no traces in %s", traceDir)
	}
	var lines [][]byte
	for _, p := range paths {
		rel, _ := filepath.Rel(traceDir, p)
		lines = append(lines, traceLines(tb, rel)...)
	}
	return lines
}

// BenchmarkDecode decodes every recorded event as the intake does ("all":
// the skipped ones too; "used": only the events call tracking reads), and
// the same the library's way (decode_library_test.go), into its event types
// with encoding/json. ns/event and allocs/event are per event.
func BenchmarkDecode(b *testing.B) {
	all := allTraceLines(b)
	dec := NewDecoder("FROM_DID")
	var used [][]byte
	for _, l := range all {
		if _, _, err := dec.Decode(l); err == nil {
			used = append(used, l)
		}
	}
	for _, way := range []struct {
		name   string
		decode func([]byte) (screenpop.Event, string, error)
	}{{"decode", dec.Decode}, {"library", dec.libraryDecode}} {
		for _, set := range []struct {
			name  string
			lines [][]byte
		}{{"all", all}, {"used", used}} {
			b.Run(way.name+"/"+set.name, func(b *testing.B) {
				var size int
				for _, l := range set.lines {
					size += len(l)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for b.Loop() {
					for _, l := range set.lines {
						way.decode(l)
					}
				}
				runtime.ReadMemStats(&after)
				events := float64(b.N * len(set.lines))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
			})
		}
	}
}

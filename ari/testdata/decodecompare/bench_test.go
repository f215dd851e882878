package decodecompare

import (
	stdjson "encoding/json"
	"path/filepath"
	"syscall"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	goccy "github.com/goccy/go-json"
	"github.com/google/go-cmp/cmp"
	"github.com/mailru/easyjson"

	"decodecompare/oldari"
	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/ari/aritrace"
	"github.com/screenpop/screenpop/screenpop"
)

// The used events are those the decoder at ac94db0 (oldari, which run.sh
// puts there) decodes without an error; each way must make the same
// screenpop.Event of each (TestAgree, TestNewAgreesWithOld). ns/event is
// wall time, which the other jobs on a shared machine inflate at random;
// cpu-ns/event is the process's CPU time (getrusage), GC included.

type usedEvent struct {
	data []byte
	typ  string
	ev   screenpop.Event
}

func used(tb testing.TB) []usedEvent {
	dir, _ := aritrace.Dir()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	m, _ := filepath.Glob(filepath.Join(dir, "minimal-config", "*.jsonl"))
	paths = append(paths, m...)
	dec := oldari.NewDecoder("FROM_DID")
	var out []usedEvent
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		lines, err := aritrace.Lines(rel)
		if err != nil {
			tb.Fatal(err)
		}
		for _, l := range lines {
			ev, typ, err := dec.Decode(l)
			if err == nil {
				// The decoder of ac94db0 did not read a Dial's dialstring.
				var d struct{ Dialstring string }
				if ev.Kind == screenpop.EventDial && stdjson.Unmarshal(l, &d) == nil {
					ev.DialString = d.Dialstring
				}
				out = append(out, usedEvent{l, typ, ev})
			}
		}
	}
	return out
}

var ways = []struct {
	name string
	un   func([]byte, *wireEvent) error
}{
	{"encoding-json", func(b []byte, w *wireEvent) error { return stdjson.Unmarshal(b, w) }},
	{"go-json-experiment", func(b []byte, w *wireEvent) error { return jsonv2.Unmarshal(b, w) }},
	{"goccy-go-json", func(b []byte, w *wireEvent) error { return goccy.Unmarshal(b, w) }},
	{"easyjson", func(b []byte, w *wireEvent) error { return easyjson.Unmarshal(b, w) }},
}

func TestAgree(t *testing.T) {
	evs := used(t)
	t.Logf("%d used events", len(evs))
	for _, w := range ways {
		for _, u := range evs {
			var we wireEvent
			if err := w.un(u.data, &we); err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			ev, err := toEvent(&we, u.typ)
			if err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			if d := cmp.Diff(u.ev, ev); d != "" {
				t.Fatalf("%s: %s %s", w.name, u.data, d)
			}
		}
	}
}

func BenchmarkUsed(b *testing.B) {
	evs := used(b)
	dec := ari.NewDecoder("FROM_DID")
	run := func(b *testing.B, f func(u usedEvent)) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			for _, u := range evs {
				f(u)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		b.ReportMetric(float64(cpuNow()-c0)/float64(b.N*len(evs)), "cpu-ns/event")
		b.ReportMetric(float64(len(evs)), "events")
	}
	old := oldari.NewDecoder("FROM_DID")
	b.Run("today-scanner", func(b *testing.B) { run(b, func(u usedEvent) { old.Decode(u.data) }) })
	b.Run("new-ari-Decode", func(b *testing.B) { run(b, func(u usedEvent) { dec.Decode(u.data) }) })
	for _, w := range ways {
		b.Run(w.name+"-pooled", func(b *testing.B) {
			run(b, func(u usedEvent) {
				we := pool.Get().(*wireEvent)
				w.un(u.data, we)
				toEvent(we, u.typ)
				we.reuse()
			})
		})
		b.Run(w.name, func(b *testing.B) {
			run(b, func(u usedEvent) {
				var we wireEvent
				w.un(u.data, &we)
				toEvent(&we, u.typ)
			})
		})
	}
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestNewAgreesWithOld(t *testing.T) {
	dec := ari.NewDecoder("FROM_DID")
	for _, u := range used(t) {
		ev, typ, err := dec.Decode(u.data)
		if err != nil || typ != u.typ {
			t.Fatal(err)
		}
		if d := cmp.Diff(u.ev, ev); d != "" {
			t.Fatal(d)
		}
	}
}

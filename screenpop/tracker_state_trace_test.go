package screenpop_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// Every recorded trace, event by event: each call an event changes is
// marked changed, so that the state saved after it is never a stale copy
// of the call (the state file reuses an unmarked call's last JSON).
func TestEveryCallARecordedEventChangesIsSavedAgain(t *testing.T) {
	dir := tracesDir(t)
	var traces []string
	for _, pattern := range []string{"*.jsonl", "*/*.jsonl"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, m...)
	}
	if len(traces) < 10 {
		t.Fatalf("found %d traces in %s, want the repository's 12", len(traces), dir)
	}
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones", "IAX2/op{ext}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range traces {
		name, _ := filepath.Rel(dir, path)
		t.Run(name, func(t *testing.T) {
			log := &callList{}
			tr := screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk", "from-trunk-iax"},
				Operators: ops, Region: "RU", DIDVariable: "FROM_DID"}, log, nil)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			events := make(chan screenpop.Event, 64)
			read := make(chan error, 1)
			go func() {
				read <- ari.ReadTrace(context.Background(), f, ari.NewDecoder("FROM_DID"), events, ari.NewMetrics(nil), slog.New(slog.DiscardHandler))
				close(events)
			}()
			n := 0
			for ev := range events {
				tr.State()
				tr.Handle(ev)
				if err := screenpop.ChangedCallsMarked(tr); err != nil {
					t.Fatalf("event %d (%s): %v", n, ev.Kind, err)
				}
				n++
			}
			if err := <-read; err != nil {
				t.Fatal(err)
			}
			tr.Close(screenpop.CloseEndOfInput)
			if n == 0 || len(log.calls) == 0 {
				t.Fatalf("%d events, %d calls: the trace was not read", n, len(log.calls))
			}
		})
	}
}

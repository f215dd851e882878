package ari

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

// FuzzDecode feeds the decoder what Asterisk could send, starting from
// every recorded event (testdata/fuzz/FuzzDecode holds a few more,
// broken on purpose). Whatever comes in, the decoder must not panic,
// and an event it accepts must be one call tracking can use.
func FuzzDecode(f *testing.F) {
	traceDir := tracesDir(f)
	traces, err := filepath.Glob(filepath.Join(traceDir, "*.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	minimal, _ := filepath.Glob(filepath.Join(traceDir, "minimal-config", "*.jsonl"))
	traces = append(traces, minimal...)
	if len(traces) == 0 {
		f.Fatalf("no traces in %s", traceDir)
	}
	for _, path := range traces {
		rel, _ := filepath.Rel(traceDir, path)
		for _, line := range traceLines(f, rel) {
			f.Add(line)
		}
	}

	dec := NewDecoder("FROM_DID")
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, typ, err := dec.Decode(data)
		if err != nil {
			if !errors.Is(err, ErrSkipped) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is none of skipped, unknown type, malformed", err)
			}
			return
		}
		if typ == "" || ev.Type != typ {
			t.Errorf("event type %q, returned type %q", ev.Type, typ)
		}
		if ev.At.IsZero() {
			t.Error("event without a time")
		}
		switch ev.Kind {
		case screenpop.EventUnknown:
		case screenpop.EventDial:
			// The caller is empty when Asterisk originated the call.
			if ev.Peer.ID == "" {
				t.Error("dial without a peer ID")
			}
		default:
			if ev.Channel.ID == "" {
				t.Errorf("%s event without a channel ID", ev.Kind)
			}
		}
	})
}

package screenpop_test

// An external test: the recorded traces are ARI JSON, which only the ari
// package reads. screenpop itself never imports ari.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/screenpop/screenpop/ari/aritrace"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

func tracesDir(t *testing.T) string {
	t.Helper()
	dir, err := aritrace.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type callList struct {
	mu    sync.Mutex
	calls []screenpop.Call
}

func (l *callList) Record(c screenpop.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// replay runs a trace through the ARI intake and a running tracker, as
// the replay command does, and returns the call records.
func replay(t *testing.T, name string) []screenpop.Call {
	t.Helper()
	ops, err := screenpop.ParseEndpointPatterns([]string{"Local/{ext}@phones", "IAX2/op{ext}"})
	if err != nil {
		t.Fatal(err)
	}
	log := &callList{}
	tr := screenpop.NewTracker(screenpop.TrackerConfig{InboundContexts: []string{"from-trunk", "from-trunk-iax"},
		Operators: ops, Region: "RU", DIDVariable: "FROM_DID"}, log, nil)
	events := make(chan screenpop.Event, 4096)
	done := make(chan error, 1)
	go func() { done <- tr.Run(context.Background(), events) }()
	f, err := os.Open(filepath.Join(tracesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = ari.ReadTrace(context.Background(), f, ari.NewDecoder("FROM_DID"), events, ari.NewMetrics(nil), slog.New(slog.DiscardHandler))
	close(events)
	if rerr := <-done; err != nil || rerr != nil {
		t.Fatalf("replay %s: %v, %v", name, err, rerr)
	}
	return log.calls
}

func TestClassificationOfTheRecordedCalls(t *testing.T) {
	tests := []struct {
		trace string
		want  []string
	}{
		{"answered.jsonl", []string{
			"inbound: channel Local/74951112233@from-trunk-0000003c;1 was created in inbound context from-trunk",
			"caller +79161234567 from the caller ID of channel Local/74951112233@from-trunk-0000003c;1",
			"DID 74951112233 from channel variable FROM_DID",
			"operator 101: channel Local/101@phones-0000003d;1 matched endpoint pattern Local/{ext}@phones; rang 2.0 s, answered",
			"answered: 101 answered after ringing 2.0 s",
		}},
		{"missed.jsonl", []string{
			"inbound: channel Local/74951112233@from-trunk-0000003e;1 was created in inbound context from-trunk",
			"caller 89161234567 (+79161234567) from the caller ID of channel Local/74951112233@from-trunk-0000003e;1",
			"DID 74951112233 from channel variable FROM_DID",
			"operator 101: channel Local/101@phones-0000003f;1 matched endpoint pattern Local/{ext}@phones; rang 5.0 s, not answered (NOANSWER)",
			"missed: phones rang 5.0 s and Dial ended NOANSWER before the caller hung up",
		}},
		{"abandoned.jsonl", []string{
			"inbound: channel Local/74957778899@from-trunk-00000040;1 was created in inbound context from-trunk",
			"caller +79035550101 from the caller ID of channel Local/74957778899@from-trunk-00000040;1",
			"DID 74957778899 from channel variable FROM_DID",
			"operator 102: channel Local/102@phones-00000041;1 matched endpoint pattern Local/{ext}@phones; rang 2.5 s until the caller hung up (CANCEL)",
			"abandoned: the caller hung up while 102 rang, after waiting 2.5 s (hangup request made inside Asterisk on channel Local/74957778899@from-trunk-00000040;1, cause 32)",
		}},
		{"busy.jsonl", []string{
			"inbound: channel Local/74951112233@from-trunk-00000042;1 was created in inbound context from-trunk",
			"caller +79161234567 from the caller ID of channel Local/74951112233@from-trunk-00000042;1",
			"DID 74951112233 from channel variable FROM_DID",
			"operator 101: channel Local/101@phones-00000043;1 matched endpoint pattern Local/{ext}@phones; busy (BUSY)",
			"busy: every operator's phone dialled was busy (101 BUSY) and none rang",
		}},
		{"anonymous.jsonl", []string{
			"inbound: channel Local/74951112233@from-trunk-00000044;1 was created in inbound context from-trunk",
			`caller withheld: caller ID "anonymous" on channel Local/74951112233@from-trunk-00000044;1`,
			"DID 74951112233 from channel variable FROM_DID",
			"operator 101: channel Local/101@phones-00000045;1 matched endpoint pattern Local/{ext}@phones; rang 1.0 s, answered",
			"answered: 101 answered after ringing 1.0 s",
		}},
		{"queue.jsonl", []string{
			"inbound: channel Local/74953334455@from-trunk-00000046;1 was created in inbound context from-trunk",
			"caller +79161234567 from the caller ID of channel Local/74953334455@from-trunk-00000046;1",
			"DID 74953334455 from channel variable FROM_DID",
			"operator 101: channel Local/101@phones-00000047;1 matched endpoint pattern Local/{ext}@phones; rang 3.0 s until another operator answered",
			"operator 102: channel Local/102@phones-00000048;1 matched endpoint pattern Local/{ext}@phones; rang 3.0 s, answered",
			"answered: 102 answered after ringing 3.0 s",
		}},
		{"iax-answered.jsonl", []string{
			"inbound: channel IAX2/carrier-2487 was created in inbound context from-trunk-iax",
			"caller +79161234567 from the caller ID of channel IAX2/carrier-2487",
			"DID 74951112231 from channel variable FROM_DID",
			"operator 101: channel IAX2/op101-322 matched endpoint pattern IAX2/op{ext}; rang 2.0 s, answered",
			"answered: 101 answered after ringing 2.0 s",
		}},
		{"minimal-config/missed.jsonl", []string{
			"inbound: channel Local/74951112233@from-trunk-00000002;1 was created in inbound context from-trunk",
			"caller 89161234567 (+79161234567) from the caller ID of channel Local/74951112233@from-trunk-00000002;1",
			"DID 74951112233 from the dialplan extension of channel Local/74951112233@from-trunk-00000002;1 in inbound context from-trunk (channel variable FROM_DID was not set, or is not in ari.conf channelvars)",
			"operator 101: channel Local/101@phones-00000003;1 matched endpoint pattern Local/{ext}@phones; rang 5.0 s, not answered (NOANSWER)",
			"missed: phones rang 5.0 s and Dial ended NOANSWER before the caller hung up",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.trace+" says which rule decided each field", func(t *testing.T) {
			calls := replay(t, tt.trace)
			if len(calls) != 1 {
				t.Fatalf("got %d calls, want 1", len(calls))
			}
			if d := cmp.Diff(tt.want, calls[0].Classification); d != "" {
				t.Errorf("classification (-want +got):\n%s", d)
			}
		})
	}
	t.Run("each of the burst's 19 calls names its own operator's channel and DID", func(t *testing.T) {
		calls := replay(t, "burst.jsonl")
		if len(calls) != 19 {
			t.Fatalf("got %d calls, want 19", len(calls))
		}
		for _, c := range calls {
			if len(c.Classification) != 5 || c.Classification[2] != "DID "+c.DID+" from channel variable FROM_DID" ||
				c.Classification[4] != fmt.Sprintf("answered: %s answered after ringing %.1f s", *c.AnsweredBy, c.RingSeconds) {
				t.Errorf("call %s (DID %s, answered by %s): %q", c.ID, c.DID, *c.AnsweredBy, c.Classification)
			}
		}
	})
}

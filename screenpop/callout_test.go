package screenpop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeOriginator records originates and answers with err.
type fakeOriginator struct {
	mu   sync.Mutex
	reqs []OriginateRequest
	err  error
}

func (f *fakeOriginator) Originate(_ context.Context, req OriginateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	return f.err
}

func newTestCallouts(pbx Originator) (*Callouts, *Hub) {
	hub := NewHub(0, 0)
	return NewCallouts(pbx, CalloutConfig{Endpoint: "PJSIP/{ext}", Context: "from-internal", Region: "RU"}, hub, slog.New(slog.DiscardHandler)), hub
}

var anna = Operator{ID: 1, Name: "Анна Смирнова", Extension: "101"}

func TestCalloutRingsTheOperatorsOwnPhoneThenTheClientsNumber(t *testing.T) {
	pbx := &fakeOriginator{}
	d, _ := newTestCallouts(pbx)
	got, err := d.Place(context.Background(), anna, "8 (916) 123-45-67")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if got.Number != "+79161234567" || got.Endpoint != "PJSIP/101" || !strings.HasPrefix(got.ChannelID, "screenpop-dial-") {
		t.Errorf("Dial returned %+v", got)
	}
	want := []OriginateRequest{{ChannelID: got.ChannelID, Endpoint: "PJSIP/101", Extension: "+79161234567", Context: "from-internal",
		Priority: 1, CallerID: `"+79161234567" <101>`, Timeout: 30 * time.Second}}
	if diff := cmp.Diff(want, pbx.reqs); diff != "" {
		t.Errorf("originate (-want +got):\n%s", diff)
	}
}

func TestCalloutRefusesWhatIsNotAPhoneNumberWithoutCallingThePBX(t *testing.T) {
	for _, number := range []string{"", "  ", "102", "abc", "anonymous", "+7 916"} {
		t.Run(fmt.Sprintf("%q is refused", number), func(t *testing.T) {
			pbx := &fakeOriginator{}
			d, _ := newTestCallouts(pbx)
			_, err := d.Place(context.Background(), anna, number)
			if !errors.Is(err, ErrInvalidNumber) {
				t.Errorf("Dial(%q): got %v, want ErrInvalidNumber", number, err)
			}
			if len(pbx.reqs) != 0 {
				t.Errorf("the PBX was asked to dial %q", number)
			}
		})
	}
}

func TestCalloutReportsAsteriskRefusingTheCall(t *testing.T) {
	pbx := &fakeOriginator{err: errors.New("ARI answered POST /channels with 400 Bad Request: Endpoint not found")}
	d, _ := newTestCallouts(pbx)
	_, err := d.Place(context.Background(), anna, "+79161234567")
	if err == nil || !strings.Contains(err.Error(), "Endpoint not found") || errors.Is(err, ErrInvalidNumber) {
		t.Errorf("Dial: got %v, want Asterisk's reason", err)
	}
	if len(d.pending) != 0 {
		t.Errorf("a refused dial is still awaited: %v", d.pending)
	}
}

func TestCalloutFailureReachesTheOperatorsPage(t *testing.T) {
	pbx := &fakeOriginator{}
	d, hub := newTestCallouts(pbx)
	sub := hub.Subscribe("101", 0)
	defer sub.Close()
	other := hub.Subscribe("102", 0)
	defer other.Close()
	<-sub.C
	<-other.C // the snapshots

	dl, err := d.Place(context.Background(), anna, "89161234567")
	if err != nil {
		t.Fatal(err)
	}
	// The tracker's notices come from its own goroutine.
	var wg sync.WaitGroup
	wg.Go(func() {
		d.Notice(Notice{Kind: NoticeCalloutFailed, ChannelID: "someone-elses-originate", Operator: "101", DialStatus: "BUSY"})
		d.Notice(Notice{Kind: NoticeCalloutFailed, ChannelID: dl.ChannelID, Operator: "101", Cause: 20, CauseText: "Subscriber absent"})
		d.Notice(Notice{Kind: NoticeCalloutFailed, ChannelID: dl.ChannelID, Operator: "101", DialStatus: "CHANUNAVAIL"})
	})
	wg.Wait()
	select {
	case m := <-sub.C:
		want := &CalloutFailure{ChannelID: dl.ChannelID, Number: "+79161234567", Code: "offline",
			Reason: "your phone is not connected (offline or not registered) (cause 20, Subscriber absent)"}
		if m.Type != MsgCalloutFailed || m.Seq != 1 || m.Call != nil {
			t.Errorf("message %s seq %d, want dial.failed seq 1", m.Type, m.Seq)
		}
		if diff := cmp.Diff(want, m.Callout); diff != "" {
			t.Errorf("dial failure (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the operator's page heard nothing")
	}
	select {
	case m := <-sub.C:
		t.Errorf("a second message %s %+v: a failure is told once, and others' originates not at all", m.Type, m.Callout)
	case m := <-other.C:
		t.Errorf("another operator was told %s", m.Type)
	default:
	}
}

func TestCalloutFailureWords(t *testing.T) {
	tests := []struct {
		n    Notice
		code string
	}{
		{Notice{DialStatus: "BUSY"}, "busy"},
		{Notice{DialStatus: "NOANSWER"}, "no_answer"},
		{Notice{DialStatus: "CHANUNAVAIL"}, "offline"},
		{Notice{DialStatus: "CONGESTION"}, "unreachable"},
		{Notice{Cause: 17}, "busy"},
		{Notice{Cause: 19}, "no_answer"},
		{Notice{Cause: 20}, "offline"},
		{Notice{Cause: 21}, "rejected"},
		{Notice{Cause: 38}, "unreachable"},
	}
	for _, tt := range tests {
		if got := calloutFailure(tt.n); got.Code != tt.code || got.Reason == "" {
			t.Errorf("status %q cause %d: got %+v, want code %s with a reason", tt.n.DialStatus, tt.n.Cause, got, tt.code)
		}
	}
}

package screenpop

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakePBX records what the daemon asks of Asterisk, and when.
type fakePBX struct {
	mu        sync.Mutex
	vars      []string // "channel name=value"
	continued map[string]time.Time
}

func (p *fakePBX) SetVariable(ctx context.Context, id, name, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vars = append(p.vars, id+" "+name+"="+value)
	return nil
}

func (p *fakePBX) Continue(ctx context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.continued == nil {
		p.continued = map[string]time.Time{}
	}
	p.continued[id] = time.Now()
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stasisCall runs a call into Stasis through a popper backed by dir, and
// returns how long until it was continued.
func stasisCall(t *testing.T, dir Directory, deadline time.Duration) (*fakePBX, time.Duration) {
	t.Helper()
	pbx := &fakePBX{}
	p := NewPopper(dir, DefaultCardRules, NewHub(0, 0), quiet())
	s := NewStasis(pbx, p, deadline, quiet())
	caller := ParseNumber("+79161234567", "RU")
	start := time.Now()
	obs := Observers{p, s}
	obs.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller})
	obs.Notice(Notice{Kind: NoticeStasis, CallID: "c1", ChannelID: "c1-2", Caller: caller})
	s.Wait()
	took := pbx.continued["c1-2"].Sub(start)
	if pbx.continued == nil {
		t.Fatal("the channel was never continued")
	}
	return pbx, took
}

func TestStasisNamesTheCallerForTheDialplanAndContinuesWithinTheDeadline(t *testing.T) {
	ivan := ClientRecord{Client: Client{ID: 42, LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович",
		Manager: &Employee{Name: "Сергей Кузнецов", Extension: "205"}}}
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1), recs: map[string][]ClientRecord{"+79161234567": {ivan}}}
	close(dir.release)
	pbx, took := stasisCall(t, dir, 300*time.Millisecond)
	want := []string{"c1-2 CALLERID(name)=Петров Иван", "c1-2 SCREENPOP_CLIENT_ID=42", "c1-2 SCREENPOP_MANAGER=205"}
	// They go out together, in no particular order.
	if slices.Sort(pbx.vars); !slices.Equal(pbx.vars, want) {
		t.Errorf("variables set %q, want %q", pbx.vars, want)
	}
	if took > 300*time.Millisecond {
		t.Errorf("continued after %v, deadline 300ms", took)
	}
}

func TestStasisTellsHowLongEachStageTook(t *testing.T) {
	ivan := ClientRecord{Client: Client{ID: 42, LastName: "Петров", FirstName: "Иван"}}
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1), recs: map[string][]ClientRecord{"+79161234567": {ivan}}}
	pbx := &fakePBX{}
	p := NewPopper(dir, DefaultCardRules, NewHub(0, 0), quiet())
	s := NewStasis(pbx, p, time.Second, quiet())
	var mu sync.Mutex
	var stages []string
	took := map[string]time.Duration{}
	s.Took = func(stage string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		stages = append(stages, stage)
		took[stage] = d
	}
	caller := ParseNumber("+79161234567", "RU")
	obs := Observers{p, s}
	obs.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller})
	obs.Notice(Notice{Kind: NoticeStasis, CallID: "c1", ChannelID: "c1-2", Caller: caller})
	<-dir.asked
	const held = 20 * time.Millisecond
	time.Sleep(held) // the lookup's length, which the lookup stage must show
	close(dir.release)
	s.Wait()
	want := []string{StasisLookup, StasisVariables, StasisContinue, StasisHandled}
	if !slices.Equal(stages, want) {
		t.Fatalf("stages told %q, want %q", stages, want)
	}
	if took[StasisLookup] < held {
		t.Errorf("the lookup stage took %v; the client base answered after %v", took[StasisLookup], held)
	}
	if sum := took[StasisLookup] + took[StasisVariables] + took[StasisContinue]; took[StasisHandled] < sum {
		t.Errorf("handled %v is less than its stages' sum %v", took[StasisHandled], sum)
	}
}

func TestStasisContinuesOnTimeWhenTheClientBaseHangs(t *testing.T) {
	// A directory that never answers: a database that hangs.
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1)}
	defer close(dir.release)
	pbx, took := stasisCall(t, dir, 200*time.Millisecond)
	if took > 200*time.Millisecond {
		t.Errorf("continued after %v, deadline 200ms", took)
	}
	if len(pbx.vars) != 0 {
		t.Errorf("set %v without knowing the caller", pbx.vars)
	}
}

func TestStasisJustContinuesAnUnknownCaller(t *testing.T) {
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1)}
	close(dir.release)
	pbx, took := stasisCall(t, dir, 300*time.Millisecond)
	if len(pbx.vars) != 0 || took > 300*time.Millisecond {
		t.Errorf("unknown caller: set %v, continued after %v", pbx.vars, took)
	}
}

func TestStasisLeavesTheCarriersNameOnAnUnnamedLead(t *testing.T) {
	lead := ClientRecord{Client: Client{ID: 7, Lead: true}}
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1), recs: map[string][]ClientRecord{"+79161234567": {lead}}}
	close(dir.release)
	pbx, _ := stasisCall(t, dir, 300*time.Millisecond)
	if want := []string{"c1-2 SCREENPOP_CLIENT_ID=7"}; !slices.Equal(pbx.vars, want) {
		t.Errorf("variables set %q, want %q", pbx.vars, want)
	}
}

func TestShutdownEndsLookupsAndContinuesTheCallsWaitingInStasis(t *testing.T) {
	// A database that hangs, and a lookup and a Stasis deadline far longer
	// than any shutdown bound: only the base context ends them.
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1)}
	defer close(dir.release)
	base, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	pbx := &fakePBX{}
	p := NewPopper(dir, DefaultCardRules, NewHub(0, 0), quiet())
	p.timeout, p.Base = time.Hour, base
	s := NewStasis(pbx, p, time.Hour, quiet())
	s.Base = base
	caller := ParseNumber("+79161234567", "RU")
	obs := Observers{p, s}
	obs.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller})
	obs.Notice(Notice{Kind: NoticeStasis, CallID: "c1", ChannelID: "c1-2", Caller: caller})
	<-dir.asked

	shutdown()
	stopped := make(chan struct{})
	go func() { s.Wait(); p.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Minute):
		t.Fatal("the lookup and the call in Stasis outlived the shutdown")
	}
	if _, ok := pbx.continued["c1-2"]; !ok || len(pbx.vars) != 0 {
		t.Errorf("continued %v, variables %v; want the waiting call continued, unnamed", pbx.continued, pbx.vars)
	}
}

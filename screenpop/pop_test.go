package screenpop

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

var today = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func days(n int) *time.Time {
	t := today.AddDate(0, 0, n)
	return &t
}

func TestClientCardSegmentsAndAlerts(t *testing.T) {
	low := 4.0
	tests := []struct {
		name        string
		rec         ClientRecord
		wantSegment Segment
		wantAlerts  []string
	}{
		{"a client who never came is potential", ClientRecord{}, SegmentPotential, nil},
		{"a client an export counts five visits of, with no date, is real",
			ClientRecord{Visits: 5}, SegmentReal, nil},
		{"a client with a recent visit is real",
			ClientRecord{Visits: 1, VisitsLastYear: 1, LastVisit: &Visit{Date: *days(-40)}}, SegmentReal, nil},
		{"a client with three visits this year is regular",
			ClientRecord{Visits: 9, VisitsLastYear: 3, LastVisit: &Visit{Date: *days(-10)}}, SegmentRegular, nil},
		{"a client not seen for over a year is lost, and flagged",
			ClientRecord{Visits: 4, LastVisit: &Visit{Date: *days(-400)}}, SegmentLost, []string{AlertLostClient}},
		{"warranty and insurance ending within 30 days, and a service overdue, are flagged per car",
			ClientRecord{Client: Client{Cars: []Car{
				{Plate: "А123ВС77", WarrantyEnd: days(20), InsuranceEnd: days(45), NextServiceDue: days(-3)},
				{Plate: "В456ОР99", InsuranceEnd: days(5), WarrantyEnd: days(-5)},
			}}}, SegmentPotential, []string{AlertWarrantyEnding, AlertServiceDue, AlertInsuranceEnding}},
		{"an open complaint, a high conflict level and low satisfaction are flagged",
			ClientRecord{Client: Client{ConflictLevel: 3, CSI: &low}, OpenComplaints: 1}, SegmentPotential,
			[]string{AlertOpenComplaint, AlertConflict, AlertLowSatisfaction}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultCardRules.NewClientCard(tt.rec, today)
			if c.Segment != tt.wantSegment {
				t.Errorf("segment %s, want %s", c.Segment, tt.wantSegment)
			}
			var kinds []string
			for _, a := range c.Alerts {
				kinds = append(kinds, a.Kind)
			}
			if !slices.Equal(kinds, tt.wantAlerts) {
				t.Errorf("alerts %v, want %v", kinds, tt.wantAlerts)
			}
		})
	}
}

func TestGreetingUsesFirstNameAndPatronymic(t *testing.T) {
	c := Client{LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович"}
	if c.Greeting() != "Иван Петрович" || c.FullName() != "Петров Иван Петрович" {
		t.Errorf("greeting %q, full name %q", c.Greeting(), c.FullName())
	}
	if (Client{FirstName: "John", LastName: "Smith"}).Greeting() != "John" {
		t.Error("a client without patronymic is greeted by first name")
	}
}

// slowDirectory answers after release is closed, or fails.
type slowDirectory struct {
	release chan struct{}
	recs    map[string][]ClientRecord
	err     error
	asked   chan string
}

func (d *slowDirectory) LookupPhone(ctx context.Context, e164 string) ([]ClientRecord, error) {
	d.asked <- e164
	select {
	case <-d.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return d.recs[e164], d.err
}

func newPopperTest(dir Directory) (*Popper, *Hub) {
	hub := NewHub(0, 0)
	p := NewPopper(dir, DefaultCardRules, hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.now = func() time.Time { return today }
	return p, hub
}

func TestPopGoesOutAtTheRingWithoutWaitingForTheLookup(t *testing.T) {
	ivan := ClientRecord{Client: Client{ID: 7, LastName: "Петров", FirstName: "Иван", Patronymic: "Петрович"}}
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1),
		recs: map[string][]ClientRecord{"+79161234567": {ivan}}}
	p, hub := newPopperTest(dir)
	sub := hub.Subscribe("101", 0)
	next(t, sub)
	caller := ParseNumber("89161234567", "RU")
	p.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller, DID: "74951112233", At: today})
	if got := <-dir.asked; got != "+79161234567" {
		t.Fatalf("looked up %q, want the E.164 form", got)
	}
	// The phone rings while the directory is still thinking.
	p.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "101", Caller: caller})
	pop := next(t, sub)
	if pop.Type != MsgOffered || pop.Call.Card.Lookup != LookupPending || pop.Call.DID != "74951112233" {
		t.Fatalf("pop %s card %s, want call.offered while the lookup is pending", pop.Type, pop.Call.Card.Lookup)
	}
	close(dir.release)
	upd := next(t, sub)
	if upd.Type != MsgCard || upd.Call.Card.Lookup != LookupFound || upd.Call.Card.Clients[0].Greeting != "Иван Петрович" {
		t.Fatalf("update %s %+v, want the card with Иван Петрович", upd.Type, upd.Call.Card)
	}
	p.Wait()
}

func TestPopWithADirectoryThatFailsSaysSoOnTime(t *testing.T) {
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1), err: errors.New("connection refused")}
	close(dir.release)
	p, hub := newPopperTest(dir)
	sub := hub.Subscribe("101", 0)
	next(t, sub)
	caller := ParseNumber("+79161234567", "RU")
	p.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller})
	p.Wait()
	p.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "101", Caller: caller})
	if m := next(t, sub); m.Call.Card.Lookup != LookupFailed {
		t.Errorf("card %s, want failed", m.Call.Card.Lookup)
	}
}

func TestPopForAWithheldNumberLooksNothingUp(t *testing.T) {
	dir := &slowDirectory{release: make(chan struct{}), asked: make(chan string, 1)}
	p, hub := newPopperTest(dir)
	sub := hub.Subscribe("101", 0)
	next(t, sub)
	caller := ParseNumber("anonymous", "RU")
	p.Notice(Notice{Kind: NoticeStarted, CallID: "c1", Caller: caller})
	p.Notice(Notice{Kind: NoticeRinging, CallID: "c1", Operator: "101", Caller: caller})
	if m := next(t, sub); m.Call.Card.Lookup != LookupWithheld {
		t.Errorf("card %s, want withheld", m.Call.Card.Lookup)
	}
	select {
	case n := <-dir.asked:
		t.Errorf("looked up %q for a withheld number", n)
	default:
	}
}

func TestPopFollowsTheCallToItsEnd(t *testing.T) {
	p, hub := newPopperTest(nil)
	a, b := hub.Subscribe("101", 0), hub.Subscribe("102", 0)
	next(t, a)
	next(t, b)
	caller := ParseNumber("+79161234567", "RU")
	for _, n := range []Notice{
		{Kind: NoticeStarted, CallID: "q", Caller: caller},
		{Kind: NoticeRinging, CallID: "q", Operator: "101"},
		{Kind: NoticeRinging, CallID: "q", Operator: "102"},
		{Kind: NoticeAnswered, CallID: "q", Operator: "102"},
		{Kind: NoticeOfferEnded, CallID: "q", Operator: "101", Outcome: OutcomeAnsweredElsewhere},
		{Kind: NoticeEnded, CallID: "q", Call: &Call{Status: StatusAnswered}},
	} {
		p.Notice(n)
	}
	var gotA, gotB []string
	for range 3 {
		m := next(t, a)
		gotA = append(gotA, m.Type+"/"+m.Call.State)
		m = next(t, b)
		gotB = append(gotB, m.Type+"/"+m.Call.State)
	}
	wantA := []string{"call.offered/ringing", "call.answered/taken", "call.ended/ended"}
	wantB := []string{"call.offered/ringing", "call.answered/active", "call.ended/ended"}
	if !slices.Equal(gotA, wantA) || !slices.Equal(gotB, wantB) {
		t.Errorf("101 saw %v, want %v; 102 saw %v, want %v", gotA, wantA, gotB, wantB)
	}
	if len(p.calls) != 0 {
		t.Errorf("popper keeps %d ended calls", len(p.calls))
	}
}

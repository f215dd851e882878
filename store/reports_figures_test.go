package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// figureCalls are 17 and 18 March 2025 in Moscow, with the two days before
// them, counted by hand for what a marketing head asks of the reports:
// purposes by source, distinct callers, callbacks, service level, the
// previous period, and operators' answer rate per call in a ring-all queue.
func figureCalls() ([]screenpop.Call, []screenpop.Note) {
	const a, el, n, nc = screenpop.OutcomeAnswered, screenpop.OutcomeAnsweredElsewhere, screenpop.OutcomeNoAnswer, screenpop.OutcomeCancelled
	num := func(i int) string { return "+7916100000" + string(rune('0'+i)) }
	f1, f2, f3 := moscow(17, 10, 0, 0), moscow(17, 10, 10, 0), moscow(17, 11, 0, 0)
	f4, f5 := moscow(17, 12, 0, 0), moscow(17, 13, 0, 0)
	f6, f7, f8, f9 := moscow(18, 9, 0, 0), moscow(18, 9, 30, 0), moscow(18, 10, 30, 0), moscow(18, 15, 0, 0)
	p1, p2 := moscow(15, 10, 0, 0), moscow(16, 10, 0, 0)
	out := func(id, op, number string, at time.Time) screenpop.Call {
		return screenpop.Call{ID: id, Direction: screenpop.Outbound, Caller: number, CallerE164: ptr(number),
			Status: screenpop.StatusAnswered, AnsweredBy: ptr(op), TalkedTo: []string{op}, WaitSeconds: 5,
			StartedAt: at.UTC(), AnsweredAt: reportTime(at.Add(5 * time.Second).UTC()), EndedAt: at.Add(time.Minute).UTC()}
	}
	calls := []screenpop.Call{
		// A ring-all queue: both phones ring, one answers.
		reportCall("f1", num(1), lineYandex, f1, screenpop.StatusAnswered, screenpop.KindNew, 5, "101",
			reportOffer(f1, "101", a, 0, 0.5, 5, 65), reportOffer(f1, "102", el, 0, 0.5, -1, 5)),
		reportCall("f2", num(2), lineYandex, f2, screenpop.StatusAnswered, screenpop.KindClient, 25, "102",
			reportOffer(f2, "101", el, 0, 0.5, -1, 25), reportOffer(f2, "102", a, 0, 0.5, 25, 85)),
		// Rings out on both; 101 calls back half an hour later.
		reportCall("f3", num(3), lineYandex, f3, screenpop.StatusMissed, screenpop.KindNew, 40, "",
			reportOffer(f3, "101", n, 0, 0.5, -1, 40), reportOffer(f3, "102", n, 0, 0.5, -1, 40)),
		// Gives up while 101 rings; called back the next morning (22 h).
		reportCall("f4", num(4), lineAvito, f4, screenpop.StatusAbandoned, screenpop.KindNew, 15, "",
			reportOffer(f4, "101", nc, 0, 0.5, -1, 15)),
		// f1's caller again, answered in exactly 20 s: within the level.
		reportCall("f5", num(1), lineYandex, f5, screenpop.StatusAnswered, screenpop.KindLead, 20, "102",
			reportOffer(f5, "102", a, 0, 0.5, 20, 80)),
		// Never called back (the call out to the number was before it).
		reportCall("f6", num(5), lineAvito, f6, screenpop.StatusMissed, screenpop.KindNew, 30, "",
			reportOffer(f6, "101", n, 0, 0.5, -1, 30)),
		// Withheld: nobody to call back, no number to count.
		reportCall("f7", "", lineUnmapped, f7, screenpop.StatusAbandoned, screenpop.KindWithheld, 8, "",
			reportOffer(f7, "102", nc, 0, 0.5, -1, 8)),
		reportCall("f8", num(4), lineAvito, f8, screenpop.StatusAnswered, screenpop.KindLead, 3, "101",
			reportOffer(f8, "101", a, 0, 0.5, 3, 63)),
		// Called back two days later, after the report's days.
		reportCall("f9", num(6), lineAvito, f9, screenpop.StatusMissed, screenpop.KindNew, 20, "",
			reportOffer(f9, "102", n, 0, 0.5, -1, 20)),
		out("o0", "102", num(5), moscow(17, 9, 0, 0)),
		out("o1", "101", num(3), f3.Add(30*time.Minute)),
		out("o2", "102", num(4), f4.Add(22*time.Hour)),
		out("o3", "101", num(6), f9.Add(48*time.Hour)),
		// The two days before.
		reportCall("p1", "+79161000021", lineYandex, p1, screenpop.StatusAnswered, screenpop.KindNew, 10, "101",
			reportOffer(p1, "101", a, 0, 0.5, 10, 70)),
		reportCall("p2", "+79161000022", lineAvito, p2, screenpop.StatusMissed, screenpop.KindNew, 30, "",
			reportOffer(p2, "102", n, 0, 0.5, -1, 30)),
	}
	note := func(call, purpose string) screenpop.Note {
		return screenpop.Note{CallID: call, Purpose: purpose, Text: "—", Operator: screenpop.Operator{Name: "Анна Смирнова", Extension: "101"},
			At: moscow(18, 20, 0, 0)}
	}
	notes := []screenpop.Note{note("f1", "service_booking"), note("f2", "sales"), note("f5", "service_booking"),
		note("f8", "sales"), note("p1", "sales"), note("o1", "service_booking")}
	return calls, notes
}

// openFigures opens a store holding openReports' and figureCalls' calls
// and notes.
func openFigures(t *testing.T, b backend) reportStore {
	t.Helper()
	s := openReports(t, b)
	calls, notes := figureCalls()
	if err := s.SaveCalls(t.Context(), calls); err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if _, err := s.SaveNote(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSummaryFigures(t *testing.T) {
	level := func(within, calls int, rate float64) report.ServiceLevel {
		return report.ServiceLevel{ThresholdSeconds: 20, Calls: calls, Within: within, Rate: rate}
	}
	// Days: 17 March f1-f5, 18 March f6-f9.
	wantDays := []report.Day{
		{Date: "2025-03-17", Counts: report.Counts{Total: 5, Answered: 3, Missed: 1, Abandoned: 1, Lost: 2, LostRate: 0.4, NewCallers: 3},
			Wait: report.Wait{Answered: 3, AvgSeconds: 16.7, P90Seconds: 25}, ServiceLevel: level(2, 5, 0.4)},
		{Date: "2025-03-18", Counts: report.Counts{Total: 4, Answered: 1, Missed: 2, Abandoned: 1, Lost: 3, LostRate: 0.75, NewCallers: 2},
			Wait: report.Wait{Answered: 1, AvgSeconds: 3, P90Seconds: 3}, ServiceLevel: level(1, 4, 0.25)},
	}
	wantSources := []report.SourceSummary{
		// f4, f6, f8, f9: ties with Яндекс on calls, first by name.
		{Source: "Авито", Counts: report.Counts{Total: 4, Answered: 1, Missed: 2, Abandoned: 1, Lost: 3, LostRate: 0.75, NewCallers: 3},
			Wait: report.Wait{Answered: 1, AvgSeconds: 3, P90Seconds: 3}, ServiceLevel: level(1, 4, 0.25),
			Callers: report.Callers{Distinct: 3, New: 3},
			// f4 after 22 h, f9 after 48 h, f6 never.
			Callbacks: report.Callbacks{Missed: 3, CalledBack: 2, MedianSeconds: 35 * 3600, Within1d: 1, Never: 1,
				Within1dShare: 1.0 / 3, NeverShare: 1.0 / 3},
			Purposes: []report.PurposeCount{{Purpose: "sales", Calls: 1, Share: 0.25}},
			Days: []report.Counts{
				{Total: 1, Abandoned: 1, Lost: 1, LostRate: 1, NewCallers: 1},
				{Total: 3, Answered: 1, Missed: 2, Lost: 2, LostRate: 2.0 / 3, NewCallers: 2},
			}},
		// f1, f2, f3, f5: two numbers new (f1's and f3's), three in all.
		{Source: "Яндекс.Директ", Counts: report.Counts{Total: 4, Answered: 3, Missed: 1, Lost: 1, LostRate: 0.25, NewCallers: 2},
			Wait: report.Wait{Answered: 3, AvgSeconds: 16.7, P90Seconds: 25}, ServiceLevel: level(2, 4, 0.5),
			Callers:   report.Callers{Distinct: 3, New: 2},
			Callbacks: report.Callbacks{Missed: 1, CalledBack: 1, MedianSeconds: 1800, Within1h: 1, Within1d: 1, Within1hShare: 1, Within1dShare: 1},
			Purposes:  []report.PurposeCount{{Purpose: "service_booking", Calls: 2, Share: 0.5}, {Purpose: "sales", Calls: 1, Share: 0.25}},
			Days:      []report.Counts{{Total: 4, Answered: 3, Missed: 1, Lost: 1, LostRate: 0.25, NewCallers: 2}, {}}},
		{Source: "", Counts: report.Counts{Total: 1, Abandoned: 1, Lost: 1, LostRate: 1}, ServiceLevel: level(0, 1, 0),
			Purposes: []report.PurposeCount{}, Days: []report.Counts{{}, {Total: 1, Abandoned: 1, Lost: 1, LostRate: 1}}},
	}
	wantOperators := []report.OperatorSummary{
		// Rang for f1, f2, f3, f4, f6, f8; answered f1 and f8; f2 was
		// 102's while both rang; f3, f4 and f6 rang out or were given up
		// on her phone: 2 of 5.
		{Operator: "101", Name: "Анна Смирнова", Offered: 6, Answered: 2, NoAnswer: 2,
			Calls: 6, CallsAnswered: 2, TakenByColleague: 1, MissedCalls: 3, AnswerRate: 0.4},
		{Operator: "102", Name: "Борис Волков", Offered: 6, Answered: 2, NoAnswer: 2,
			Calls: 6, CallsAnswered: 2, TakenByColleague: 1, MissedCalls: 3, AnswerRate: 0.4},
	}
	wantPrevious := report.Period{From: "2025-03-15", To: "2025-03-16",
		Totals:       report.Counts{Total: 2, Answered: 1, Missed: 1, Lost: 1, LostRate: 0.5, NewCallers: 2},
		Wait:         report.Wait{Answered: 1, AvgSeconds: 10, P90Seconds: 10},
		ServiceLevel: level(1, 2, 0.5),
		Callers:      report.Callers{Distinct: 2, New: 2},
		Callbacks:    report.Callbacks{Missed: 1, Never: 1, NeverShare: 1},
		Purposes:     []report.PurposeCount{{Purpose: "sales", Calls: 1, Share: 0.5}},
	}

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openFigures(t, b)
			ctx := context.Background()
			got, err := s.Summary(ctx, moscow(17, 0, 0, 0), moscow(19, 0, 0, 0), report.DefaultServiceLevel)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				want, got any
			}{
				{"totals", report.Counts{Total: 9, Answered: 4, Missed: 3, Abandoned: 2, Lost: 5, LostRate: 5.0 / 9, NewCallers: 5}, got.Totals},
				// Waits 5, 25, 20 and 3 s.
				{"wait", report.Wait{Answered: 4, AvgSeconds: 13.3, P90Seconds: 25}, got.Wait},
				{"service level: f1, f5 and f8 within 20 s of nine calls", level(3, 9, 1.0/3), got.ServiceLevel},
				{"callers: six numbers, five of them new", report.Callers{Distinct: 6, New: 5}, got.Callers},
				{"callbacks: f3 after 30 min, f4 after 22 h, f9 after 48 h, f6 never",
					report.Callbacks{Missed: 4, CalledBack: 3, MedianSeconds: 22 * 3600, Within1h: 1, Within1d: 2, Never: 1,
						Within1hShare: 0.25, Within1dShare: 0.5, NeverShare: 0.25}, got.Callbacks},
				{"purposes of inbound calls", []report.PurposeCount{{Purpose: "sales", Calls: 2, Share: 2.0 / 9},
					{Purpose: "service_booking", Calls: 2, Share: 2.0 / 9}}, got.Purposes},
				{"days", wantDays, got.Days},
				{"sources", wantSources, got.Sources},
				{"operators", wantOperators, got.Operators},
				{"previous period", wantPrevious, got.Previous},
			}
			for _, c := range checks {
				if diff := cmp.Diff(c.want, c.got, cmpopts.IgnoreFields(report.OperatorSummary{}, "RingAvgSeconds", "TalkAvgSeconds")); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}

			// A threshold of 5 s takes f1 (5 s) and f8 (3 s).
			got, err = s.Summary(ctx, moscow(17, 0, 0, 0), moscow(19, 0, 0, 0), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if want := (report.ServiceLevel{ThresholdSeconds: 5, Calls: 9, Within: 2, Rate: 2.0 / 9}); got.ServiceLevel != want {
				t.Errorf("service level within 5 s: %+v, want %+v", got.ServiceLevel, want)
			}
		})
	}
}

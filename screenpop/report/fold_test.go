package report

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// moscowGrid is the grid of 10 and 11 March 2025 in Moscow (UTC+3).
func moscowGrid(t *testing.T) Grid {
	t.Helper()
	msk := time.FixedZone("MSK", 3*60*60)
	g, err := NewGrid(time.Date(2025, 3, 10, 0, 0, 0, 0, msk), time.Date(2025, 3, 12, 0, 0, 0, 0, msk))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFoldPutsEachHourInItsDayHourOfDayAndSource(t *testing.T) {
	g := moscowGrid(t)
	f := NewFold(g)
	// Grid hours count from 10 March 00:00: 33 is 11 March, 09:00.
	f.Hour(HourRow{Hour: 9, Source: "Авито", Calls: 3, Answered: 2, Missed: 1, NewCallers: 2, Waits: []int32{4000, 30_000}})
	f.Hour(HourRow{Hour: 33, Source: "", Calls: 1, Busy: 1})
	f.Hour(HourRow{Hour: 48, Source: "Авито", Calls: 5, Answered: 5}) // past the grid: left out
	s := f.Summary(20 * time.Second)

	if want := (Counts{Total: 4, Answered: 2, Missed: 1, Busy: 1, Lost: 2, LostRate: 0.5, NewCallers: 2}); s.Totals != want {
		t.Errorf("totals %+v, want %+v", s.Totals, want)
	}
	if s.From != "2025-03-10" || s.To != "2025-03-11" || s.UTCOffset != "+03:00" {
		t.Errorf("range %s to %s %s, want 2025-03-10 to 2025-03-11 +03:00", s.From, s.To, s.UTCOffset)
	}
	days := []Counts{s.Days[0].Counts, s.Days[1].Counts}
	wantDays := []Counts{{Total: 3, Answered: 2, Missed: 1, Lost: 1, LostRate: 1.0 / 3, NewCallers: 2}, {Total: 1, Busy: 1, Lost: 1, LostRate: 1}}
	if diff := cmp.Diff(wantDays, days); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	if s.Hours[9].Total != 4 || s.Hours[10].Total != 0 {
		t.Errorf("9 o'clock has %d calls, 10 o'clock %d; want 4 and 0", s.Hours[9].Total, s.Hours[10].Total)
	}
	// Waits 4 and 30 s: on average 17 s, nine in ten within 30 s; one of
	// three calls within 20 s.
	if want := (Wait{Answered: 2, AvgSeconds: 17, P90Seconds: 30}); s.Wait != want || s.Days[0].Wait != want {
		t.Errorf("wait %+v, 10 March %+v; want %+v", s.Wait, s.Days[0].Wait, want)
	}
	if s.Days[1].Wait != (Wait{}) {
		t.Errorf("nobody waited on 11 March, got %+v", s.Days[1].Wait)
	}
	if want := (ServiceLevel{ThresholdSeconds: 20, Calls: 4, Within: 1, Rate: 0.25}); s.ServiceLevel != want {
		t.Errorf("service level %+v, want %+v", s.ServiceLevel, want)
	}
	if len(s.Sources) != 2 || s.Sources[0].Source != "Авито" || s.Sources[0].Total != 3 || s.Sources[1].Source != "" ||
		s.Sources[0].Days[1] != (Counts{}) || s.Sources[1].Days[1].Busy != 1 {
		t.Errorf("sources %+v, want Авито's 3 calls on 10 March, then the busy one without a source on the 11th", s.Sources)
	}
}

func TestFoldAddsUpAnOperatorsDays(t *testing.T) {
	f := NewFold(moscowGrid(t))
	// The raw rows come a day at a time.
	f.Operator(OperatorRow{Operator: "101", Name: "Анна Смирнова", Offered: 3, Answered: 2, NoAnswer: 1,
		RingN: 2, RingMs: 10_000, TalkN: 2, TalkMs: 120_000, CallsAnswered: 2, MissedCalls: 1})
	f.Operator(OperatorRow{Operator: "102", Name: "Борис Волков", Offered: 1, NoAnswer: 1, MissedCalls: 1})
	f.Operator(OperatorRow{Operator: "101", Name: "Анна Смирнова", Offered: 2, Answered: 1, NoAnswer: 1,
		RingN: 1, RingMs: 2_000, TalkN: 1, TalkMs: 30_000, CallsAnswered: 1, MissedCalls: 1})
	f.OperatorCalls("101", 3)
	f.OperatorCalls("102", 1)
	f.OperatorCalls("101", 3)
	got := f.Summary(20 * time.Second).Operators
	want := []OperatorSummary{
		// Of six calls that rang her she answered three and missed two:
		// a colleague took the sixth while her phone rang.
		{Operator: "101", Name: "Анна Смирнова", Offered: 5, Answered: 3, NoAnswer: 2,
			Calls: 6, CallsAnswered: 3, MissedCalls: 2, TakenByColleague: 1, AnswerRate: 0.6, RingAvgSeconds: 4, TalkAvgSeconds: 50},
		{Operator: "102", Name: "Борис Волков", Offered: 1, NoAnswer: 1, Calls: 1, MissedCalls: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operators (-want +got):\n%s", diff)
	}
}

// TestFoldCountsEachCallerOnce gives the same callers as the raw rows
// give them (numbers) and as the roll-ups do (IDs, a day at a time):
// a number that called from two sources, on two days, is one caller.
func TestFoldCountsEachCallerOnce(t *testing.T) {
	const n1, n2, n3 = "+79161000001", "+79161000002", "+79161000003"
	raw := NewFold(moscowGrid(t))
	raw.Hour(HourRow{Hour: 9, Source: "Авито", Calls: 2, Answered: 2})
	raw.Hour(HourRow{Hour: 33, Source: "Сайт", Calls: 2, Answered: 2})
	raw.Caller("Авито", n1, true)
	raw.Caller("Авито", n2, false)
	raw.Caller("Сайт", n1, false)
	raw.Caller("Сайт", n3, true)

	ids := map[string]int32{n1: 7, n2: 0, n3: 300}
	rolled := NewFold(moscowGrid(t))
	// A day's hours joined: a number twice is one caller still.
	rolled.RollupDay(0, RollupRow{HourRow: HourRow{Source: "Авито", Calls: 2, Answered: 2},
		Numbers: []int32{ids[n1], ids[n2]}, NewNumbers: []int32{ids[n1]}})
	rolled.RollupDay(1, RollupRow{HourRow: HourRow{Source: "Сайт", Calls: 2, Answered: 2},
		Numbers: []int32{ids[n1], ids[n3], ids[n1]}, NewNumbers: []int32{ids[n3]}})

	want := map[string]Callers{"": {Distinct: 3, New: 2}, "Авито": {Distinct: 2, New: 1}, "Сайт": {Distinct: 2, New: 1}}
	for name, f := range map[string]*Fold{"numbers": raw, "IDs": rolled} {
		s := f.Summary(20 * time.Second)
		got := map[string]Callers{"": s.Callers}
		for _, src := range s.Sources {
			got[src.Source] = src.Callers
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("callers by %s, all under \"\" (-want +got):\n%s", name, diff)
		}
	}
}

func TestFoldMeasuresCallBacksAndPurposes(t *testing.T) {
	delay := func(s float64) *float64 { return &s }
	raw := NewFold(moscowGrid(t))
	raw.Hour(HourRow{Hour: 9, Source: "Авито", Calls: 3, Missed: 3})
	raw.Hour(HourRow{Hour: 10, Source: "Авито", Calls: 1, Answered: 1, Waits: []int32{12_345}})
	raw.Callback("Авито", delay(1800))
	raw.Callback("Авито", delay(7200))
	raw.Callback("Авито", nil)
	raw.Purpose("Авито", "sales", 1)
	raw.Purpose("Авито", "service_booking", 2)

	rolled := NewFold(moscowGrid(t))
	rolled.RollupDay(0, RollupRow{HourRow: HourRow{Source: "Авито", Calls: 4, Missed: 3, Answered: 1, Waits: []int32{12_345}},
		MissedNumbered: 3, CallbackDelays: []float64{7200, 1800}})
	rolled.HourCounts(HourRow{Hour: 9, Calls: 3, Missed: 3})
	rolled.HourCounts(HourRow{Hour: 10, Calls: 1, Answered: 1})
	rolled.Purpose("Авито", "service_booking", 2)
	rolled.Purpose("Авито", "sales", 1)

	// Two of three called back, half an hour and two hours later: the
	// median is the mean of the two.
	wantCallbacks := Callbacks{Missed: 3, CalledBack: 2, MedianSeconds: 4500, Within1h: 1, Within1d: 2, Never: 1,
		Within1hShare: 1.0 / 3, Within1dShare: 2.0 / 3, NeverShare: 1.0 / 3}
	wantPurposes := []PurposeCount{{Purpose: "service_booking", Calls: 2, Share: 0.5}, {Purpose: "sales", Calls: 1, Share: 0.25}}
	sums := map[string]Summary{"raw rows": raw.Summary(20 * time.Second), "roll-ups": rolled.Summary(20 * time.Second)}
	if diff := cmp.Diff(sums["raw rows"], sums["roll-ups"]); diff != "" {
		t.Errorf("the summary of a day's roll-ups and its hours' counts is not the raw rows' (-raw +roll-ups):\n%s", diff)
	}
	for name, s := range sums {
		if diff := cmp.Diff(wantCallbacks, s.Callbacks); diff != "" {
			t.Errorf("%s: call backs (-want +got):\n%s", name, diff)
		}
		if len(s.Sources) != 1 || s.Sources[0].Callbacks != wantCallbacks {
			t.Errorf("%s: the source's call backs %+v, want %+v", name, s.Sources, wantCallbacks)
		}
		if diff := cmp.Diff(wantPurposes, s.Purposes); diff != "" {
			t.Errorf("%s: purposes (-want +got):\n%s", name, diff)
		}
		if len(s.Sources) == 1 {
			if diff := cmp.Diff(wantPurposes, s.Sources[0].Purposes); diff != "" {
				t.Errorf("%s: the source's purposes (-want +got):\n%s", name, diff)
			}
		}
	}
}

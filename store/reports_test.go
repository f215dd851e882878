package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones of the roll-up and view tests, wherever they run

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// reportStore is what the reports ask of a store.
type reportStore interface {
	callStore
	AddSource(ctx context.Context, src screenpop.Source) (screenpop.Source, error)
	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
	Summary(ctx context.Context, from, to time.Time, sl time.Duration) (report.Summary, error)
	SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
}

// reportsZone is the dealership's zone in these tests: Moscow, UTC+3 all year.
var reportsZone = time.FixedZone("MSK", 3*60*60)

// The lines of the report tests: two advertised, one nobody mapped.
const (
	lineYandex   = "+74951110001"
	lineAvito    = "84951110002" // as the trunk sends it: the source is on +74951110002
	lineUnmapped = "+74951110003"
)

// moscow is a moment of March 2025 in Moscow.
func moscow(day, hour, minute int, sec float64) time.Time {
	return time.Date(2025, time.March, day, hour, minute, 0, 0, reportsZone).Add(time.Duration(sec * float64(time.Second)))
}

// reportOffer is an operator's phone dialled at the call's start plus
// dialed seconds, ringing at ringing, answered at answered and ending at
// ended (each a negative for never).
func reportOffer(start time.Time, op string, outcome screenpop.Outcome, dialed, ringing, answered, ended float64) screenpop.Offer {
	rel := func(s float64) *time.Time {
		if s < 0 {
			return nil
		}
		t := start.Add(time.Duration(s * float64(time.Second)))
		return &t
	}
	return screenpop.Offer{Operator: op, Channel: "PJSIP/" + op, DialedAt: *rel(dialed), RingingAt: rel(ringing),
		AnsweredAt: rel(answered), EndedAt: rel(ended), Outcome: outcome}
}

// reportCall is an inbound call from number to line, started at start and
// waited wait seconds; answeredBy is "" if nobody answered.
func reportCall(id, number, line string, start time.Time, status screenpop.Status, kind screenpop.CallerKind,
	wait float64, answeredBy string, offers ...screenpop.Offer) screenpop.Call {
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: number, DID: line, Status: status,
		CallerKind: kind, WaitSeconds: wait, StartedAt: start.UTC(), EndedAt: start.Add(5 * time.Minute).UTC(), Offers: offers}
	if number == "" {
		c.Caller, c.Withheld = "anonymous", true
	} else {
		c.CallerE164 = ptr(number)
	}
	if answeredBy != "" {
		c.AnsweredBy = ptr(answeredBy)
		a := start.Add(time.Duration(wait * float64(time.Second))).UTC()
		c.AnsweredAt = &a
	}
	// As the tracker lists them: each operator whose phone rang, once.
	for _, o := range offers {
		if (o.RingingAt != nil || o.AnsweredAt != nil) && !slices.Contains(c.OfferedTo, o.Operator) {
			c.OfferedTo = append(c.OfferedTo, o.Operator)
		}
	}
	return c
}

// reportCalls are two days of a small call centre, 10 and 11 March 2025
// in Moscow, and calls either side of them that no report of those days
// counts.
func reportCalls() []screenpop.Call {
	const a, n, nc = screenpop.OutcomeAnswered, screenpop.OutcomeNoAnswer, screenpop.OutcomeCancelled
	c1 := moscow(10, 0, 30, 0) // 9 March in UTC: the day is Moscow's
	c2 := moscow(10, 9, 15, 0)
	c3 := moscow(10, 9, 40, 0)
	c4 := moscow(10, 14, 5, 0)
	c5 := moscow(10, 14, 50, 0)
	c6 := moscow(11, 9, 5, 0)
	c7 := moscow(11, 9, 30, 0)
	c8 := moscow(11, 23, 59, 59.999)
	x1 := moscow(9, 23, 30, 0)
	x2 := moscow(12, 0, 0, 0)
	return []screenpop.Call{
		reportCall("c1", "+79160000001", lineYandex, c1, screenpop.StatusAnswered, screenpop.KindNew, 10.5, "101",
			reportOffer(c1, "101", a, 2, 2.3, 10.5, 70.5)),
		// The queue rings 101 and 102, then 101 again.
		reportCall("c2", "+79160000002", lineYandex, c2, screenpop.StatusMissed, screenpop.KindNew, 30, "",
			reportOffer(c2, "101", n, 1, 1.2, -1, 15), reportOffer(c2, "102", n, 1, 1.3, -1, 15),
			reportOffer(c2, "101", n, 16, 16.2, -1, 30)),
		reportCall("c3", "+79160000003", lineAvito, c3, screenpop.StatusAbandoned, screenpop.KindNew, 12, "",
			reportOffer(c3, "102", nc, 1, 1.5, -1, 12)),
		reportCall("c4", "+79160000004", lineAvito, c4, screenpop.StatusAnswered, screenpop.KindClient, 4.1, "102",
			reportOffer(c4, "102", a, 0.5, 0.9, 4.1, 124.1)),
		reportCall("c5", "", lineUnmapped, c5, screenpop.StatusBusy, screenpop.KindWithheld, 1, "",
			reportOffer(c5, "101", screenpop.OutcomeBusy, 0.5, -1, -1, 1)),
		// c2's caller again: 101 does not answer, 102 does.
		reportCall("c6", "+79160000002", lineYandex, c6, screenpop.StatusAnswered, screenpop.KindLead, 25, "102",
			reportOffer(c6, "101", n, 0.5, 1, -1, 21), reportOffer(c6, "102", a, 20.5, 21, 25, 225)),
		reportCall("c7", "+79160000007", lineYandex, c7, screenpop.StatusFailed, screenpop.KindNew, 0.5, "",
			reportOffer(c7, "103", screenpop.OutcomeFailed, 0.2, -1, -1, 0.5)),
		reportCall("c8", "+79160000008", lineAvito, c8, screenpop.StatusAnswered, screenpop.KindNew, 6, "101",
			reportOffer(c8, "101", a, 0.5, 1, 6, 36)),
		// Outside the two days, and a call out: none of them counts.
		reportCall("x1", "+79160000009", lineYandex, x1, screenpop.StatusAnswered, screenpop.KindNew, 3, "102",
			reportOffer(x1, "102", a, 1, 1, 3, 60)),
		reportCall("x2", "+79160000010", lineYandex, x2, screenpop.StatusMissed, screenpop.KindNew, 30, "",
			reportOffer(x2, "101", n, 1, 1, -1, 30)),
		{ID: "x3", Direction: screenpop.Outbound, Caller: "+79160000002", CallerE164: ptr("+79160000002"),
			Status: screenpop.StatusAnswered, AnsweredBy: ptr("101"), TalkedTo: []string{"101"}, WaitSeconds: 8,
			StartedAt: moscow(10, 10, 0, 0).UTC(), AnsweredAt: reportTime(moscow(10, 10, 0, 8).UTC()), EndedAt: moscow(10, 10, 3, 0).UTC()},
	}
}

func reportTime(t time.Time) *time.Time { return &t }

// ignoreNewFigures leaves out of a comparison the figures that
// TestSummaryFigures checks on its own data set.
var ignoreNewFigures = cmp.Options{
	cmpopts.IgnoreFields(report.Summary{}, "ServiceLevel", "Callers", "Callbacks", "Purposes", "Previous"),
	cmpopts.IgnoreFields(report.SourceSummary{}, "Wait", "ServiceLevel", "Callers", "Callbacks", "Purposes"),
	cmpopts.IgnoreFields(report.Day{}, "ServiceLevel"),
}

// openReports opens a store holding reportCalls, its sources and
// operators 101 and 102 (103 has left: no operator has the extension).
func openReports(t *testing.T, b backend) reportStore {
	t.Helper()
	s, ok := openMigrated(t, b).(reportStore)
	if !ok {
		t.Fatalf("%s keeps no reports", b.name)
	}
	s.(interface{ SetRegion(string) }).SetRegion("RU")
	ctx := context.Background()
	since := time.Date(2025, time.January, 1, 0, 0, 0, 0, reportsZone)
	for _, src := range []screenpop.Source{
		{DID: lineYandex, Source: "Яндекс.Директ", Campaign: "Сервис", From: since},
		{DID: "+74951110002", Source: "Авито", From: since},
	} {
		if _, err := s.AddSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range [][2]string{{"Анна Смирнова", "101"}, {"Борис Волков", "102"}} {
		if _, _, err := s.AddOperator(ctx, op[0], op[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCalls(ctx, reportCalls()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSummaryCountsTheInboundCallsOfTheLocalDays(t *testing.T) {
	// The page asks for 10 to 11 March; the daemon runs in Moscow.
	want := report.Summary{
		From: "2025-03-10", To: "2025-03-11", UTCOffset: "+03:00",
		Totals: report.Counts{Total: 8, Answered: 4, Missed: 1, Abandoned: 1, Busy: 1, Failed: 1, Lost: 4, LostRate: 0.5, NewCallers: 5},
		Shares: report.Shares{Answered: 0.5, Missed: 0.125, Abandoned: 0.125, Busy: 0.125, Failed: 0.125},
		// Answered waits 10.5, 4.1, 25 and 6 s: nine in ten waited 25 s
		// or less (the nearest rank of four is the fourth).
		Wait: report.Wait{Answered: 4, AvgSeconds: 11.4, P90Seconds: 25},
		Days: []report.Day{
			{Date: "2025-03-10", Counts: report.Counts{Total: 5, Answered: 2, Missed: 1, Abandoned: 1, Busy: 1, Lost: 3, LostRate: 0.6, NewCallers: 3},
				Wait: report.Wait{Answered: 2, AvgSeconds: 7.3, P90Seconds: 10.5}},
			{Date: "2025-03-11", Counts: report.Counts{Total: 3, Answered: 2, Failed: 1, Lost: 1, LostRate: 1.0 / 3, NewCallers: 2},
				Wait: report.Wait{Answered: 2, AvgSeconds: 15.5, P90Seconds: 25}},
		},
		Hours: make([]report.Hour, 24),
		Sources: []report.SourceSummary{
			{Source: "Яндекс.Директ", Counts: report.Counts{Total: 4, Answered: 2, Missed: 1, Failed: 1, Lost: 2, LostRate: 0.5, NewCallers: 3},
				Days: []report.Counts{
					{Total: 2, Answered: 1, Missed: 1, Lost: 1, LostRate: 0.5, NewCallers: 2},
					{Total: 2, Answered: 1, Failed: 1, Lost: 1, LostRate: 0.5, NewCallers: 1},
				}},
			{Source: "Авито", Counts: report.Counts{Total: 3, Answered: 2, Abandoned: 1, Lost: 1, LostRate: 1.0 / 3, NewCallers: 2},
				Days: []report.Counts{
					{Total: 2, Answered: 1, Abandoned: 1, Lost: 1, LostRate: 0.5, NewCallers: 1},
					{Total: 1, Answered: 1, NewCallers: 1},
				}},
			{Source: "", Counts: report.Counts{Total: 1, Busy: 1, Lost: 1, LostRate: 1},
				Days: []report.Counts{{Total: 1, Busy: 1, Lost: 1, LostRate: 1}, {}}},
		},
		Operators: []report.OperatorSummary{
			// Rang for c1, c2 (twice), c6, c8 (c5 found the phone busy);
			// answered c1 after 8.2 s of ringing and c8 after 5; talked 60
			// and 30 s.
			// Per call: c1 and c8 answered, c2 and c6 rang out on her.
			{Operator: "101", Name: "Анна Смирнова", Offered: 5, Answered: 2, NoAnswer: 3,
				Calls: 4, CallsAnswered: 2, MissedCalls: 2, AnswerRate: 0.5, RingAvgSeconds: 6.6, TalkAvgSeconds: 45},
			// Rang for c2, c3, c4, c6; answered c4 (3.2 s) and c6 (4 s).
			{Operator: "102", Name: "Борис Волков", Offered: 4, Answered: 2, NoAnswer: 1,
				Calls: 4, CallsAnswered: 2, MissedCalls: 2, AnswerRate: 0.5, RingAvgSeconds: 3.6, TalkAvgSeconds: 160},
			// Dialled for c7, never rang.
			{Operator: "103"},
		},
	}
	for h := range want.Hours {
		want.Hours[h].Hour = h
	}
	want.Hours[0].Counts = report.Counts{Total: 1, Answered: 1, NewCallers: 1}
	want.Hours[9].Counts = report.Counts{Total: 4, Answered: 1, Missed: 1, Abandoned: 1, Failed: 1, Lost: 3, LostRate: 0.75, NewCallers: 3}
	want.Hours[14].Counts = report.Counts{Total: 2, Answered: 1, Busy: 1, Lost: 1, LostRate: 0.5}
	want.Hours[23].Counts = report.Counts{Total: 1, Answered: 1, NewCallers: 1}

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openReports(t, b)
			got, err := s.Summary(context.Background(), moscow(10, 0, 0, 0), moscow(12, 0, 0, 0), report.DefaultServiceLevel)
			if err != nil {
				t.Fatal(err)
			}
			// The figures of TestSummaryFigures are checked there.
			if diff := cmp.Diff(want, got, ignoreNewFigures); diff != "" {
				t.Errorf("summary of 10-11 March (-want +got):\n%s", diff)
			}

			// The same calls by UTC days: c1 (21:30 on the 9th) falls out,
			// x2 (21:00 on the 11th) comes in.
			utc, err := s.Summary(context.Background(), time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC), report.DefaultServiceLevel)
			if err != nil {
				t.Fatal(err)
			}
			if utc.UTCOffset != "+00:00" || utc.Totals.Total != 8 || utc.Totals.Missed != 2 || utc.Days[1].Total != 4 || utc.Hours[21].Total != 1 {
				t.Errorf("by UTC days: offset %s, %+v; 11 March %+v; 21h %+v", utc.UTCOffset, utc.Totals, utc.Days[1].Counts, utc.Hours[21].Counts)
			}
		})
	}
}

func TestSummaryOfDaysWithoutCallsListsTheDaysWithZeros(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openReports(t, b)
			got, err := s.Summary(context.Background(), moscow(1, 0, 0, 0), moscow(4, 0, 0, 0), report.DefaultServiceLevel)
			if err != nil {
				t.Fatal(err)
			}
			sl := report.ServiceLevel{ThresholdSeconds: 20}
			want := report.Summary{From: "2025-03-01", To: "2025-03-03", UTCOffset: "+03:00",
				Days: []report.Day{{Date: "2025-03-01", ServiceLevel: sl}, {Date: "2025-03-02", ServiceLevel: sl},
					{Date: "2025-03-03", ServiceLevel: sl}},
				Hours: make([]report.Hour, 24), Sources: []report.SourceSummary{}, Operators: []report.OperatorSummary{},
				ServiceLevel: sl, Purposes: []report.PurposeCount{},
				Previous: report.Period{From: "2025-02-26", To: "2025-02-28", ServiceLevel: sl, Purposes: []report.PurposeCount{}}}
			for h := range want.Hours {
				want.Hours[h].Hour = h
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("summary of 1-3 March (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummaryRefusesAnEmptyOrTooLongRange(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b).(reportStore)
			for _, r := range [][2]time.Time{
				{moscow(10, 0, 0, 0), moscow(10, 0, 0, 0)},
				{moscow(11, 0, 0, 0), moscow(10, 0, 0, 0)},
				{moscow(1, 0, 0, 0), moscow(1, 0, 0, 0).AddDate(0, 0, report.MaxDays+1)},
			} {
				if _, err := s.Summary(context.Background(), r[0], r[1], report.DefaultServiceLevel); err == nil {
					t.Errorf("summary from %s to %s: no error", r[0], r[1])
				}
			}
			if _, err := s.Summary(context.Background(), moscow(1, 0, 0, 0), moscow(1, 0, 0, 0).AddDate(0, 0, report.MaxDays), report.DefaultServiceLevel); err != nil {
				t.Errorf("summary of %d days: %v", report.MaxDays, err)
			}
		})
	}
}

// BenchmarkSummary reads the report of a busy month (benchCallLog: 100,000
// calls by default) from PostgreSQL, as the reports page asks for it.
func BenchmarkSummary(b *testing.B) {
	p, err := OpenPostgres(context.Background(), benchCallLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	var s report.Summary
	for b.Loop() {
		if s, err = p.Summary(ctx, benchMonthFrom, benchMonthTo, report.DefaultServiceLevel); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Totals.Total), "inbound_calls")
	b.Log(fmt.Sprintf("%d inbound calls, %d sources, %d operators", s.Totals.Total, len(s.Sources), len(s.Operators)))
}

// BenchmarkSQLiteSummary reads the same month's report from the embedded
// store.
func BenchmarkSQLiteSummary(b *testing.B) {
	g := newBenchLog(benchCalls(b))
	s := openMigrated(b, backends[1]).(*SQLite)
	s.SetRegion("RU")
	ctx := context.Background()
	for i, name := range benchOperatorNames[:benchOperators] {
		if _, _, err := s.AddOperator(ctx, name, fmt.Sprint(101+i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, l := range benchLines {
		if l.source != "" {
			src := screenpop.Source{DID: "+" + l.did, Source: l.source, Campaign: l.campaign, Internal: l.internal,
				From: time.Date(2024, 1, 1, 0, 0, 0, 0, benchZone)}
			if _, err := s.AddSource(ctx, src); err != nil {
				b.Fatal(err)
			}
		}
	}
	calls := make([]screenpop.Call, len(g.calls))
	for i, c := range g.calls {
		calls[i] = c.Call
	}
	for batch := range slices.Chunk(calls, 2000) {
		if err := s.SaveCalls(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	var sum report.Summary
	var err error
	for b.Loop() {
		if sum, err = s.Summary(ctx, benchMonthFrom, benchMonthTo, report.DefaultServiceLevel); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum.Totals.Total), "inbound_calls")
}

package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// TestSummaryCountsCallBacksWrittenAfterItWasRead reads a report whose
// missed call is not called back yet, then writes the call back, an
// earlier one, and deletes it, reading the report after each: a call back
// changes an earlier hour's figures, which the roll-ups must see. The
// distinct callers are counted over the two days, not added up by day.
func TestSummaryCountsCallBacksWrittenAfterItWasRead(t *testing.T) {
	const number = "+79162000001"
	missed := moscow(17, 10, 0, 0)
	callBack := func(id string, at time.Time) screenpop.Call {
		return screenpop.Call{ID: id, Direction: screenpop.Outbound, Caller: number, CallerE164: ptr(number),
			Status: screenpop.StatusAnswered, AnsweredBy: ptr("101"), TalkedTo: []string{"101"}, WaitSeconds: 5,
			StartedAt: at.UTC(), AnsweredAt: reportTime(at.Add(5 * time.Second).UTC()), EndedAt: at.Add(time.Minute).UTC()}
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, ok := openMigrated(t, b).(rollupStore)
			if !ok {
				t.Fatalf("%s keeps no roll-ups", b.name)
			}
			s.(interface{ SetRegion(string) }).SetRegion("RU")
			ctx := context.Background()
			if _, err := s.AddSource(ctx, screenpop.Source{DID: lineYandex, Source: "Яндекс.Директ",
				From: time.Date(2025, time.January, 1, 0, 0, 0, 0, reportsZone)}); err != nil {
				t.Fatal(err)
			}
			again := moscow(18, 9, 0, 0)
			if err := s.SaveCalls(ctx, []screenpop.Call{
				reportCall("m1", number, lineYandex, missed, screenpop.StatusMissed, screenpop.KindNew, 30, "",
					reportOffer(missed, "101", screenpop.OutcomeNoAnswer, 0, 0.5, -1, 30)),
				// The same caller the next day, answered: one person over
				// the two days, a new caller once.
				reportCall("m2", number, lineYandex, again, screenpop.StatusAnswered, screenpop.KindLead, 5, "101",
					reportOffer(again, "101", screenpop.OutcomeAnswered, 0, 0.5, 5, 65)),
			}); err != nil {
				t.Fatal(err)
			}
			read := func(when string, want report.Callbacks) {
				t.Helper()
				from, to := moscow(17, 0, 0, 0), moscow(19, 0, 0, 0)
				got, err := s.Summary(ctx, from, to, report.DefaultServiceLevel)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got.Callbacks); diff != "" {
					t.Errorf("%s: the call backs (-want +got):\n%s", when, diff)
				}
				if want := (report.Callers{Distinct: 1, New: 1}); got.Callers != want || len(got.Sources) != 1 || got.Sources[0].Callers != want {
					t.Errorf("%s: the callers are %+v (by source %+v), want %+v", when, got.Callers, got.Sources, want)
				}
				raw, err := s.summary(ctx, from, to, report.DefaultServiceLevel, false)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(raw, got); diff != "" {
					t.Errorf("%s: the report from the roll-ups differs from the raw rows' (-raw +roll-ups):\n%s", when, diff)
				}
				if d, err := s.CheckRollups(ctx); err != nil || !d.None() {
					t.Errorf("%s: rollups check: %+v, %v", when, d, err)
				}
			}
			read("before any call back", report.Callbacks{Missed: 1, Never: 1, NeverShare: 1})

			// The next morning, 22 hours later: within a day.
			if err := s.SaveCalls(ctx, []screenpop.Call{callBack("o1", moscow(18, 8, 0, 0))}); err != nil {
				t.Fatal(err)
			}
			read("called back the next morning", report.Callbacks{Missed: 1, CalledBack: 1, MedianSeconds: 22 * 3600,
				Within1d: 1, Within1dShare: 1})

			// An earlier call back, written later: an hour after.
			if err := s.SaveCalls(ctx, []screenpop.Call{callBack("o0", moscow(17, 11, 0, 0))}); err != nil {
				t.Fatal(err)
			}
			read("called back within the hour", report.Callbacks{Missed: 1, CalledBack: 1, MedianSeconds: 3600,
				Within1h: 1, Within1d: 1, Within1hShare: 1, Within1dShare: 1})

			deleteCalls(t, s, []string{"o0"})
			read("the earlier call back deleted", report.Callbacks{Missed: 1, CalledBack: 1, MedianSeconds: 22 * 3600,
				Within1d: 1, Within1dShare: 1})
		})
	}
}

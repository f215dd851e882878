package store

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/screenpop/screenpop/screenpop/report"
)

// TestReportViewsCountAsTheSummary reads figureCalls' days through the
// views an analyst's tool would (report_calls, operator_calls), and
// counts the summary's figures from them as the README says to.
func TestReportViewsCountAsTheSummary(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openFigures(t, b)
			ctx := context.Background()
			sum, err := s.Summary(ctx, moscow(17, 0, 0, 0), moscow(19, 0, 0, 0), report.DefaultServiceLevel)
			if err != nil {
				t.Fatal(err)
			}
			var from, to any = moscow(17, 0, 0, 0), moscow(19, 0, 0, 0)
			if _, ok := s.(*SQLite); ok {
				from, to = formatTime(moscow(17, 0, 0, 0)), formatTime(moscow(19, 0, 0, 0))
			}
			type figures struct {
				Total, Within20, Distinct, New int
				Purposes                       map[string]int
				Missed, CalledBack, Never      int
				Median                         float64
			}
			got := figures{Purposes: map[string]int{}}
			numbers, newNumbers := map[string]bool{}, map[string]bool{}
			var delays []float64
			viewQuery(t, s, "Europe/Moscow", `SELECT number, caller_kind, status, wait_seconds, purpose, callback_seconds
				FROM report_calls WHERE started_at >= $1 AND started_at < $2`, []any{from, to},
				func(scan func(...any) error) error {
					var number, purpose *string
					var kind, status string
					var wait float64
					var callback *float64
					if err := scan(&number, &kind, &status, &wait, &purpose, &callback); err != nil {
						return err
					}
					got.Total++
					if status == "answered" && wait <= 20 {
						got.Within20++
					}
					if number != nil {
						numbers[*number] = true
						if kind == "new" {
							newNumbers[*number] = true
						}
					}
					if purpose != nil {
						got.Purposes[*purpose]++
					}
					if (status == "missed" || status == "abandoned") && number != nil {
						got.Missed++
						if callback == nil {
							got.Never++
						} else {
							got.CalledBack++
							delays = append(delays, *callback)
						}
					}
					return nil
				})
			got.Distinct, got.New = len(numbers), len(newNumbers)
			slices.Sort(delays)
			if n := len(delays); n > 0 {
				got.Median = (delays[(n-1)/2] + delays[n/2]) / 2
			}
			want := figures{Total: sum.Totals.Total, Within20: sum.ServiceLevel.Within, Distinct: sum.Callers.Distinct, New: sum.Callers.New,
				Purposes: map[string]int{}, Missed: sum.Callbacks.Missed, CalledBack: sum.Callbacks.CalledBack, Never: sum.Callbacks.Never,
				Median: sum.Callbacks.MedianSeconds}
			for _, p := range sum.Purposes {
				want.Purposes[p.Purpose] = p.Calls
			}
			if want.Total != 9 || want.Within20 != 3 || want.Median != 22*3600 {
				t.Fatalf("the summary is not figureCalls': %+v", want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("report_calls counted as the README says (-summary +view):\n%s", diff)
			}

			type opDay struct {
				Calls, Answered, Colleague, Missed int
				Rate                               float64
			}
			ops := map[string]opDay{}
			viewQuery(t, s, "Europe/Moscow", `SELECT operator, calls, calls_answered, taken_by_colleague, missed_calls, answer_rate
				FROM operator_calls WHERE day BETWEEN '2025-03-17' AND '2025-03-18'`, nil,
				func(scan func(...any) error) error {
					var op string
					var d opDay
					var rate any
					if err := scan(&op, &d.Calls, &d.Answered, &d.Colleague, &d.Missed, &rate); err != nil {
						return err
					}
					o := ops[op]
					o.Calls, o.Answered, o.Colleague, o.Missed = o.Calls+d.Calls, o.Answered+d.Answered, o.Colleague+d.Colleague, o.Missed+d.Missed
					ops[op] = o
					return nil
				})
			wantOps := map[string]opDay{}
			for _, o := range sum.Operators {
				wantOps[o.Operator] = opDay{Calls: o.Calls, Answered: o.CallsAnswered, Colleague: o.TakenByColleague, Missed: o.MissedCalls}
			}
			if diff := cmp.Diff(wantOps, ops); diff != "" {
				t.Errorf("operator_calls summed over the days (-summary +view):\n%s", diff)
			}
		})
	}
}

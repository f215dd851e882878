package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop/report"
)

// BenchmarkSQLiteLookupDuringYearSummary times a caller's lookup on the
// embedded store while a year's report runs again and again on the writer
// (the year's log of BenchmarkSQLiteRollupSummary): on the readers, and
// as it was on the one connection. The number is nobody's, the pop's
// commonest lookup.
func BenchmarkSQLiteLookupDuringYearSummary(b *testing.B) {
	_, year := benchSQLiteRollupLogs(b, benchRollupMonths[1], b.Cleanup)
	readers := year.reader
	from, to := benchMonthTo.AddDate(-1, 0, 0).In(benchZone), benchMonthTo.In(benchZone)
	// The first report fills the year's days, once; every run reads them.
	if _, err := year.Summary(context.Background(), from, to, report.DefaultServiceLevel); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		reader querier
	}{{"readers", readers}, {"one connection", nil}} {
		b.Run(c.name, func(b *testing.B) {
			year.reader = c.reader
			defer func() { year.reader = readers }()
			ctx, stop := context.WithCancel(context.Background())
			var (
				wg        sync.WaitGroup
				summaries int
			)
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := year.Summary(ctx, from, to, report.DefaultServiceLevel); err != nil && ctx.Err() == nil {
						b.Error(err)
						return
					}
					summaries++
				}
			})
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := year.LookupPhone(context.Background(), "+79990000000"); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			stop()
			wg.Wait()
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(b.Elapsed())/float64(b.N), "ms/op")
			b.ReportMetric(ms(took[len(took)/2]), "p50_ms")
			b.ReportMetric(ms(took[len(took)*99/100]), "p99_ms")
			b.ReportMetric(ms(took[len(took)-1]), "max_ms")
			b.ReportMetric(float64(summaries), "summaries")
		})
	}
}

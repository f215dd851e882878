package store

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
)

// apiLog is the store as GET /api/calls reads it (the daemon's lazyStore
// converts the filter the same way).
type apiLog struct{ *Postgres }

func (a apiLog) Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error {
	return a.Postgres.Calls(ctx, f, each)
}

// BenchmarkCallLogAPI asks GET /api/calls (the handler, with the analyst
// token's check, over PostgreSQL) what analysts ask of a made-up month of
// 100,000 calls (benchCallLog), and reports ms per request:
//
//	go test -run '^$' -bench CallLogAPI -benchtime 20x ./store/
func BenchmarkCallLogAPI(b *testing.B) {
	p := openBenchLog(b, benchCallLog(b))
	defer p.Close()
	ctx := context.Background()
	if _, err := p.pool.Exec(ctx, `DELETE FROM staff WHERE name = 'bench'`); err != nil {
		b.Fatal(err)
	}
	_, token, err := p.AddStaff(ctx, "bench", screenpop.RoleAnalyst)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.pool.Exec(context.Background(), `DELETE FROM staff WHERE name = 'bench'`) })
	p.SetRegion("RU")
	var number string
	if err := p.pool.QueryRow(ctx, `SELECT caller_e164 FROM calls WHERE caller_e164 IS NOT NULL
		GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&number); err != nil {
		b.Fatal(err)
	}
	now := func() time.Time { return benchMonthTo.Add(-time.Hour) }
	h := web.RequireStaff(p, screenpop.RoleAnalyst, web.CallsHandler(apiLog{p}, discard(), now))

	month := "from=2025-03-01&to=2025-03-31"
	for _, q := range []struct{ name, query string }{
		{"month-page", month + "&limit=100"},
		{"month-page-1000", month + "&limit=1000"},
		{"day-missed", "from=2025-03-14&to=2025-03-14&status=missed,abandoned&limit=1000"},
		{"month-source", month + "&source=" + url.QueryEscape(benchLines[0].source) + "&limit=100"},
		{"month-operator", month + "&operator=107&limit=100"},
		{"month-new-callers", month + "&kind=new&limit=100"},
		{"caller-all-time", "from=2020-01-01&to=2030-01-01&caller=" + url.QueryEscape(number) + "&limit=100"},
		{"month-csv", month + "&format=csv"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var bytes int
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/api/calls?"+q.query, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET /api/calls?%s: %d %s", q.query, rec.Code, rec.Body.String())
				}
				bytes = rec.Body.Len()
				if bytes < 100 {
					b.Fatalf("GET /api/calls?%s: almost nothing: %s", q.query, rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/request")
			b.ReportMetric(float64(bytes)/1024, "KiB")
		})
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

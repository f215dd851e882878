package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The reports page (static/reports.html) draws what GET
// /api/reports/summary answers: the inbound calls of a range of days by
// source, day, hour of day and operator. The page needs no token to load;
// its data needs an analyst's.

// Reports is the call log as the reports read it. Summary aggregates the
// calls of the local days from from's date to to's (excluded), in from's
// location; S is the store's summary, which the API sends as it is.
type Reports[S any] interface {
	Summary(ctx context.Context, from, to time.Time) (S, error)
}

// Report ranges: 30 days unless asked, at most a year and a day (the
// store's bound).
const (
	defaultReportDays = 30
	maxReportDays     = 367
)

// ReportsSummary serves GET /api/reports/summary?from=2006-01-02&to=2006-01-02
// (to's day included) to a staff token's holder: the summary of those
// days in loc, the daemon's zone; by default the last 30 days to today.
// Mount it behind RequireStaff.
func ReportsSummary[S any](reports Reports[S], loc *time.Location, now func() time.Time, log *slog.Logger) StaffHandler {
	return func(w http.ResponseWriter, r *http.Request, st screenpop.Staff) {
		from, to, err := reportRange(r.URL.Query(), now().In(loc))
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		s, err := reports.Summary(r.Context(), from, to.AddDate(0, 0, 1))
		if err != nil {
			log.Error("reports: summary", "from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly), "staff", st.Name, "err", err)
			WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
			return
		}
		WriteJSON(w, http.StatusOK, s)
	}
}

// reportRange reads from and to (the first and last day, in today's
// location), filling in what is missing from today.
func reportRange(q url.Values, today time.Time) (from, to time.Time, err error) {
	loc := today.Location()
	day := func(key string) (time.Time, bool, error) {
		s := q.Get(key)
		if s == "" {
			return time.Time{}, false, nil
		}
		d, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s=%q is not a date: give it as YYYY-MM-DD", key, s)
		}
		return d, true, nil
	}
	from, hasFrom, err := day("from")
	if err != nil {
		return from, to, err
	}
	to, hasTo, err := day("to")
	if err != nil {
		return from, to, err
	}
	if !hasTo {
		to = screenpop.StartOfDay(today)
	}
	if !hasFrom {
		from = to.AddDate(0, 0, 1-defaultReportDays)
	}
	if to.Before(from) {
		return from, to, fmt.Errorf("from %s is after to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	if from.AddDate(0, 0, maxReportDays).Before(to.AddDate(0, 0, 1)) {
		return from, to, fmt.Errorf("from %s to %s is more than %d days; ask for less", from.Format(time.DateOnly), to.Format(time.DateOnly), maxReportDays)
	}
	return from, to, nil
}

// ReportsPage serves the reports page, for GET /reports.
func ReportsPage() http.Handler {
	return noCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "static/reports.html")
	}))
}

package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// The reports page (static/reports.html) draws what GET
// /api/reports/summary answers: the inbound calls of a range of days by
// source, day, hour of day and operator. The page needs no token to load;
// its data needs an analyst's.

// Reports is the call log as the reports read it. Summary aggregates the
// calls of the local days from from's date to to's (excluded), in from's
// location, with sl the service level's threshold; S is the store's
// summary, which the API sends as it is, or as one of its tables in CSV.
type Reports[S ReportTables] interface {
	Summary(ctx context.Context, from, to time.Time, sl time.Duration) (S, error)
}

// ReportTables is a summary that exports its figures as tables (names:
// report.TableNames): a header, and rows of cells that are strings, ints,
// float64s, or nil for a figure that does not exist, written empty.
type ReportTables interface {
	Table(name string) (header []string, rows [][]any, ok bool)
}

// defaultReportDays is a report's range unless asked; it is at most
// report.MaxDays, the bound a summary is read with.
const defaultReportDays = 30

// ReportsSummary serves GET /api/reports/summary?from=2006-01-02&to=2006-01-02
// (to's day included) to a staff token's holder: the summary of those
// days in loc, the daemon's zone; by default the last 30 days to today.
// sl is the service level's threshold. With format=csv&table=NAME (one of
// tables) it sends that table as a CSV file, as the calls' export writes
// them (sep=semicolon for Excel in Russian). Mount it behind RequireStaff.
func ReportsSummary[S ReportTables](reports Reports[S], tables []string, sl time.Duration, loc *time.Location, now func() time.Time, log *slog.Logger) StaffHandler {
	return func(w http.ResponseWriter, r *http.Request, st screenpop.Staff) {
		q := r.URL.Query()
		from, to, err := reportRange(q, now().In(loc))
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		table, sep := "", ','
		switch format := q.Get("format"); format {
		case "", "json":
		case "csv":
			table = q.Get("table")
			if !slices.Contains(tables, table) {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("table=%q: want one of %s", table, strings.Join(tables, ", ")))
				return
			}
			if sep, err = ParseCSVSep(q.Get("sep")); err != nil {
				WriteError(w, http.StatusBadRequest, "sep: "+err.Error())
				return
			}
		default:
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("format=%q: want json or csv", format))
			return
		}
		s, err := reports.Summary(r.Context(), from, to.AddDate(0, 0, 1), sl)
		if err != nil {
			log.Error("reports: summary", "from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly), "staff", st.Name, "err", err)
			WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
			return
		}
		if table == "" {
			// The time the daemon did not see: the figures may lack the
			// calls that began and ended then.
			unseen, keeps, err := unseenIn(r.Context(), reports, from, to.AddDate(0, 0, 1), loc)
			var body any = s
			if err == nil && keeps {
				body, err = withUnseen(s, unseen)
			}
			if err != nil {
				log.Error("reports: unseen periods", "err", err)
				WriteError(w, http.StatusInternalServerError, "could not read the call log; try again")
				return
			}
			WriteJSON(w, http.StatusOK, body)
			return
		}
		header, rows, _ := s.Table(table)
		name := fmt.Sprintf("report-%s-%s_%s.csv", table, from.Format(time.DateOnly), to.Format(time.DateOnly))
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		if err := writeTable(w, sep, header, rows); err != nil && r.Context().Err() == nil {
			log.Error("reports: write CSV", "table", table, "err", err)
		}
	}
}

// writeTable writes a report's table as the calls' CSV export is written
// (see CallsCSV): a byte order mark, a header row, decimal commas with
// ';', inert text cells, and an empty cell for a figure that does not
// exist.
func writeTable(w io.Writer, sep rune, header []string, rows [][]any) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma, cw.UseCRLF = sep, true
	if err := cw.Write(header); err != nil {
		return err
	}
	c := CallsCSV{decimalComma: sep == ';'}
	line := make([]string, len(header))
	for _, row := range rows {
		for i, v := range row {
			switch v := v.(type) {
			case nil:
				line[i] = ""
			case int:
				line[i] = strconv.Itoa(v)
			case float64:
				line[i] = c.seconds(v)
			case string:
				line[i] = inert(v)
			default:
				line[i] = inert(fmt.Sprint(v))
			}
		}
		if err := cw.Write(line[:len(row)]); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
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
	if from.AddDate(0, 0, report.MaxDays).Before(to.AddDate(0, 0, 1)) {
		return from, to, fmt.Errorf("from %s to %s is more than %d days; ask for less", from.Format(time.DateOnly), to.Format(time.DateOnly), report.MaxDays)
	}
	return from, to, nil
}

// ReportsPage serves the reports page, for GET /reports.
func ReportsPage() http.Handler {
	return noCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "static/reports.html")
	}))
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
	"github.com/screenpop/screenpop/store"
)

// The lines of the reports tests: two advertised, one nobody mapped.
const (
	repYandex   = "+74951110001"
	repAvito    = "+74951110002"
	repUnmapped = "+74951110003"
)

// repCall is an inbound call to line at start that waited wait seconds;
// answeredBy ("" for nobody) answered it after its phone rang for ring
// seconds, and talked for talk seconds. missedBy are operators whose
// phones rang out first.
func repCall(id, line string, start time.Time, status screenpop.Status, wait float64, answeredBy string, ring, talk float64, missedBy ...string) screenpop.Call {
	sec := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	p := func(t time.Time) *time.Time { return &t }
	number := fmt.Sprintf("+7916%07d", len(id)*1000+int(start.Unix()%1000))
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: number, CallerE164: &number, DID: line,
		Status: status, CallerKind: screenpop.KindNew, WaitSeconds: wait, StartedAt: start, EndedAt: sec(wait + talk + 1),
		OfferedTo: []string{}, TalkedTo: []string{}}
	for _, op := range missedBy {
		c.OfferedTo = append(c.OfferedTo, op)
		c.Offers = append(c.Offers, screenpop.Offer{Operator: op, Channel: "PJSIP/" + op, DialedAt: sec(0.5),
			RingingAt: p(sec(1)), EndedAt: p(sec(wait)), Outcome: screenpop.OutcomeNoAnswer, DialStatus: "NOANSWER"})
	}
	if answeredBy != "" {
		c.AnsweredBy, c.AnsweredAt, c.TalkedTo = &answeredBy, p(sec(wait)), []string{answeredBy}
		c.OfferedTo = append(c.OfferedTo, answeredBy)
		c.Offers = append(c.Offers, screenpop.Offer{Operator: answeredBy, Channel: "PJSIP/" + answeredBy, DialedAt: sec(wait - ring - 0.5),
			RingingAt: p(sec(wait - ring)), AnsweredAt: p(sec(wait)), EndedAt: p(sec(wait + talk)), Outcome: screenpop.OutcomeAnswered, DialStatus: "ANSWER"})
	}
	return c
}

// seedReports puts two days of calls (10 and 11 March 2025, around noon
// UTC so that they stay on those days in any zone from UTC-9 to UTC+9),
// the lines' sources and an analyst's token in the daemon's store, and
// returns the token.
func seedReports(t *testing.T, dataDir string) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetRegion("RU")
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, src := range []screenpop.Source{
		{DID: repYandex, Source: "Яндекс.Директ", Campaign: "Сервис", From: since},
		{DID: repAvito, Source: "Авито", From: since},
	} {
		if _, err := db.AddSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	_, token, err := db.AddStaff(ctx, "Вера Аналитик", screenpop.RoleAnalyst)
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2025, 3, day, hour, minute, 0, 0, time.UTC) }
	const ans, missed, aband, busy, failed = screenpop.StatusAnswered, screenpop.StatusMissed, screenpop.StatusAbandoned,
		screenpop.StatusBusy, screenpop.StatusFailed
	calls := []screenpop.Call{
		repCall("a1", repYandex, at(10, 9, 5), ans, 8.5, "101", 6.5, 120),
		repCall("a2", repYandex, at(10, 9, 40), missed, 30, "", 0, 0, "101", "102"),
		repCall("a3", repYandex, at(10, 10, 15), ans, 14, "102", 4, 300, "101"),
		repCall("a4", repAvito, at(10, 11, 0), aband, 12, "", 0, 0, "102"),
		repCall("a5", repAvito, at(10, 12, 30), ans, 5.2, "101", 4.2, 60),
		repCall("a6", repUnmapped, at(10, 13, 45), busy, 1, "", 0, 0),
		repCall("b1", repYandex, at(11, 9, 10), ans, 21, "102", 3, 200, "101"),
		repCall("b2", repYandex, at(11, 9, 50), aband, 40, "", 0, 0, "101"),
		repCall("b3", repAvito, at(11, 10, 20), ans, 3.3, "101", 2.3, 45),
		repCall("b4", repAvito, at(11, 11, 5), failed, 0.4, "", 0, 0),
		repCall("b5", repUnmapped, at(11, 14, 30), ans, 9.9, "102", 5.9, 90),
		// Another day, and a call out: not in the report.
		repCall("z1", repYandex, at(12, 12, 0), missed, 30, "", 0, 0, "101"),
		{ID: "z2", Direction: screenpop.Outbound, Caller: "+79160000001", CallerE164: repPtr("+79160000001"), Status: ans,
			AnsweredBy: repPtr("101"), StartedAt: at(10, 12, 0), EndedAt: at(10, 12, 5), OfferedTo: []string{}, TalkedTo: []string{"101"}},
	}
	// a2's caller is called back half an hour later; the day before the
	// report (its previous period) had one call, answered.
	a2 := calls[1]
	calls = append(calls,
		screenpop.Call{ID: "z3", Direction: screenpop.Outbound, Caller: *a2.CallerE164, CallerE164: a2.CallerE164, Status: ans,
			AnsweredBy: repPtr("102"), StartedAt: a2.StartedAt.Add(30 * time.Minute), EndedAt: a2.StartedAt.Add(33 * time.Minute),
			OfferedTo: []string{}, TalkedTo: []string{"102"}},
		repCall("p1", repYandex, at(9, 12, 0), ans, 4, "101", 3, 60))
	if err := db.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	// What the operators noted the calls were about.
	for id, purpose := range map[string]string{"a1": "service_booking", "a3": "sales", "b1": "service_booking", "b3": "sales", "p1": "sales"} {
		if _, err := db.SaveNote(ctx, screenpop.Note{CallID: id, Purpose: purpose, Text: "",
			Operator: screenpop.Operator{Name: "Анна Смирнова", Extension: "101"}, At: at(11, 18, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	return token
}

func repPtr(s string) *string { return &s }

// apiSummary reads the summary of 10-11 March as an analyst's tool would.
func apiSummary(t *testing.T, d *daemon, token string) report.Summary {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+d.http+"/api/reports/summary?from=2025-03-10&to=2025-03-11", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s report.Summary
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/reports/summary: %d %v", resp.StatusCode, err)
	}
	return s
}

// chartData is what a Chart.js chart holds.
type chartData struct {
	Labels   []string `json:"labels"`
	Datasets []struct {
		Label string    `json:"label"`
		Data  []float64 `json:"data"`
		// Drawn says, for each value, whether its bar or slice has a size,
		// or its point is above the axis.
		Drawn []bool `json:"drawn"`
	} `json:"datasets"`
	// Painted is how many of the canvas's pixels are not blank.
	Painted int `json:"painted"`
}

// readCharts reads the page's charts from Chart.js, and counts what each
// painted.
const readCharts = `(() => {
  const out = {};
  for (const canvas of document.querySelectorAll("canvas")) {
    const c = Chart.getChart(canvas);
    if (!c) continue;
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
    out[canvas.id] = {
      labels: c.data.labels,
      datasets: c.data.datasets.map((s, i) => ({
        label: s.label, data: s.data,
        drawn: c.getDatasetMeta(i).data.map((el) => {
          const type = c.getDatasetMeta(i).type;
          if (type === "bar") return Math.abs(el.horizontal ? el.x - el.base : el.y - el.base) >= 1;
          if (type === "doughnut") return el.endAngle - el.startAngle > 0;
          return el.y >= c.chartArea.top && el.y < c.chartArea.bottom; // a point above the axis
        }),
      })),
      painted,
    };
  }
  return out;
})()`

// readTables reads the page's tables as the user sees them, row by row.
const readTables = `(() => {
  const out = {};
  for (const table of document.querySelectorAll("table[id]")) {
    out[table.id] = [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((c) => c.innerText.trim()));
  }
  return out;
})()`

// waitValue waits until the input's value is want.
func waitValue(sel, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			got, err := chromedp.Value(sel)(ctx, tg)
			if err == nil && got == want {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %s to hold %q (last %q): %w", sel, want, got, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// The page's numbers in English.
func repInt(n int) string { return strconv.Itoa(n) }
func repPct(r float64) string {
	return strconv.FormatFloat(math.Round(r*1000)/10, 'f', 1, 64) + "%"
}
func repSecs(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + " s" }

func TestBrowserReportsPageDrawsAndTabulatesTheSummary(t *testing.T) {
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	keys := seed(t, d.dataDir)
	analyst := seedReports(t, d.dataDir)
	d.start(t)
	ast.nextConn(t)
	d.waitReady(t, http.StatusOK)

	s := apiSummary(t, d, analyst)
	if s.Totals.Total != 11 || s.Totals.Answered != 6 || len(s.Sources) != 3 || len(s.Operators) != 2 || len(s.Days) != 2 {
		t.Fatalf("the API's summary of 10-11 March: %d calls, %d answered, %d sources, %d operators, %d days; want 11, 6, 3, 2, 2",
			s.Totals.Total, s.Totals.Answered, len(s.Sources), len(s.Operators), len(s.Days))
	}

	ctx := browser(t)
	page := "http://" + d.http + "/reports?from=2025-03-10&to=2025-03-11"
	// The browser speaks English. With no token yet, the page asks for one.
	step(t, ctx, "the page did not ask for a token", chromedp.Navigate(page), chromedp.WaitVisible("#login"),
		waitText("#login h1", "Sign in"), chromedp.WaitNotVisible("#report"))
	step(t, ctx, "the report did not show after signing in",
		chromedp.SendKeys("#token", analyst), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#figures"), waitText("#table-sources tbody", "Яндекс.Директ"))

	t.Run("the charts hold the API's numbers and drew them", func(t *testing.T) {
		charts, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]chartData](readCharts))
		if err != nil {
			t.Fatal(err)
		}
		type series struct {
			Label string
			Data  []float64
		}
		want := map[string][]series{}
		var dayTotals = func(days []report.Counts) []float64 {
			var out []float64
			for _, d := range days {
				out = append(out, float64(d.Total))
			}
			return out
		}
		for _, src := range s.Sources {
			name := src.Source
			if name == "" {
				name = "(no source)"
			}
			want["chart-sources"] = append(want["chart-sources"], series{name, dayTotals(src.Days)})
		}
		want["chart-outcomes"] = []series{{"", []float64{float64(s.Totals.Answered), float64(s.Totals.Missed),
			float64(s.Totals.Abandoned), float64(s.Totals.Busy), float64(s.Totals.Failed)}}}
		var rate, calls, avg, p90, answered, missed, colleague []float64
		for _, h := range s.Hours {
			rate, calls = append(rate, h.LostRate), append(calls, float64(h.Total))
		}
		for _, d := range s.Days {
			avg, p90 = append(avg, d.Wait.AvgSeconds), append(p90, d.Wait.P90Seconds)
		}
		for _, o := range s.Operators {
			answered, missed = append(answered, float64(o.CallsAnswered)), append(missed, float64(o.MissedCalls))
			colleague = append(colleague, float64(o.TakenByColleague))
		}
		want["chart-hours"] = []series{{"Lost share", rate}, {"Calls", calls}}
		want["chart-wait"] = []series{{"Wait, average", avg}, {"Wait, 90% within", p90}}
		want["chart-operators"] = []series{{"Answered", answered}, {"Missed", missed}, {"Taken by a colleague", colleague}}
		var bookings, sales []float64
		for _, src := range s.Sources[:2] { // the sources with noted calls
			n := map[string]float64{}
			for _, p := range src.Purposes {
				n[p.Purpose] = float64(p.Calls)
			}
			bookings, sales = append(bookings, n["service_booking"]), append(sales, n["sales"])
		}
		// Two of each: the tie goes by name, sales first.
		want["chart-purposes"] = []series{{"Car purchase", sales}, {"Service booking", bookings}}

		for id, w := range want {
			c, ok := charts[id]
			if !ok {
				t.Errorf("%s: no chart", id)
				continue
			}
			var got []series
			for _, ds := range c.Datasets {
				got = append(got, series{ds.Label, ds.Data})
				for i, v := range ds.Data {
					if v != 0 && !ds.Drawn[i] {
						t.Errorf("%s: %s's value %v (#%d) was not drawn", id, ds.Label, v, i)
					}
				}
			}
			if id == "chart-outcomes" {
				got[0].Label = ""
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("%s's data is not the API's (-API +chart):\n%s", id, diff)
			}
			if c.Painted < 1000 {
				t.Errorf("%s painted %d pixels: the canvas is blank", id, c.Painted)
			}
		}
		if got, want := charts["chart-sources"].Labels, []string{"Mar 10", "Mar 11"}; !cmp.Equal(got, want) {
			t.Errorf("the days of the sources chart are %q, want %q", got, want)
		}
		if got, want := charts["chart-operators"].Labels, []string{"Анна Смирнова (101)", "Борис Волков (102)"}; !cmp.Equal(got, want) {
			t.Errorf("the operators chart's operators are %q, want %q", got, want)
		}
	})

	t.Run("the tables show the same numbers", func(t *testing.T) {
		// The long tables are folded under their charts: open them, as a
		// reader would.
		step(t, ctx, "the chart tables did not open", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach((d) => { d.open = true; })`))
		tables, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][][]string](readTables))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][][]string{}
		for _, src := range s.Sources {
			name := src.Source
			if name == "" {
				name = "(no source)"
			}
			link := "CSV"
			if src.Source == "" {
				link = ""
			}
			want["table-sources"] = append(want["table-sources"], []string{name, repInt(src.Total), repInt(src.Answered), repInt(src.Missed),
				repInt(src.Abandoned), repInt(src.Busy), repInt(src.Failed), repPct(src.LostRate), repInt(src.NewCallers),
				repInt(src.Callers.Distinct), repPct(src.ServiceLevel.Rate), link})
		}
		for i, d := range s.Days {
			r := []string{map[string]string{"2025-03-10": "Mon, Mar 10, 2025", "2025-03-11": "Tue, Mar 11, 2025"}[d.Date]}
			for _, src := range s.Sources {
				r = append(r, repInt(src.Days[i].Total))
			}
			want["table-sources-days"] = append(want["table-sources-days"], append(r, repInt(d.Total)))
			want["table-wait"] = append(want["table-wait"], []string{r[0], repInt(d.Wait.Answered), repSecs(d.Wait.AvgSeconds), repSecs(d.Wait.P90Seconds),
				repPct(d.ServiceLevel.Rate)})
		}
		tot, sh := s.Totals, s.Shares
		want["table-outcomes"] = [][]string{
			{"Answered", repInt(tot.Answered), repPct(sh.Answered)}, {"Missed", repInt(tot.Missed), repPct(sh.Missed)},
			{"Abandoned", repInt(tot.Abandoned), repPct(sh.Abandoned)}, {"Busy", repInt(tot.Busy), repPct(sh.Busy)},
			{"Failed", repInt(tot.Failed), repPct(sh.Failed)},
		}
		for _, h := range s.Hours {
			want["table-hours"] = append(want["table-hours"], []string{fmt.Sprintf("%02d:00", h.Hour), repInt(h.Total), repInt(h.Lost), repPct(h.LostRate)})
		}
		for _, o := range s.Operators {
			want["table-operators"] = append(want["table-operators"], []string{o.Name + " (" + o.Operator + ")", repInt(o.Calls), repInt(o.CallsAnswered),
				repInt(o.TakenByColleague), repInt(o.MissedCalls), repPct(o.AnswerRate), repInt(o.Offered), repSecs(o.RingAvgSeconds), repSecs(o.TalkAvgSeconds)})
		}
		for id, w := range want {
			if diff := cmp.Diff(w, tables[id]); diff != "" {
				t.Errorf("%s does not show the API's numbers (-API +page):\n%s", id, diff)
			}
		}
		heads, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`Object.fromEntries([...document.querySelectorAll("table[id]")].map(
			(t) => [t.id, [...t.querySelectorAll("thead th")].map((th) => th.innerText.trim())]))`))
		if err != nil {
			t.Fatal(err)
		}
		wantHeads := map[string][]string{
			"table-sources": {"Source", "Calls", "Answered", "Missed", "Abandoned", "Busy", "Failed", "Lost share", "New callers",
				"Distinct callers", "Service level: answered within 20 s", ""},
			"table-sources-days": {"Day", "Яндекс.Директ", "Авито", "(no source)", "Total"},
			"table-outcomes":     {"Outcome", "Calls", "Share"},
			"table-hours":        {"Hour", "Calls", "Lost", "Lost share"},
			"table-wait":         {"Day", "Answered", "Wait, average", "Wait, 90% within", "Service level: answered within 20 s"},
			"table-operators": {"Operator", "Calls that rang", "Answered", "Taken by a colleague", "Missed", "Answer rate", "Rings",
				"Ringing before answer, average", "Talk, average"},
			"table-purposes":   {"Source", "Calls", "Car purchase", "Service booking"},
			"table-callbacks":  {"Source", "Missed (with a number)", "Called back", "Median", "Within an hour", "Within a day", "Never"},
			"table-comparison": {"Figure", "Mar 10 to Mar 11", "Mar 08 to Mar 09", "Change"},
		}
		if diff := cmp.Diff(wantHeads, heads); diff != "" {
			t.Errorf("the tables' columns (-want +page):\n%s", diff)
		}
		tiles := text(t, ctx, "#totals")
		for _, w := range []string{"Calls\n" + repInt(tot.Total), repInt(tot.Lost) + " · " + repPct(tot.LostRate), repSecs(s.Wait.AvgSeconds), repSecs(s.Wait.P90Seconds)} {
			if !strings.Contains(tiles, w) {
				t.Errorf("the totals %q do not say %q", tiles, w)
			}
		}
		// Each source's CSV link exports its calls, as many as the report
		// counts.
		links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#export, #table-sources a[href]")].map((a) => a.href)`))
		if err != nil || len(links) != 3 {
			t.Fatalf("the CSV links: %q (%v), want one for the period and one per advertised source", links, err)
		}
		for i, want := range []int{s.Totals.Total, s.Sources[0].Total, s.Sources[1].Total} {
			if !strings.Contains(links[i], "/api/calls?format=csv&from=2025-03-10&to=2025-03-11&direction=inbound") {
				t.Errorf("CSV link %s is not of the report's calls", links[i])
				continue
			}
			resp, err := http.Get(links[i])
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rows := strings.Count(strings.TrimSpace(string(body)), "\n"); resp.StatusCode != http.StatusOK || rows != want {
				t.Errorf("CSV link %s: %d with %d calls, want %d:\n%s", links[i], resp.StatusCode, rows, want, body)
			}
		}
	})

	t.Run("the marketing figures: purposes, callers, callbacks, service level, the previous period", func(t *testing.T) {
		tables, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][][]string](readTables))
		if err != nil {
			t.Fatal(err)
		}
		// Counted by hand from seedReports: Яндекс.Директ's five calls had
		// two service bookings (a1, b1) and a sale (a3), Авито's four a
		// sale (b3); a2's caller was called back after 30 minutes, a4's and
		// b2's never (a6 was busy and b4 failed: not missed).
		want := map[string][][]string{
			"table-purposes": {
				{"Яндекс.Директ", "5", "1 (20.0%)", "2 (40.0%)"},
				{"Авито", "4", "1 (25.0%)", "0"},
				{"(no source)", "2", "0", "0"},
			},
			"table-callbacks": {
				{"Яндекс.Директ", "2", "1", "30 min", "1 · 50.0%", "1 · 50.0%", "1 · 50.0%"},
				{"Авито", "1", "0", "—", "0 · 0.0%", "0 · 0.0%", "1 · 100.0%"},
				{"Total", "3", "1", "30 min", "1 · 33.3%", "1 · 33.3%", "2 · 66.7%"},
			},
		}
		for id, w := range want {
			if diff := cmp.Diff(w, tables[id]); diff != "" {
				t.Errorf("%s (-hand-counted +page):\n%s", id, diff)
			}
		}
		// repCall's numbers repeat every 50 minutes: the eleven calls came
		// from eight numbers.
		if s.Callers.Distinct != 8 || s.Previous.Totals.Total != 1 || s.Callbacks.CalledBack != 1 || s.Callbacks.MedianSeconds != 1800 {
			t.Errorf("the API's callers %+v, previous period %+v, callbacks %+v; want 8 numbers, 1 call before, 1 called back after 30 min",
				s.Callers, s.Previous.Totals, s.Callbacks)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`Object.fromEntries([...document.querySelectorAll("#table-comparison tbody tr")].map(
			(tr) => [tr.dataset.figure, [...tr.cells].map((c) => c.innerText.trim())]))`))
		if err != nil {
			t.Fatal(err)
		}
		for key, w := range map[string][]string{
			"calls":           {"Calls", "11", "1", "+1,000.0%"},
			"distinctCallers": {"Distinct callers", "8", "1", "+700.0%"},
			"purpose_sales":   {"Car purchase", "2", "1", "+100.0%"},
			"serviceLevel": {"Service level: answered within 20 s", repPct(s.ServiceLevel.Rate), "100.0%",
				strconv.FormatFloat(math.Round((s.ServiceLevel.Rate-1)*1000)/10, 'f', 1, 64) + " pp"},
		} {
			if diff := cmp.Diff(w, rows[key]); diff != "" {
				t.Errorf("the comparison's %s row (-want +page):\n%s", key, diff)
			}
		}
		tiles := text(t, ctx, "#totals")
		for _, w := range []string{"Service level: answered within 20 s\n" + repPct(s.ServiceLevel.Rate) + "\nprevious period: 100.0%",
			"Distinct callers\n8\nprevious period: 1", "Missed callers called back, median\n30 min"} {
			if !strings.Contains(tiles, w) {
				t.Errorf("the totals %q do not say %q", tiles, w)
			}
		}
		// The tables' CSV links give the same figures.
		link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('a[data-table="sources"]').href`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(body), "\uFEFF")), "\r\n")
		if resp.StatusCode != 200 || len(lines) != 1+len(s.Sources) || !strings.HasPrefix(lines[0], "source,total,answered") ||
			!strings.HasPrefix(lines[1], "Яндекс.Директ,5,") || !strings.HasSuffix(lines[1], ",1,2") {
			t.Errorf("the sources CSV: %d\n%s", resp.StatusCode, body)
		}
		if dir := os.Getenv("SCREENPOP_SCREENSHOTS"); dir != "" {
			if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "reports.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("the page speaks Russian", func(t *testing.T) {
		step(t, ctx, "the page did not switch to Russian", chromedp.Click("#lang"),
			waitText("#h-sources", "Звонки по источникам и дням"), waitText("#table-outcomes tbody", "Отвечены"),
			waitText("#table-outcomes tbody", strings.ReplaceAll(repPct(s.Shares.Answered), ".", ",")))
		labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Chart.getChart("chart-sources").data.datasets.map((d) => d.label)`))
		if err != nil || labels[len(labels)-1] != "(без источника)" {
			t.Errorf("the sources chart's sources in Russian: %q (%v)", labels, err)
		}
		step(t, ctx, "the page did not switch back to English", chromedp.Click("#lang"), waitText("#h-sources", "Calls by source and day"))
	})

	t.Run("the quick ranges ask for their days", func(t *testing.T) {
		today := time.Now()
		for _, tc := range []struct {
			button   string
			from, to time.Time
		}{
			{"7", today.AddDate(0, 0, -6), today},
			{"month", time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.Local), today},
			{"today", today, today},
		} {
			from, to := tc.from.Format(time.DateOnly), tc.to.Format(time.DateOnly)
			step(t, ctx, "the "+tc.button+" button did not show "+from+" to "+to,
				chromedp.Click(`#range [data-days="`+tc.button+`"]`), waitText("#status", "No inbound calls on these days"),
				waitValue("#from", from), waitValue("#to", to))
		}
		// The last days had no calls: nobody waited, and the wait is a gap
		// in the chart and a dash in its table, not 0 s.
		empty, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`Chart.getChart("chart-wait").data.datasets.every((d) => d.data.every((v) => v === null))
			&& [...document.querySelectorAll("#table-wait tbody tr")].every((tr) => tr.cells[2].innerText.trim() === "—" && tr.cells[4].innerText.trim() === "—")`))
		if err != nil || !empty {
			t.Errorf("days without calls show a wait: %v", err)
		}
		step(t, ctx, "the range typed in was not shown",
			chromedp.SetValue("#from", "2025-03-11"), chromedp.SetValue("#to", "2025-03-11"), chromedp.Click(`#range button[type="submit"]`),
			waitText("#period", "Tue, Mar 11, 2025 to Tue, Mar 11, 2025"), waitText("#totals", "Calls\n5"))
	})

	t.Run("an operator's key is refused", func(t *testing.T) {
		step(t, ctx, "signing out did not ask for a token again", chromedp.Click("#logout"), chromedp.WaitVisible("#login"),
			chromedp.WaitNotVisible("#report"))
		step(t, ctx, "an operator's key was not refused",
			chromedp.SendKeys("#token", keys["101"]), chromedp.Click(`#login button[type="submit"]`),
			waitText("#login-error", "Operators' keys open the pop page only"), chromedp.WaitVisible("#login"), chromedp.WaitNotVisible("#report"))
		stored, err := chromedp.Run(ctx, chromedp.Evaluate[*string](`localStorage.getItem("screenpop.staffToken")`))
		if err != nil || stored != nil {
			t.Errorf("the refused key stays in the browser: %v (%v)", stored, err)
		}
	})
}

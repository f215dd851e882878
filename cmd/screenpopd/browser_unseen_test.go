package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// seedUnseen puts in the daemon's store, beside the reports' calls of 10
// and 11 March 2025, two overlapping periods the daemon did not see the
// PBX on 10 March (an hour in all) and one on 12 March, outside the range.
func seedUnseen(t *testing.T, dataDir string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(dataDir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := func(day, hour, minute int) time.Time { return time.Date(2025, 3, day, hour, minute, 0, 0, time.UTC) }
	if err := db.SaveUnseen(ctx, []screenpop.UnseenPeriod{
		{From: at(10, 10, 0), To: at(10, 10, 45), Reason: screenpop.UnseenARIDrop, CallsInProgress: 2},
		{From: at(10, 10, 30), To: at(10, 11, 0), Reason: screenpop.UnseenCrashed},
		{From: at(12, 10, 0), To: at(12, 12, 0), Reason: screenpop.UnseenStopped},
	}); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserReportsPageShowsTheTimeTheDaemonDidNotSee(t *testing.T) {
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	seed(t, d.dataDir)
	analyst := seedReports(t, d.dataDir)
	seedUnseen(t, d.dataDir)
	d.start(t)
	ast.nextConn(t)
	d.waitReady(t, http.StatusOK)

	get := func(t *testing.T, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+d.http+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+analyst)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
		}
		return resp, b
	}
	t.Run("the report's JSON counts an hour unseen, each moment once", func(t *testing.T) {
		_, b := get(t, "/api/reports/summary?from=2025-03-10&to=2025-03-11")
		var s struct {
			Totals struct{ Total int } `json:"totals"`
			Unseen struct {
				Seconds float64 `json:"seconds"`
				Periods []struct {
					Reason  string `json:"reason"`
					Warning string `json:"warning"`
				} `json:"periods"`
			} `json:"unseen"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if s.Totals.Total != 11 || s.Unseen.Seconds != 3600 || len(s.Unseen.Periods) != 2 {
			t.Errorf("summary: %d calls, %v s unseen in %d periods; want 11 calls, 3600 s in 2", s.Totals.Total, s.Unseen.Seconds, len(s.Unseen.Periods))
		}
	})
	t.Run("the calls listing and its CSV export warn of the periods", func(t *testing.T) {
		_, b := get(t, "/api/calls?from=2025-03-10&to=2025-03-11")
		var page struct {
			Calls  []json.RawMessage `json:"calls"`
			Unseen struct {
				Periods []struct {
					Warning string `json:"warning"`
				} `json:"periods"`
			} `json:"unseen"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Unseen.Periods) != 2 || !strings.Contains(page.Unseen.Periods[1].Warning, "the call log did not see Asterisk from ") ||
			!strings.HasSuffix(page.Unseen.Periods[1].Warning, "(ARI drop): calls that began and ended then are not in it") {
			t.Errorf("the listing's unseen periods: %+v", page.Unseen)
		}
		resp, csv := get(t, "/api/calls?from=2025-03-10&to=2025-03-11&format=csv")
		rows := strings.Count(string(csv), "\r\n")
		if resp.Header.Get("Screenpop-Unseen-Periods") != "2" || len(resp.Header.Values("Screenpop-Unseen")) != 2 {
			t.Errorf("CSV headers %v, want 2 unseen periods told", resp.Header)
		}
		if rows != len(page.Calls)+1 {
			t.Errorf("the CSV has %d lines, want a header and the %d calls: its shape is unchanged", rows, len(page.Calls))
		}
	})

	ctx := browser(t)
	step(t, ctx, "the report did not show after signing in",
		chromedp.Navigate("http://"+d.http+"/reports?from=2025-03-10&to=2025-03-11"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#token", analyst), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#figures"), waitText("#table-sources tbody", "Яндекс.Директ"))
	step(t, ctx, "the page does not say the hour the daemon did not see the PBX",
		chromedp.WaitVisible("#unseen"),
		waitText("#unseen", "The daemon did not see the PBX for 60 min on these days (2 times"))
	step(t, ctx, "a range with no period unseen still says one",
		chromedp.Navigate("http://"+d.http+"/reports?from=2025-03-11&to=2025-03-11"),
		chromedp.WaitVisible("#figures"), waitValue("#from", "2025-03-11"), chromedp.WaitNotVisible("#unseen"))
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/spool"
)

// The admin page (GET /admin) and its API (GET /api/admin/status, admin
// staff tokens only), and the pop latency metric.
func mountAdmin(d serveDeps) error {
	return mountAdminPage(d, func(ctx context.Context) web.AdminStatus {
		s := adminStatus(ctx, d.client, d.intake, d.tracker)
		s.Problems = append(s.Problems, rejectedNotes(d.writer)...)
		addUnseen(ctx, &s, d)
		return s
	})
}

// mountAdminPage mounts the admin page, which shows status, and the pop
// latency metric of d.tracker.
func mountAdminPage(d serveDeps, status func(context.Context) web.AdminStatus) error {
	// The pop latency: from call tracking taking a call's first event to
	// the pop being pushed to the operator's pages (the tracker tells the
	// popper synchronously, then says how long it took).
	pops := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "screenpop_pop_seconds",
		Help: "Time from call tracking taking a call's first event to the pop being pushed to the ringing operator's pages.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1,
			2.5, 5, 10, 30},
	})
	if err := d.reg.Register(pops); err != nil {
		return err
	}
	d.tracker.RingNotified = func(since time.Duration) { pops.Observe(since.Seconds()) }

	d.web.Handle("GET /admin", web.AdminPage())
	d.web.Handle("GET /api/admin/status", web.RequireStaff(d.staff, screenpop.RoleAdmin, web.AdminStatusHandler(status)))
	return nil
}

// addUnseen lists the last unseen periods on the admin page.
func addUnseen(ctx context.Context, s *web.AdminStatus, d serveDeps) {
	unseen, err := web.LastUnseen(ctx, d.db, adminUnseen, time.Local)
	if err != nil {
		s.Problems = append(s.Problems, "the unseen periods cannot be listed: "+err.Error())
	}
	s.Unseen = unseen
}

// adminUnseen is how many of the last unseen periods the admin page lists.
const adminUnseen = 10

// adminStatus gathers what the admin page shows.
func adminStatus(ctx context.Context, client *ari.Client, intake *ari.Intake, tracker *screenpop.Tracker) web.AdminStatus {
	s := web.AdminStatus{At: time.Now().UTC(), ARI: ariStatus(client.Diagnostics())}
	for _, e := range intake.RecentEvents() {
		s.Events = append(s.Events, web.AdminEvent{At: e.At, Type: e.Type, Channel: e.Channel, Peer: e.Peer, Detail: e.Detail, Result: e.Result})
	}
	snap, err := tracker.Snapshot(ctx)
	if err != nil {
		s.Problems = append(s.Problems, "the calls cannot be listed: "+err.Error())
	}
	s.OpenCalls, s.OpenCount, s.RecentCalls = snap.Open, snap.OpenCount, snap.Recent
	return s
}

func ariStatus(d ari.Diagnostics) web.ARIStatus {
	s := web.ARIStatus{URL: d.URL, App: d.App, SubscribeAll: d.SubscribeAll, Connected: d.Connected, Replaced: d.Replaced,
		Reconnects: d.Reconnects, Failures: d.Failures, Errors: make([]web.ARIError, 0, len(d.Errors))}
	if !d.Since.IsZero() {
		since := d.Since.UTC()
		s.Since = &since
	}
	for _, e := range d.Errors {
		s.Errors = append(s.Errors, web.ARIError{Kind: e.Kind, Text: e.Text, First: e.First.UTC(), Last: e.Last.UTC(), Count: e.Count})
	}
	return s
}

// rejectedNotes says, for /readyz and the admin page, that the database
// refused call records since the start, and where they are.
func rejectedNotes(w *spool.Writer) []string {
	n := w.Rejected()
	if n == 0 {
		return nil
	}
	last := w.LastRejected()
	return []string{fmt.Sprintf("call log: %d call record(s) refused by the database since the start, set aside in rejected_calls "+
		"(screenpopd calls --rejected lists them); the last, call %s at %s: %s", n, last.CallID,
		last.At.Format(time.RFC3339), last.Reason)}
}

package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/spool"
	"github.com/screenpop/screenpop/store"
)

// serveDeps is what serve hands to the staff's pages and APIs (mountCalls,
// mountReports, mountAdmin) as they mount on the daemon's HTTP server.
type serveDeps struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	db      *store.Lazy
	staff   web.StaffAuthenticator // db, behind the wrong-key limit
	client  *ari.Client
	intake  *ari.Intake
	tracker *screenpop.Tracker
	// boxes are the boxes this daemon tracks, each with its tracker (the
	// first is tracker, the first box's): the wallboard watches them all.
	boxes  []trackedBox
	web    *web.Server
	writer *spool.Writer
	cfg    Config
}

// trackedBox is a box and the tracker that follows its calls, as the
// call log names it (pbx).
type trackedBox struct {
	pbx     string
	tracker *screenpop.Tracker
}

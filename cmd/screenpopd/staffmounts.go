package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// serveDeps is what serve hands to the staff's pages and APIs (mountCalls,
// mountReports, mountAdmin) as they mount on the daemon's HTTP server.
type serveDeps struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	db      *lazyStore
	staff   web.StaffAuthenticator // db, behind the wrong-key limit
	client  *ari.Client
	intake  *ari.Intake
	tracker *screenpop.Tracker
	web     *web.Server
	writer  *store.Writer
	cfg     Config
}

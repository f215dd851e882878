package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
)

// serveDeps is what serve hands to the features that mount their pages
// and APIs on the daemon's HTTP server.
type serveDeps struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	db      *lazyStore
	client  *ari.Client
	metrics *ari.Metrics
	intake  *ari.Intake
	tracker *screenpop.Tracker
	hub     *screenpop.Hub
	popper  *screenpop.Popper
	web     *web.Server
}

// mounts are the features that add handlers to the daemon's HTTP server
// (the analysts' API, reports, the admin page). Each registers itself in
// an init function of its own file; serve calls them in order.
var mounts []func(d serveDeps) error

// commands are the subcommands that register themselves the same way.
var commands []func() *cobra.Command

package main

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// The pop can look callers up in the dealership's CRM (crm.dsn, crm.query)
// rather than in the client base screenpop keeps. The store still keeps
// the call log, the leads screenpop makes of unknown callers, and notes.

var queryParam = regexp.MustCompile(`\$([0-9]+)`)

// checkCRMConfig reports what is wrong with the crm.* settings.
func checkCRMConfig(c Config, bad func(key, format string, args ...any)) {
	dsn := string(c.CRMDSN)
	switch {
	case dsn == "" && c.CRMQuery != "":
		bad("crm.dsn", "must be set for crm.query to be used: the PostgreSQL DSN of the CRM")
	case dsn != "" && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.Contains(dsn, "="):
		bad("crm.dsn", "want a PostgreSQL URL (postgres://user@host/db) or key=value DSN")
	}
	if dsn == "" {
		return
	}
	if c.CRMQuery == "" {
		bad("crm.query", "must be set with crm.dsn: the SQL that finds the clients with the caller's number, $1")
		return
	}
	highest := 0
	for _, m := range queryParam.FindAllStringSubmatch(c.CRMQuery, -1) {
		n, _ := strconv.Atoi(m[1])
		highest = max(highest, n)
	}
	if highest < 1 || highest > 2 {
		bad("crm.query", "must take the caller's number as $1 (E.164) and may take its national digits as $2, nothing else; found $%d", highest)
	}
}

func crmConfig(cfg Config) store.CRMConfig {
	return store.CRMConfig{DSN: string(cfg.CRMDSN), Query: cfg.CRMQuery, Timeout: cfg.CRMTimeout, Region: cfg.Region}
}

// clientDirectory is the directory the pop looks callers up in: own (the
// store) when no CRM is set, else the CRM first, then own (see
// store.CRMDirectory).
func clientDirectory(ctx context.Context, cfg Config, own screenpop.Directory, log *slog.Logger) (dir screenpop.Directory, closeDir func(), err error) {
	if cfg.CRMDSN == "" {
		return own, func() {}, nil
	}
	return store.CRMDirectory(ctx, crmConfig(cfg), own, log)
}

// checkCRM tries the CRM for screenpopd check (see store.CheckCRM).
func checkCRM(ctx context.Context, cfg Config) (string, error) {
	return store.CheckCRM(ctx, crmConfig(cfg))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

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

// crmCheckTimeout bounds connecting to the CRM at start and in check.
const crmCheckTimeout = 10 * time.Second

// clientDirectory is the directory the pop looks callers up in: own (the
// store) when no CRM is set, else the CRM first, then own. closeDir releases
// the CRM's connections, after the last lookup.
//
// A query the CRM refuses, or whose columns do not fit the card, stops the
// daemon from starting, with what to fix. A CRM that cannot be reached
// does not: lookups go to the store until it answers.
func clientDirectory(ctx context.Context, cfg Config, own screenpop.Directory, log *slog.Logger) (dir screenpop.Directory, closeDir func(), err error) {
	if cfg.CRMDSN == "" {
		return own, func() {}, nil
	}
	crm, err := store.OpenCRM(crmConfig(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("crm: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, crmCheckTimeout)
	cols, err := crm.Check(cctx)
	cancel()
	switch {
	case errors.Is(err, store.ErrBadCRMQuery):
		crm.Close()
		return nil, nil, fmt.Errorf("crm.query: %w", err)
	case err != nil:
		log.Error("the CRM is not reachable; callers are looked up in screenpop's own client base until it answers", "err", err)
	default:
		log.Info("looking callers up in the CRM", "columns", strings.Join(cols, ","), "timeout", cfg.CRMTimeout)
	}
	return &crmDirectory{crm: crm, own: own, log: log}, crm.Close, nil
}

// crmWarnEvery is how often a CRM that keeps failing is logged again.
const crmWarnEvery = time.Minute

// crmDirectory looks callers up in the CRM, and in the store when the CRM
// has nobody with the number (the leads screenpop made) or does not
// answer in time.
type crmDirectory struct {
	crm *store.CRM
	own screenpop.Directory
	log *slog.Logger

	mu       sync.Mutex
	failing  bool
	warnedAt time.Time
	missed   int // failures since the last warning
}

func (d *crmDirectory) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	recs, err := d.crm.LookupPhone(ctx, e164)
	d.noteOutcome(e164, err)
	if err == nil && len(recs) > 0 {
		return recs, nil
	}
	return d.own.LookupPhone(ctx, e164)
}

// noteOutcome logs a failing CRM once, then once a minute with how many
// lookups failed meanwhile, and its recovery: a CRM down at a busy hour
// must not flood the log with a line a call.
func (d *crmDirectory) noteOutcome(e164 string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err == nil && d.failing:
		d.failing = false
		d.log.Info("the CRM answers lookups again")
	case err == nil:
	case !d.failing || time.Since(d.warnedAt) >= crmWarnEvery:
		d.log.Warn("CRM lookup failed; the pop shows what screenpop itself knows of the caller",
			"caller", screenpop.MaskNumber(e164), "err", err, "failed_since_last_warning", d.missed)
		d.failing, d.warnedAt, d.missed = true, time.Now(), 0
	default:
		d.missed++
	}
}

// checkCRM tries the CRM for screenpopd check: it connects, prepares the
// query, and times a lookup of a number nobody has. It returns what to
// print after "ok", or what is wrong; crmHint says how to fix it.
func checkCRM(ctx context.Context, cfg Config) (string, error) {
	crm, err := store.OpenCRM(crmConfig(cfg))
	if err != nil {
		return "", err
	}
	defer crm.Close()
	cctx, cancel := context.WithTimeout(ctx, crmCheckTimeout)
	defer cancel()
	cols, err := crm.Check(cctx)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if _, err := crm.LookupPhone(cctx, "+70000000000"); err != nil {
		return "", err
	}
	return fmt.Sprintf("a lookup took %s of the %s allowed; columns %s",
		time.Since(start).Round(10*time.Microsecond), cfg.CRMTimeout, strings.Join(cols, ", ")), nil
}

// crmHint says how to fix what checkCRM found.
func crmHint(err error) string {
	if err == nil {
		return ""
	}
	switch msg := err.Error(); {
	case errors.Is(err, store.ErrBadCRMQuery):
		return "the columns the card reads are listed in config.example.yaml under crm.query"
	case errors.Is(err, context.DeadlineExceeded) && strings.Contains(msg, "no answer within"):
		return "the query is slower than crm.timeout: index the CRM's phone column (by the expression the query compares), or raise crm.timeout"
	case strings.Contains(msg, "password"), strings.Contains(msg, "authentication"):
		return "check the user and password in crm.dsn"
	default:
		return "is the CRM's PostgreSQL running and reachable at the host and port in crm.dsn?"
	}
}

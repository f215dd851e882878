package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The pop can look callers up in the dealership's CRM rather than in the
// client base screenpop keeps. The store still keeps the call log, the
// leads screenpop makes of unknown callers, and notes.

// crmCheckTimeout bounds connecting to the CRM at start and in a check.
const crmCheckTimeout = 10 * time.Second

// CRMDirectory is the directory the pop looks callers up in when a CRM is
// set: the CRM first, then own. closeDir releases the CRM's connections,
// after the last lookup.
//
// A query the CRM refuses, or whose columns do not fit the card, is an
// error wrapping ErrBadCRMQuery, with what to fix. A CRM that cannot be
// reached is not: lookups go to own until it answers.
func CRMDirectory(ctx context.Context, cfg CRMConfig, own screenpop.Directory, log *slog.Logger) (dir screenpop.Directory, closeDir func(), err error) {
	crm, err := OpenCRM(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("crm: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, crmCheckTimeout)
	cols, err := crm.Check(cctx)
	cancel()
	switch {
	case errors.Is(err, ErrBadCRMQuery):
		crm.Close()
		return nil, nil, fmt.Errorf("crm.query: %w", err)
	case err != nil:
		log.Error("the CRM is not reachable; callers are looked up in screenpop's own client base until it answers", "err", err)
	default:
		log.Info("looking callers up in the CRM", "columns", strings.Join(cols, ","), "timeout", cfg.Timeout)
	}
	return &crmDirectory{crm: crm, own: own, log: log}, crm.Close, nil
}

// crmWarnEvery is how often a CRM that keeps failing is logged again.
const crmWarnEvery = time.Minute

// crmDirectory looks callers up in the CRM, and in the store when the CRM
// has nobody with the number (the leads screenpop made) or does not
// answer in time.
type crmDirectory struct {
	crm *CRM
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

// CheckCRM tries the CRM for a check: it connects, prepares the query,
// and times a lookup of a number nobody has. It returns what to print
// after "ok", or what is wrong; CRMProblem says how to fix it.
func CheckCRM(ctx context.Context, cfg CRMConfig) (string, error) {
	crm, err := OpenCRM(cfg)
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
		time.Since(start).Round(10*time.Microsecond), cfg.Timeout, strings.Join(cols, ", ")), nil
}

// CRMProblem says what is wrong with the CRM, from an error of CheckCRM,
// and how to fix it.
func CRMProblem(cfg CRMConfig, err error, timeout time.Duration) Problem {
	switch {
	case errors.Is(err, ErrBadCRMQuery):
		return Problem{err.Error(), "the columns the card reads are listed in config.example.yaml under crm.query"}
	case errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "no answer within"):
		return Problem{err.Error(), "the query is slower than crm.timeout: index the CRM's phone column (by the expression the query compares), or raise crm.timeout"}
	}
	return PostgresProblem(err, cfg.DSN, "crm.dsn", timeout)
}

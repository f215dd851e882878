package store

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// The unseen periods (screenpop.UnseenPeriod): when the daemon did not see
// a box's events, so that the call log may lack the calls that began and
// ended then. They come through the spool and the Writer as call records
// do, and are kept once by (pbx, from).

// saveUnseenQuery keeps a period once by its key. The same period
// recorded again (a spool replayed) changes nothing; one recorded again
// with a later end (a crash after it was spooled, then a restart from the
// same saved state) is the same hole, seen longer: it keeps the later end
// and what its resync found.
const saveUnseenQuery = `INSERT INTO unseen_periods (pbx, from_at, to_at, reason, calls_in_progress, calls_ended_unseen)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (pbx, from_at) DO UPDATE SET
		calls_in_progress = CASE WHEN excluded.to_at > unseen_periods.to_at THEN excluded.calls_in_progress ELSE unseen_periods.calls_in_progress END,
		calls_ended_unseen = CASE WHEN excluded.to_at > unseen_periods.to_at THEN excluded.calls_ended_unseen ELSE unseen_periods.calls_ended_unseen END,
		to_at = CASE WHEN excluded.to_at > unseen_periods.to_at THEN excluded.to_at ELSE unseen_periods.to_at END`

// SaveUnseen stores unseen periods in one transaction, each once by (pbx,
// from). A period of no length is no hole: it is skipped.
func (s *sqlStore) SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error {
	err := s.inTx(ctx, func(tx tx) error {
		for _, p := range periods {
			from, to := msUTC(p.From), msUTC(p.To)
			if !to.After(from) {
				continue
			}
			if _, err := tx.exec(ctx, saveUnseenQuery, cleanText(p.PBX, maxText), from, to, cleanText(string(p.Reason), maxText),
				max(p.CallsInProgress, 0), max(p.CallsEndedUnseen, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save unseen periods: %w", err)
	}
	return nil
}

// UnseenPeriods lists the periods that overlap [from, to) (a zero bound:
// none), of every box, the latest first; limit > 0 lists that many at most.
func (s *sqlStore) UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error) {
	q := `SELECT pbx, from_at, to_at, reason, calls_in_progress, calls_ended_unseen FROM unseen_periods WHERE true`
	var args []any
	if !from.IsZero() {
		args = append(args, msUTC(from))
		q += fmt.Sprintf(" AND to_at > $%d", len(args))
	}
	if !to.IsZero() {
		args = append(args, msUTC(to))
		q += fmt.Sprintf(" AND from_at < $%d", len(args))
	}
	q += " ORDER BY from_at DESC, pbx"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	list, err := queryAll(ctx, s.conn, func(r row) (screenpop.UnseenPeriod, error) {
		var (
			p      screenpop.UnseenPeriod
			reason string
		)
		err := r.Scan(&p.PBX, &p.From, &p.To, &reason, &p.CallsInProgress, &p.CallsEndedUnseen)
		p.Reason, p.From, p.To = screenpop.UnseenReason(reason), p.From.UTC(), p.To.UTC()
		return p, err
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list unseen periods: %w", err)
	}
	return list, nil
}

// SaveUnseen: see sqlStore.SaveUnseen.
func (l *Lazy) SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.SaveUnseen(ctx, periods) })
	return err
}

// UnseenPeriods: see sqlStore.UnseenPeriods.
func (l *Lazy) UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error) {
	return on(l, func(db DB) ([]screenpop.UnseenPeriod, error) { return db.UnseenPeriods(ctx, from, to, limit) })
}

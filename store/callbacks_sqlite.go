package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// sqliteQuerier is the database or a transaction.
type sqliteQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	sqliteCallbacksQuery     = sqliteParams(callbacksQuery)
	sqliteCallbackQuery      = sqliteParams(callbackQuery)
	sqliteClaimCallbackQuery = sqliteParams(claimCallbackQuery)
	sqliteCloseCallbackQuery = sqliteParams(closeCallbackQuery)
)

// Callbacks is the callback list as of now, the longest waiting first.
func (s *SQLite) Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error) {
	cbs, err := sqliteCallbacks(ctx, s.db, now, nil)
	if err != nil {
		return nil, fmt.Errorf("read the callback list: %w", err)
	}
	return cbs, nil
}

func sqliteCallbacks(ctx context.Context, q sqliteQuerier, now time.Time, number *string) ([]screenpop.Callback, error) {
	query, args := sqliteCallbacksQuery, []any{formatTime(claimCutoff(now))}
	if number != nil {
		query, args = sqliteCallbackQuery, append(args, *number)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cbs := []screenpop.Callback{}
	for rows.Next() {
		var (
			r               callbackRow
			first, last     string
			claimed         sql.NullString
			did             sql.NullString
			clientID        sql.NullInt64
			last2, fst, pat sql.NullString
			op, name        sql.NullString
		)
		if err := rows.Scan(&r.number, &first, &last, &r.attempts, &did, &clientID, &last2, &fst, &pat, &r.clients,
			&op, &name, &claimed); err != nil {
			return nil, err
		}
		if err := errors.Join(parseTime(first, &r.firstMissedAt), parseTime(last, &r.lastMissedAt),
			parseTimePtr(claimed, &r.claimedAt)); err != nil {
			return nil, err
		}
		r.did, r.lastName, r.firstName, r.patronymic = nullString(did), nullString(last2), nullString(fst), nullString(pat)
		r.claimOperator, r.claimName = nullString(op), nullString(name)
		if clientID.Valid {
			r.clientID = &clientID.Int64
		}
		cbs = append(cbs, r.callback())
	}
	return cbs, rows.Err()
}

func nullString(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// ClaimCallback marks the number's callback as taken by operator (an
// extension) as of now, and returns it. It fails with a
// *screenpop.ClaimedError while another operator's claim holds, and with
// an error wrapping screenpop.ErrNoCallback when the number has no open
// callback. Claiming again renews one's own claim.
func (s *SQLite) ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	if err := checkCallbackNumber(number); err != nil {
		return screenpop.Callback{}, err
	}
	fail := func(err error) (screenpop.Callback, error) {
		return screenpop.Callback{}, fmt.Errorf("claim the callback of %s: %w", screenpop.MaskNumber(number), err)
	}
	// An immediate transaction: the read and the claim hold the write
	// lock, so two operators claiming at once queue.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	cbs, err := sqliteCallbacks(ctx, tx, now, &number)
	if err != nil {
		return fail(err)
	}
	if len(cbs) == 0 {
		return fail(screenpop.ErrNoCallback)
	}
	if c := cbs[0].Claim; c != nil && c.Operator != operator {
		return screenpop.Callback{}, &screenpop.ClaimedError{Claim: *c}
	}
	var who string
	err = tx.QueryRowContext(ctx, sqliteClaimCallbackQuery, number, operator, formatTime(now),
		formatTime(cbs[0].FirstMissedAt), formatTime(claimCutoff(now))).Scan(&who)
	if err != nil {
		return fail(err)
	}
	if cbs, err = sqliteCallbacks(ctx, tx, now, &number); err != nil || len(cbs) == 0 {
		return fail(cmpErr(err, "the callback went while claiming it"))
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return cbs[0], nil
}

// CloseCallback closes the number's callback by hand, as of now: operator
// (an extension) says why. The missed calls it held are dealt with; a
// later one opens a new item. A number
// without an open callback gives an error wrapping screenpop.ErrNoCallback.
func (s *SQLite) CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error {
	if err := errors.Join(checkCallbackNumber(number), checkCloseReason(reason)); err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("close the callback of %s: %w", screenpop.MaskNumber(number), err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	cbs, err := sqliteCallbacks(ctx, tx, now, &number)
	if err != nil {
		return fail(err)
	}
	if len(cbs) == 0 {
		return fail(screenpop.ErrNoCallback)
	}
	if _, err := tx.ExecContext(ctx, sqliteCloseCallbackQuery, number, formatTime(cbs[0].LastMissedAt), formatTime(now),
		operator, strings.TrimSpace(reason)); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM callback_claims WHERE number = ?`, number); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// pgQuerier is a pool or a transaction.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Callbacks is the callback list as of now, the longest waiting first.
func (p *Postgres) Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error) {
	cbs, err := pgCallbacks(ctx, p.pool, now, nil)
	if err != nil {
		return nil, fmt.Errorf("read the callback list: %w", err)
	}
	return cbs, nil
}

func pgCallbacks(ctx context.Context, q pgQuerier, now time.Time, number *string) ([]screenpop.Callback, error) {
	query, args := callbacksQuery, []any{claimCutoff(now)}
	if number != nil {
		query, args = callbackQuery, append(args, *number)
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	cbs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (screenpop.Callback, error) {
		var r callbackRow
		err := row.Scan(&r.number, &r.firstMissedAt, &r.lastMissedAt, &r.attempts, &r.did,
			&r.clientID, &r.lastName, &r.firstName, &r.patronymic, &r.clients,
			&r.claimOperator, &r.claimName, &r.claimedAt)
		return r.callback(), err
	})
	if err != nil {
		return nil, err
	}
	if cbs == nil {
		cbs = []screenpop.Callback{}
	}
	return cbs, nil
}

// ClaimCallback marks the number's callback as taken by operator (an
// extension) as of now, and returns it. It fails with a
// *screenpop.ClaimedError while another operator's claim holds, and with
// an error wrapping screenpop.ErrNoCallback when the number has no open
// callback. Claiming again renews one's own claim.
func (p *Postgres) ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	if err := checkCallbackNumber(number); err != nil {
		return screenpop.Callback{}, err
	}
	fail := func(err error) (screenpop.Callback, error) {
		return screenpop.Callback{}, fmt.Errorf("claim the callback of %s: %w", screenpop.MaskNumber(number), err)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cbs, err := pgCallbacks(ctx, tx, now, &number)
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
	err = tx.QueryRow(ctx, claimCallbackQuery, number, operator, now, cbs[0].FirstMissedAt, claimCutoff(now)).Scan(&who)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another operator claimed it since we read: say who.
		if cbs, err = pgCallbacks(ctx, p.pool, now, &number); err == nil && len(cbs) > 0 && cbs[0].Claim != nil {
			return screenpop.Callback{}, &screenpop.ClaimedError{Claim: *cbs[0].Claim}
		}
		return fail(errors.New("another operator claimed it at the same time"))
	}
	if err != nil {
		return fail(err)
	}
	if cbs, err = pgCallbacks(ctx, tx, now, &number); err != nil || len(cbs) == 0 {
		return fail(cmpErr(err, "the callback went while claiming it"))
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return cbs[0], nil
}

// CloseCallback closes the number's callback by hand, as of now: operator
// (an extension) says why. The missed calls it held are dealt with; a
// later one opens a new item. A number
// without an open callback gives an error wrapping screenpop.ErrNoCallback.
func (p *Postgres) CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error {
	if err := errors.Join(checkCallbackNumber(number), checkCloseReason(reason)); err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("close the callback of %s: %w", screenpop.MaskNumber(number), err)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cbs, err := pgCallbacks(ctx, tx, now, &number)
	if err != nil {
		return fail(err)
	}
	if len(cbs) == 0 {
		return fail(screenpop.ErrNoCallback)
	}
	if _, err := tx.Exec(ctx, closeCallbackQuery, number, cbs[0].LastMissedAt, msUTC(now), operator, strings.TrimSpace(reason)); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM callback_claims WHERE number = $1`, number); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// cmpErr is err, or an error saying what if err is nil.
func cmpErr(err error, what string) error {
	if err != nil {
		return err
	}
	return errors.New(what)
}

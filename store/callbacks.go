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

// The callback list is computed from the call log on every read, so it can
// never disagree with it: a number is on the list from its first missed or
// abandoned inbound call after its last resolution (an outbound call to
// it, an answered call from it, a closure by hand).
//
// The query reads the missed inbound calls through calls_missed, a partial
// index holding nothing else, and keeps those with no resolution after
// them: a probe of the number's range in calls_resolving (outbound or
// answered calls only) and in callback_closures. The rest is per item:
// the last attempt's line, the client, the claim. SQLite runs it so, its
// cost growing with the missed calls in the log rather than the log;
// PostgreSQL hashes the resolving calls in one pass instead when it judges
// that cheaper. Either answers a year of a busy call centre (100,000
// calls, 13,000 missed) in about 50 ms; the API shares one answer among
// the operators' pages for a moment.
//
// One text serves both stores. Times compare as times in PostgreSQL
// and as fixed-width UTC text in SQLite, which orders the same.
//
// Missed calls are only ever compared with calls and with the missed calls
// a closure or a claim was made for, all by Asterisk's clock: the daemon's
// clock (claims' lapse) may differ from it without harm.
//
// Parameters: $1 the claim cutoff (claims made before it lapsed); in
// callbackQuery, $2 the one number to read. A claim made for an earlier
// item, since resolved, does not count.
const callbacksQuery = `WITH missed AS (
	SELECT m.caller_e164 AS number, m.started_at
	FROM calls m
	WHERE m.direction = 'inbound' AND m.status IN ('missed', 'abandoned', 'failed') AND m.caller_e164 IS NOT NULL /* one number */
		AND NOT EXISTS (SELECT 1 FROM calls r
			WHERE r.caller_e164 = m.caller_e164 AND (r.direction = 'outbound' OR r.status = 'answered')
				AND r.started_at > m.started_at)
		AND NOT EXISTS (SELECT 1 FROM callback_closures x
			WHERE x.number = m.caller_e164 AND x.last_missed_at >= m.started_at)
), items AS (
	SELECT number, min(started_at) AS first_missed_at, max(started_at) AS last_missed_at, count(*) AS attempts
	FROM missed GROUP BY number
)
SELECT i.number, i.first_missed_at, i.last_missed_at, i.attempts,
	(SELECT d.did FROM calls d
		WHERE d.caller_e164 = i.number AND d.direction = 'inbound' AND d.status IN ('missed', 'abandoned', 'failed')
			AND d.caller_e164 IS NOT NULL AND d.started_at = i.last_missed_at
		ORDER BY d.call_id, d.pbx LIMIT 1) AS did,
	c.client_id, c.last_name, c.first_name, c.patronymic,
	(SELECT count(*) FROM client_phones p WHERE p.e164 = i.number) AS clients,
	k.operator, o.name, k.claimed_at
FROM items i
LEFT JOIN clients c ON c.client_id = (SELECT min(p.client_id) FROM client_phones p WHERE p.e164 = i.number)
LEFT JOIN callback_claims k ON k.number = i.number AND k.claimed_at > $1 AND k.first_missed_at = i.first_missed_at
LEFT JOIN operators o ON o.extension = k.operator
ORDER BY i.first_missed_at, i.number`

// callbackQuery is callbacksQuery for the one number $2.
var callbackQuery = strings.Replace(callbacksQuery, "/* one number */", "AND m.caller_e164 = $2", 1)

// claimCallbackQuery takes the claim unless another operator holds a live
// one for the same item: $1 number, $2 operator, $3 now, $4 the item's
// first missed call, $5 the claim cutoff. No row comes back when someone
// else holds it.
const claimCallbackQuery = `INSERT INTO callback_claims (number, operator, claimed_at, first_missed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (number) DO UPDATE
	SET operator = excluded.operator, claimed_at = excluded.claimed_at, first_missed_at = excluded.first_missed_at
WHERE callback_claims.operator = excluded.operator OR callback_claims.claimed_at <= $5
	OR callback_claims.first_missed_at <> excluded.first_missed_at
RETURNING operator`

// closeCallbackQuery records a closure: $1 number, $2 the item's last
// missed call, $3 now, $4 operator, $5 reason.
const closeCallbackQuery = `INSERT INTO callback_closures (number, last_missed_at, closed_at, closed_by, reason)
VALUES ($1, $2, $3, $4, $5)`

// callbackRow is one row of callbacksQuery, read by either store.
type callbackRow struct {
	number                          string
	firstMissedAt, lastMissedAt     time.Time
	attempts                        int
	did                             *string
	clientID                        *int64
	lastName, firstName, patronymic *string
	clients                         int
	claimOperator, claimName        *string
	claimedAt                       *time.Time
}

func (r callbackRow) callback() screenpop.Callback {
	cb := screenpop.Callback{
		Number: r.number, FirstMissedAt: msUTC(r.firstMissedAt), LastMissedAt: msUTC(r.lastMissedAt), Attempts: r.attempts,
	}
	if r.did != nil {
		cb.DID = *r.did
	}
	if r.clientID != nil {
		c := screenpop.Client{LastName: deref(r.lastName), FirstName: deref(r.firstName), Patronymic: deref(r.patronymic)}
		cb.Client = &screenpop.CallbackClient{ID: *r.clientID, FullName: c.FullName(), Others: max(r.clients-1, 0)}
	}
	if r.claimOperator != nil && r.claimedAt != nil {
		cb.Claim = &screenpop.Claim{Operator: *r.claimOperator, Name: deref(r.claimName), ClaimedAt: msUTC(*r.claimedAt)}
	}
	return cb
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkCallbackNumber refuses what is not an E.164 number before it
// reaches a query: the API normalises numbers, the store keeps them.
func checkCallbackNumber(number string) error {
	if !e164Format.MatchString(number) {
		return fmt.Errorf("callback number %s is not in E.164", screenpop.MaskNumber(number))
	}
	return nil
}

// checkCloseReason says what is wrong with a reason for closing by hand.
func checkCloseReason(reason string) error {
	switch r := strings.TrimSpace(reason); {
	case r == "":
		return errors.New("close callback: give a reason")
	case len([]rune(r)) > screenpop.MaxCloseReason:
		return fmt.Errorf("close callback: the reason is longer than %d characters", screenpop.MaxCloseReason)
	}
	return nil
}

// claimCutoff is when claims still holding at now were made after.
func claimCutoff(now time.Time) time.Time { return now.Add(-screenpop.ClaimLapse) }

// Callbacks is the callback list as of now, the longest waiting first.
func (s *sqlStore) Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error) {
	cbs, err := readCallbacks(ctx, s.conn, now, nil)
	if err != nil {
		return nil, fmt.Errorf("read the callback list: %w", err)
	}
	return cbs, nil
}

// readCallbacks reads the callback list, or with number that number's
// callback.
func readCallbacks(ctx context.Context, q querier, now time.Time, number *string) ([]screenpop.Callback, error) {
	query, args := callbacksQuery, []any{claimCutoff(now)}
	if number != nil {
		query, args = callbackQuery, append(args, *number)
	}
	return queryAll(ctx, q, func(row row) (screenpop.Callback, error) {
		var r callbackRow
		err := row.Scan(&r.number, &r.firstMissedAt, &r.lastMissedAt, &r.attempts, &r.did,
			&r.clientID, &r.lastName, &r.firstName, &r.patronymic, &r.clients,
			&r.claimOperator, &r.claimName, &r.claimedAt)
		return r.callback(), err
	}, query, args...)
}

// ClaimCallback marks the number's callback as taken by operator (an
// extension) as of now, and returns it. It fails with a
// *screenpop.ClaimedError while another operator's claim holds, and with
// an error wrapping screenpop.ErrNoCallback when the number has no open
// callback. Claiming again renews one's own claim.
func (s *sqlStore) ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	if err := checkCallbackNumber(number); err != nil {
		return screenpop.Callback{}, err
	}
	fail := func(err error) (screenpop.Callback, error) {
		return screenpop.Callback{}, fmt.Errorf("claim the callback of %s: %w", screenpop.MaskNumber(number), err)
	}
	// On SQLite an immediate transaction: the read and the claim hold the
	// write lock, so two operators claiming at once queue.
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return fail(err)
	}
	defer tx.rollback(ctx)
	cbs, err := readCallbacks(ctx, tx, now, &number)
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
	err = tx.queryRow(ctx, claimCallbackQuery, number, operator, now, cbs[0].FirstMissedAt, claimCutoff(now)).Scan(&who)
	if errors.Is(err, sql.ErrNoRows) {
		// Another operator claimed it since we read (PostgreSQL; SQLite's
		// write lock keeps them out): say who. Each statement of the
		// transaction sees what others committed before it.
		if cbs, err = readCallbacks(ctx, tx, now, &number); err == nil && len(cbs) > 0 && cbs[0].Claim != nil {
			return screenpop.Callback{}, &screenpop.ClaimedError{Claim: *cbs[0].Claim}
		}
		return fail(errors.New("another operator claimed it at the same time"))
	}
	if err != nil {
		return fail(err)
	}
	if cbs, err = readCallbacks(ctx, tx, now, &number); err != nil || len(cbs) == 0 {
		return fail(cmpErr(err, "the callback went while claiming it"))
	}
	if err := tx.commit(ctx); err != nil {
		return fail(err)
	}
	return cbs[0], nil
}

// CloseCallback closes the number's callback by hand, as of now: operator
// (an extension) says why. The missed calls it held are dealt with; a
// later one opens a new item. A number
// without an open callback gives an error wrapping screenpop.ErrNoCallback.
func (s *sqlStore) CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error {
	if err := errors.Join(checkCallbackNumber(number), checkCloseReason(reason)); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx tx) error {
		cbs, err := readCallbacks(ctx, tx, now, &number)
		if err != nil {
			return err
		}
		if len(cbs) == 0 {
			return screenpop.ErrNoCallback
		}
		if _, err := tx.exec(ctx, closeCallbackQuery, number, cbs[0].LastMissedAt, msUTC(now), operator, strings.TrimSpace(reason)); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `DELETE FROM callback_claims WHERE number = $1`, number)
		return err
	})
	if err != nil {
		return fmt.Errorf("close the callback of %s: %w", screenpop.MaskNumber(number), err)
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

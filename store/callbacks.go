package store

import (
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
// One text serves both stores: PostgreSQL numbers its parameters $1, $2,
// SQLite ?1, ?2 (see sqliteParams). Times compare as times in PostgreSQL
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
		ORDER BY d.call_id LIMIT 1) AS did,
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

// sqliteParams turns PostgreSQL's $1 into SQLite's ?1: the same
// parameter by number.
func sqliteParams(q string) string { return strings.ReplaceAll(q, "$", "?") }

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

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// historyQuery lists a client's calls, newest first: every call, in or
// out, on any of the client's numbers. $1 the client, $2 how many.
const historyQuery = `
SELECT call_id, direction, caller_e164, did, status, answered_by, started_at, talk_seconds
FROM calls
WHERE caller_e164 IN (SELECT e164 FROM client_phones WHERE client_id = $1)
ORDER BY started_at DESC
LIMIT $2`

// ClientCalls is the client's call history, newest first, at most limit calls.
func (p *Postgres) ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error) {
	rows, err := p.pool.Query(ctx, historyQuery, clientID, limit)
	if err != nil {
		return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
	}
	defer rows.Close()
	calls := []screenpop.ClientCall{}
	for rows.Next() {
		var c screenpop.ClientCall
		if err := rows.Scan(&c.CallID, &c.Direction, &c.Number, &c.DID, &c.Status, &c.AnsweredBy, &c.StartedAt, &c.TalkSecs); err != nil {
			return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
		}
		c.StartedAt = c.StartedAt.UTC()
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
	}
	return calls, nil
}

// ClientCalls is the client's call history, newest first, at most limit calls.
func (s *SQLite) ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error) {
	rows, err := s.db.QueryContext(ctx, historyQuery, clientID, limit)
	if err != nil {
		return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
	}
	defer rows.Close()
	calls := []screenpop.ClientCall{}
	for rows.Next() {
		var (
			c       screenpop.ClientCall
			by      sql.NullString
			started string
		)
		if err := rows.Scan(&c.CallID, &c.Direction, &c.Number, &c.DID, &c.Status, &by, &started, &c.TalkSecs); err != nil {
			return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
		}
		if by.Valid {
			c.AnsweredBy = &by.String
		}
		if err := parseTime(started, &c.StartedAt); err != nil {
			return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
	}
	return calls, nil
}

// servedQuery says whether a call on one of the client's numbers ended
// since a time, offered to, answered by or talked to by the operator. $1
// the client, $2 the operator, $3 the time.
func servedQuery(d dialect) string {
	op := d.param(2)
	return `SELECT EXISTS (SELECT 1 FROM calls
WHERE caller_e164 IN (SELECT e164 FROM client_phones WHERE client_id = ` + d.param(1) + `)
  AND ended_at >= ` + d.param(3) + `
  AND (answered_by = ` + op + ` OR ` + d.holds("talked_to", op) + `
       OR call_id IN (SELECT call_id FROM offers WHERE operator = ` + op + `)))`
}

var (
	pgServedQuery     = servedQuery(pgDialect)
	sqliteServedQuery = servedQuery(sqliteDialect)
)

// ServedClient reports whether the call log holds a call on one of the
// client's numbers that ended since since and was offered to, answered by
// or talked to by operator: screenpop.Access's memory across restarts.
func (p *Postgres) ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error) {
	var ok bool
	if err := p.pool.QueryRow(ctx, pgServedQuery, clientID, operator, pgDialect.time(since)).Scan(&ok); err != nil {
		return false, fmt.Errorf("read whether %s served client %d: %w", operator, clientID, err)
	}
	return ok, nil
}

// ServedClient: see Postgres.ServedClient.
func (s *SQLite) ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error) {
	var ok bool
	if err := s.db.QueryRowContext(ctx, sqliteServedQuery, clientID, operator, sqliteDialect.time(since)).Scan(&ok); err != nil {
		return false, fmt.Errorf("read whether %s served client %d: %w", operator, clientID, err)
	}
	return ok, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// historyQuery lists a client's calls, newest first: every call, in or
// out, on any of the client's numbers. $1 the client, $2 how many.
const historyQuery = `
SELECT pbx, call_id, direction, caller_e164, did, status, answered_by, started_at, talk_seconds
FROM calls
WHERE caller_e164 IN (SELECT e164 FROM client_phones WHERE client_id = $1)
ORDER BY started_at DESC
LIMIT $2`

// ClientCalls is the client's call history, newest first, at most limit
// calls. It and ServedClient run on the readers, beside the writer: an
// operator opens the history from a pop.
func (s *sqlStore) ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error) {
	calls, err := queryAll(ctx, s.reads(), func(r row) (c screenpop.ClientCall, err error) {
		err = r.Scan(&c.PBX, &c.CallID, &c.Direction, &c.Number, &c.DID, &c.Status, &c.AnsweredBy, &c.StartedAt, &c.TalkSecs)
		c.StartedAt = c.StartedAt.UTC()
		return c, err
	}, historyQuery, clientID, limit)
	if err != nil {
		return nil, fmt.Errorf("read the calls of client %d: %w", clientID, err)
	}
	return calls, nil
}

// ServedClient reports whether the call log holds a call on one of the
// client's numbers that ended since since and was offered to, answered by
// or talked to by operator: screenpop.Access's memory across restarts.
func (s *sqlStore) ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error) {
	// $1 the client, $2 the operator, $3 the time.
	query := `SELECT EXISTS (SELECT 1 FROM calls
WHERE caller_e164 IN (SELECT e164 FROM client_phones WHERE client_id = $1)
  AND ended_at >= $3
  AND (answered_by = $2 OR ` + s.dialect.holds("talked_to", "$2") + `
       OR (pbx, call_id) IN (SELECT pbx, call_id FROM offers WHERE operator = $2)))`
	var ok bool
	if err := s.reads().queryRow(ctx, query, clientID, operator, since).Scan(&ok); err != nil {
		return false, fmt.Errorf("read whether %s served client %d: %w", operator, clientID, err)
	}
	return ok, nil
}

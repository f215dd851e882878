package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo

	"github.com/screenpop/screenpop/screenpop"
)

// SQLite is the embedded call log: one file, nothing to run beside the
// daemon.
type SQLite struct {
	db     *sql.DB
	region string
}

// sqliteOptions, for every connection:
//   - WAL, so a reader (a report, the sqlite3 shell) never blocks the writer;
//   - synchronous FULL: the Writer drops calls from its spool once SaveCalls
//     returns, so a commit must survive a power cut, not only a crash;
//   - busy_timeout, so another process holding the lock (a second daemon
//     migrating) is waited for rather than failed;
//   - foreign_keys, which SQLite leaves off unless asked;
//   - immediate transactions, which take the write lock at BEGIN, so two
//     writers queue instead of one failing at its first write.
const sqliteOptions = "_txlock=immediate&_busy_timeout=5000&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"

// sqliteTime is how times are stored: RFC 3339 in UTC with milliseconds.
// Every value has the same width, so text order is time order.
const sqliteTime = "2006-01-02T15:04:05.000Z"

// OpenSQLite opens (creating if need be) the database file at path. It does
// not migrate.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		// The driver reads options after a '?'; a path with one would be
		// silently cut short.
		return nil, fmt.Errorf("open sqlite %q: the path must be non-empty and contain no '?' or '#'", path)
	}
	db, err := sql.Open("sqlite", path+"?"+sqliteOptions)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One connection: SQLite has one writer at a time anyway, and a call log
	// reads little. Every statement queues here instead of on the file lock.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

// Ping checks that the database file can be used.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *SQLite) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// Migrate brings the schema up to date. Pending migrations run in one
// immediate transaction: it holds the file's write lock, so a second process
// migrating waits (busy_timeout), then finds nothing to do.
func (s *SQLite) Migrate(ctx context.Context) error {
	ms, err := migrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY NOT NULL,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	)`); err != nil {
		return fmt.Errorf("migrate sqlite: create schema_migrations: %w", err)
	}
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate sqlite: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate sqlite: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("migrate sqlite: read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate sqlite: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			return fmt.Errorf("migrate sqlite: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate sqlite: commit: %w", err)
	}
	return nil
}

// sqliteInsertCall is pgInsertCall in SQLite's words: numbered parameters
// (?21 the DIDKey, ?22 the preset kind, ?23 the gaps) and scalar
// subqueries for the source, which SQLite cannot join laterally.
const sqliteInsertCall = `INSERT INTO calls (
	call_id, caller, caller_e164, caller_name, withheld, did, status,
	offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
	hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
	source, campaign, caller_kind, gaps
)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
	coalesce(s.source, ''), coalesce(s.campaign, ''),
	CASE
		WHEN ?22 <> '' THEN ?22
		WHEN s.internal THEN 'internal'
		WHEN ?3 IS NULL THEN 'new'
		WHEN EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = ?3 AND NOT c.lead) THEN 'client'
		WHEN EXISTS (SELECT 1 FROM calls o WHERE o.caller_e164 = ?3 AND o.started_at < ?16)
		  OR EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = ?3 AND c.lead
		               AND c.created_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?16, '-1 minute')) THEN 'lead'
		ELSE 'new'
	END,
	?23
FROM (SELECT 1) one
LEFT JOIN (
	SELECT source, campaign, internal FROM sources
	WHERE did = ?21 AND valid_from <= ?16 AND (valid_to IS NULL OR valid_to > ?16)
	ORDER BY valid_from DESC LIMIT 1
) s ON true
WHERE true
` + upsertCall + `
WHERE (excluded.close_reason = '' AND NOT EXISTS (SELECT 1 FROM json_each(excluded.gaps) WHERE value = 'end'),
       -json_array_length(excluded.gaps), excluded.ended_at)
    > (calls.close_reason = '' AND NOT EXISTS (SELECT 1 FROM json_each(calls.gaps) WHERE value = 'end'),
       -json_array_length(calls.gaps), calls.ended_at)`

// SaveCalls: see Postgres.SaveCalls.
func (s *SQLite) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	if len(calls) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	defer tx.Rollback()
	insertCall, err := tx.PrepareContext(ctx, sqliteInsertCall)
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	defer insertCall.Close()
	insertOffer, err := tx.PrepareContext(ctx, `INSERT INTO offers (
		call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	defer insertOffer.Close()
	deleteOffers, err := tx.PrepareContext(ctx, `DELETE FROM offers WHERE call_id = ?`)
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	defer deleteOffers.Close()

	for _, c := range calls {
		c = normalise(cleanCall(c))
		offeredTo, _ := json.Marshal(c.OfferedTo) // a []string always marshals
		talkedTo, _ := json.Marshal(c.TalkedTo)
		gaps, _ := json.Marshal(strs(c.Gaps)) // [] for none, never null
		res, err := insertCall.ExecContext(ctx, c.ID, c.Caller, c.CallerE164, c.CallerName, c.Withheld, c.DID,
			string(c.Status), string(offeredTo), c.AnsweredBy, string(talkedTo), c.RingSeconds, c.WaitSeconds,
			c.TalkSeconds, c.HangupCause, c.HangupCauseText, formatTime(c.StartedAt), formatTimePtr(c.AnsweredAt),
			formatTime(c.EndedAt), c.CloseReason, string(c.Direction),
			screenpop.DIDKey(c.DID, s.region), string(screenpop.PresetKind(c)), string(gaps))
		if err != nil {
			return fmt.Errorf("save call %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("save call %s: %w", c.ID, err)
		} else if n == 0 {
			continue // stored already, as completely
		}
		// Written or replaced: its offers are this record's.
		if _, err := deleteOffers.ExecContext(ctx, c.ID); err != nil {
			return fmt.Errorf("save offers of call %s: %w", c.ID, err)
		}
		for i, o := range c.Offers {
			if _, err := insertOffer.ExecContext(ctx, c.ID, i+1, o.Operator, o.Channel, formatTime(o.DialedAt),
				formatTimePtr(o.RingingAt), formatTimePtr(o.AnsweredAt), formatTimePtr(o.EndedAt),
				string(o.Outcome), o.DialStatus); err != nil {
				return fmt.Errorf("save offers of call %s: %w", c.ID, err)
			}
		}
	}
	if err := sqliteSaveLookupNames(ctx, tx, calls); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save %d calls: commit: %w", len(calls), err)
	}
	return nil
}

// Call reads back the call with the given ID, its offers in the order they
// were made.
func (s *SQLite) Call(ctx context.Context, id string) (screenpop.Call, error) {
	var (
		c                   screenpop.Call
		status, direction   string
		offeredTo, talkedTo string
		started, ended      string
		answered            sql.NullString
		gaps                string
	)
	err := s.db.QueryRowContext(ctx, `SELECT call_id, caller, caller_e164, caller_name, withheld, did, status,
		offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
		hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
		source, campaign, caller_kind, gaps, lookup_name
		FROM calls WHERE call_id = ?`, id).Scan(
		&c.ID, &c.Caller, &c.CallerE164, &c.CallerName, &c.Withheld, &c.DID, &status,
		&offeredTo, &c.AnsweredBy, &talkedTo, &c.RingSeconds, &c.WaitSeconds, &c.TalkSeconds,
		&c.HangupCause, &c.HangupCauseText, &started, &answered, &ended, &c.CloseReason, &direction,
		&c.Source, &c.Campaign, &c.CallerKind, &gaps, &c.LookupName)
	if errors.Is(err, sql.ErrNoRows) {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, err)
	}
	c.Status, c.Direction = screenpop.Status(status), screenpop.Direction(direction)
	err = errors.Join(
		json.Unmarshal([]byte(offeredTo), &c.OfferedTo),
		json.Unmarshal([]byte(talkedTo), &c.TalkedTo),
		json.Unmarshal([]byte(gaps), &c.Gaps),
		parseTime(started, &c.StartedAt),
		parseTimePtr(answered, &c.AnsweredAt),
		parseTime(ended, &c.EndedAt),
	)
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, err)
	}

	rows, err := s.db.QueryContext(ctx, `SELECT operator, channel, dialed_at, ringing_at, answered_at, ended_at,
		outcome, dial_status FROM offers WHERE call_id = ? ORDER BY seq`, id)
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			o                         screenpop.Offer
			outcome, dialed           string
			ringing, answered, ending sql.NullString
		)
		if err := rows.Scan(&o.Operator, &o.Channel, &dialed, &ringing, &answered, &ending,
			&outcome, &o.DialStatus); err != nil {
			return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
		}
		o.Outcome = screenpop.Outcome(outcome)
		if err := errors.Join(
			parseTime(dialed, &o.DialedAt),
			parseTimePtr(ringing, &o.RingingAt),
			parseTimePtr(answered, &o.AnsweredAt),
			parseTimePtr(ending, &o.EndedAt),
		); err != nil {
			return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
		}
		c.Offers = append(c.Offers, o)
	}
	if err := rows.Err(); err != nil {
		return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
	}
	return normalise(c), nil
}

func formatTime(t time.Time) string { return msUTC(t).Format(sqliteTime) }

// formatTimePtr gives nil (NULL) for nil, a string otherwise.
func formatTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseTime(s string, t *time.Time) error {
	v, err := time.Parse(sqliteTime, s)
	if err != nil {
		return fmt.Errorf("parse stored time: %w", err)
	}
	*t = v
	return nil
}

func parseTimePtr(s sql.NullString, t **time.Time) error {
	if !s.Valid {
		*t = nil
		return nil
	}
	var v time.Time
	if err := parseTime(s.String, &v); err != nil {
		return err
	}
	*t = &v
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/screenpop/screenpop/screenpop"
)

// Postgres is the production call log.
type Postgres struct {
	pool   *pgxpool.Pool
	region string
}

// defaultConnectTimeout replaces pgxpool's two minutes when the DSN sets no
// connect_timeout: a daemon starting against a database that is not there
// should say so while someone is still watching.
const defaultConnectTimeout = 10 * time.Second

// OpenPostgres connects to the database at dsn (a postgres:// URL or
// keyword/value string) and checks that it answers. It does not migrate.
//
// No error it returns contains the DSN's password.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts passwords from parse errors only on a best-effort
		// basis, and a malformed DSN is exactly where it can miss one, so
		// its text is not passed on.
		return nil, errors.New("connect to postgres: the DSN cannot be parsed (details withheld as they may contain the password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	password := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", redact(err, password))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", redact(err, password))
	}
	return &Postgres{pool: pool}, nil
}

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes every connection, waiting for those in use to be returned.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// migrateLockKey, with a hash of the schema name, is the advisory lock that
// serialises migrations: two daemons starting together must not both apply
// a migration. The schema is part of the key so that schemas in one database
// (tests run one per test) migrate independently.
const migrateLockKey = 0x5c9e4b09 // "screenpop", roughly

// Migrate brings the schema up to date. All pending migrations run in one
// transaction holding the advisory lock, so a migration either applies whole
// or not at all, and a second process waits, then finds nothing to do.
func (p *Postgres) Migrate(ctx context.Context) error {
	ms, err := migrations("postgres")
	if err != nil {
		return err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, int32(migrateLockKey)); err != nil {
		return fmt.Errorf("migrate postgres: take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrate postgres: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate postgres: read schema_migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("migrate postgres: read schema_migrations: %w", err)
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[int(v)] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		// No arguments: pgx sends the file by the simple protocol, which
		// runs every statement in it.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate postgres: apply %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("migrate postgres: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate postgres: commit: %w", err)
	}
	return nil
}

// pgInsertCall stores a call with the source its number had when the call
// started ($21 is the number's DIDKey) and the kind of caller it was ($22
// is screenpop.PresetKind, or ” for the client base and the call log to
// decide): the rules README's "Call sources and caller kinds" gives. $23
// is the record's gaps.
//
// A call already stored is replaced when this record is more complete
// (upsertCall); RETURNING then names it, as it does a new call, and its
// offers are written again.
const pgInsertCall = `INSERT INTO calls (
	call_id, caller, caller_e164, caller_name, withheld, did, status,
	offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
	hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
	source, campaign, caller_kind, gaps
)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	coalesce(s.source, ''), coalesce(s.campaign, ''),
	CASE
		WHEN $22 <> '' THEN $22
		WHEN s.internal THEN 'internal'
		WHEN $3::text IS NULL THEN 'new'
		WHEN EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = $3 AND NOT c.lead) THEN 'client'
		WHEN EXISTS (SELECT 1 FROM calls o WHERE o.caller_e164 = $3 AND o.started_at < $16)
		  OR EXISTS (SELECT 1 FROM client_phones p JOIN clients c USING (client_id)
		             WHERE p.e164 = $3 AND c.lead AND c.created_at < $16::timestamptz - interval '1 minute') THEN 'lead'
		ELSE 'new'
	END,
	$23
FROM (SELECT 1) one
LEFT JOIN LATERAL (
	SELECT source, campaign, internal FROM sources
	WHERE did = $21 AND valid_from <= $16 AND (valid_to IS NULL OR valid_to > $16)
	ORDER BY valid_from DESC LIMIT 1
) s ON true
` + upsertCall + `
WHERE (excluded.close_reason = '' AND NOT 'end' = ANY(excluded.gaps), -cardinality(excluded.gaps), excluded.ended_at)
    > (calls.close_reason = '' AND NOT 'end' = ANY(calls.gaps), -cardinality(calls.gaps), calls.ended_at)
RETURNING call_id`

const pgInsertOffer = `INSERT INTO offers (
	call_id, seq, operator, channel, dialed_at, ringing_at, answered_at, ended_at, outcome, dial_status
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// SaveCalls stores calls in one transaction. A call whose call_id is already
// stored, earlier or earlier in the same batch, replaces the stored record
// only if it is more complete (see moreComplete), offers and all; otherwise
// it is skipped, so re-delivering a batch changes nothing.
func (p *Postgres) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	if len(calls) == 0 {
		return nil
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	// Two round trips per batch: the calls, then the offers of those calls
	// that were new (RETURNING says which).
	stored := make([]screenpop.Call, len(calls))
	var b pgx.Batch
	for i, c := range calls {
		c = normalise(cleanCall(c))
		stored[i] = c
		b.Queue(pgInsertCall, c.ID, c.Caller, c.CallerE164, c.CallerName, c.Withheld, c.DID, string(c.Status),
			c.OfferedTo, c.AnsweredBy, c.TalkedTo, c.RingSeconds, c.WaitSeconds, c.TalkSeconds,
			c.HangupCause, c.HangupCauseText, c.StartedAt, c.AnsweredAt, c.EndedAt, c.CloseReason, string(c.Direction),
			screenpop.DIDKey(c.DID, p.region), string(screenpop.PresetKind(c)), strs(c.Gaps))
	}
	var offers pgx.Batch
	results := tx.SendBatch(ctx, &b)
	for _, c := range stored {
		var id string
		err := results.QueryRow().Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // stored already, as completely
		}
		if err != nil {
			results.Close()
			return fmt.Errorf("save call %s: %w", c.ID, err)
		}
		// Written or replaced: its offers are this record's. In the offers'
		// batch, so that the call's row is there first.
		offers.Queue(`DELETE FROM offers WHERE call_id = $1`, c.ID)
		for i, o := range c.Offers {
			offers.Queue(pgInsertOffer, c.ID, i+1, o.Operator, o.Channel, o.DialedAt, o.RingingAt,
				o.AnsweredAt, o.EndedAt, string(o.Outcome), o.DialStatus)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	if offers.Len() > 0 {
		if err := tx.SendBatch(ctx, &offers).Close(); err != nil {
			return fmt.Errorf("save offers of %d calls: %w", len(calls), err)
		}
	}
	if err := pgSaveLookupNames(ctx, tx, stored); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save %d calls: commit: %w", len(calls), err)
	}
	return nil
}

// Call reads back the call with the given ID, its offers in the order they
// were made. Calls and their offers are written, and replaced, in one
// transaction; the two reads share one, so that they see the same version.
func (p *Postgres) Call(ctx context.Context, id string) (screenpop.Call, error) {
	var c screenpop.Call
	var status, direction string
	var gaps []string
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	err = tx.QueryRow(ctx, `SELECT call_id, caller, caller_e164, caller_name, withheld, did, status,
		offered_to, answered_by, talked_to, ring_seconds, wait_seconds, talk_seconds,
		hangup_cause, hangup_cause_text, started_at, answered_at, ended_at, close_reason, direction,
		source, campaign, caller_kind, gaps, lookup_name
		FROM calls WHERE call_id = $1`, id).Scan(
		&c.ID, &c.Caller, &c.CallerE164, &c.CallerName, &c.Withheld, &c.DID, &status,
		&c.OfferedTo, &c.AnsweredBy, &c.TalkedTo, &c.RingSeconds, &c.WaitSeconds, &c.TalkSeconds,
		&c.HangupCause, &c.HangupCauseText, &c.StartedAt, &c.AnsweredAt, &c.EndedAt, &c.CloseReason, &direction,
		&c.Source, &c.Campaign, &c.CallerKind, &gaps, &c.LookupName)
	if errors.Is(err, pgx.ErrNoRows) {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read call %s: %w", id, err)
	}
	c.Status, c.Direction, c.Gaps = screenpop.Status(status), screenpop.Direction(direction), gapList(gaps)

	rows, err := tx.Query(ctx, `SELECT operator, channel, dialed_at, ringing_at, answered_at, ended_at,
		outcome, dial_status FROM offers WHERE call_id = $1 ORDER BY seq`, id)
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
	}
	c.Offers, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (screenpop.Offer, error) {
		var o screenpop.Offer
		var outcome string
		err := row.Scan(&o.Operator, &o.Channel, &o.DialedAt, &o.RingingAt, &o.AnsweredAt, &o.EndedAt,
			&outcome, &o.DialStatus)
		o.Outcome = screenpop.Outcome(outcome)
		return o, err
	})
	if err != nil {
		return screenpop.Call{}, fmt.Errorf("read offers of call %s: %w", id, err)
	}
	// pgx hands times back in the local zone; normalise gives them in UTC,
	// as they were saved.
	return normalise(c), nil
}

// redact removes the password from an error's text. pgx's connection errors
// name the host, user and database but not the password; this makes sure a
// future wording cannot change that.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

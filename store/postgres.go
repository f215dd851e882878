package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the production call log.
type Postgres struct {
	sqlStore
	pool *pgxpool.Pool
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
	return &Postgres{sqlStore: sqlStore{conn: pgConn{pgRun[*pgxpool.Pool]{pool}}, dialect: pgDialect}, pool: pool}, nil
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

var pgDialect = dialect{
	oneOf:       func(col, p string) string { return col + " = ANY(" + p + "::text[])" },
	holds:       func(col, v string) string { return v + "::text = ANY(" + col + ")" },
	overlaps:    func(col, p string) string { return col + " && " + p + "::text[]" },
	length:      func(col string) string { return "cardinality(" + col + ")" },
	minusMinute: func(p string) string { return p + "::timestamptz - interval '1 minute'" },
	lock:        `SELECT pg_advisory_xact_lock(hashtext($1))`,
	importLock:  `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
	forUpdate:   " FOR UPDATE",
	listTable: func(p, col, typ string) string {
		return "unnest(" + p + "::" + typ + "[]) AS w(" + col + ")"
	},
	reserveClientIDs: `SELECT nextval(pg_get_serial_sequence('clients', 'client_id')) FROM generate_series(1, $1)`,
	lookupPhone:      pgLookupPhone,
	reports:          pgReports,
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

// pgLookupPhone is the whole pop in one statement: every client with the
// number, and for each, through LATERAL subqueries that each read one
// index, their phones, cars (as JSON), manager, last visit, last contact,
// the counts, and their open complaints (as JSON, times as SQLite stores
// them, so both stores decode them alike). $2 is the start of the last
// year.
const pgLookupPhone = `SELECT c.client_id, c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
	e.employee_id, e.name, e.extension,
	ph.phones, cr.cars,
	lv.date, lv.kind, lv.amount, lv.employee,
	lc.at, lc.channel, lc.employee, lc.summary,
	vs.visits, vs.visits_last_year, cp.open_complaints, c.last_visit_on, c.visit_count
FROM client_phones p
JOIN clients c ON c.client_id = p.client_id
LEFT JOIN employees e ON e.employee_id = c.manager_id
CROSS JOIN LATERAL (
	SELECT array_agg(e164 ORDER BY seq) AS phones FROM client_phones WHERE client_id = c.client_id
) ph
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'make', make, 'model', model, 'year', year, 'plate', plate, 'vin', vin,
		'warranty_end', warranty_end, 'insurance_end', insurance_end, 'next_service_due', next_service_due
	) ORDER BY car_id), '[]') AS cars
	FROM cars WHERE client_id = c.client_id
) cr
LEFT JOIN LATERAL (
	SELECT date, kind, amount, employee FROM visits WHERE client_id = c.client_id ORDER BY date DESC LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
	SELECT at, channel, employee, summary FROM contacts WHERE client_id = c.client_id ORDER BY at DESC LIMIT 1
) lc ON true
CROSS JOIN LATERAL (
	SELECT count(*) AS visits, count(*) FILTER (WHERE date >= $2) AS visits_last_year
	FROM visits WHERE client_id = c.client_id
) vs
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'complaint_id', complaint_id, 'opened_at', to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'summary', summary
	) ORDER BY opened_at, complaint_id), '[]') AS open_complaints
	FROM complaints WHERE client_id = c.client_id AND closed_at IS NULL
) cp
WHERE p.e164 = $1
ORDER BY c.client_id`

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo
)

// SQLite is the embedded call log: one file, nothing to run beside the
// daemon.
type SQLite struct {
	sqlStore
	// db is the one writer; readers, a few read-only connections for the
	// pop's reads (sqlStore.reader).
	db      *sql.DB
	readers *sql.DB
}

// sqliteOptions, for every connection:
//   - WAL, so a reader (the store's readers, the sqlite3 shell) never blocks
//     the writer, nor it them;
//   - synchronous FULL: the spool's Writer drops calls from its spool once SaveCalls
//     returns, so a commit must survive a power cut, not only a crash;
//   - busy_timeout, so another process holding the lock (a second daemon
//     migrating) is waited for rather than failed;
//   - foreign_keys, which SQLite leaves off unless asked;
//   - immediate transactions, which take the write lock at BEGIN, so two
//     writers queue instead of one failing at its first write.
const sqliteOptions = "_txlock=immediate&_busy_timeout=5000&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"

// readerOptions, for the readers: query_only, so a write there fails
// rather than taking the write lock; deferred transactions, which take no
// lock at BEGIN. WAL is the file's, set by the writer, which opens first.
// A reader waits for no writer: it reads the last commit made before its
// statement began.
const readerOptions = "_txlock=deferred&_busy_timeout=5000&_query_only=1"

// sqliteReaders is how many reads run at once beside the writer: a pop's
// lookup takes a millisecond or two, so a few carry a busy switchboard,
// and more would only share the same cores.
const sqliteReaders = 4

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
	// One writer connection: SQLite has one writer at a time anyway, and
	// every write, and every read that writes (the reports' roll-ups),
	// queues here instead of on the file lock.
	db.SetMaxOpenConns(1)
	// The ping makes the file, in WAL, before a reader opens it.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The pop's reads run beside the writer, so a report or a batch of calls
	// does not hold a caller's lookup up past its deadline. The readers
	// connect on first use, as a rule after Migrate; one that connected
	// before (a Ping) sees the schema change and prepares again.
	readers, err := sql.Open("sqlite", path+"?"+readerOptions)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	readers.SetMaxOpenConns(sqliteReaders)
	readers.SetMaxIdleConns(sqliteReaders)
	return &SQLite{
		sqlStore: sqlStore{
			conn:    sqliteConn{sqliteRun[*sql.DB]{db}},
			reader:  sqliteRun[*sql.DB]{readers},
			dialect: sqliteDialect,
		},
		db:      db,
		readers: readers,
	}, nil
}

// Ping checks that the database file can be used, by the writer and the
// readers.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	if err := s.readers.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite readers: %w", err)
	}
	return nil
}

// Close closes the database: the readers first, so the writer, which may
// write, is the last connection and folds the WAL back into the file.
func (s *SQLite) Close() error {
	rerr := s.readers.Close()
	werr := s.db.Close()
	if err := errors.Join(rerr, werr); err != nil {
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

var sqliteDialect = dialect{
	oneOf: func(col, p string) string { return col + " IN (SELECT value FROM json_each(" + p + "))" },
	holds: func(col, v string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value = " + v + ")"
	},
	overlaps: func(col, p string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value IN (SELECT value FROM json_each(" + p + ")))"
	},
	length:      func(col string) string { return "json_array_length(" + col + ")" },
	minusMinute: func(p string) string { return "strftime('%Y-%m-%dT%H:%M:%fZ', " + p + ", '-1 minute')" },
	listTable: func(p, col, _ string) string {
		return "(SELECT value AS " + col + " FROM json_each(" + p + ")) AS w"
	},
	// Under the write lock, the IDs after the highest, as SQLite would
	// give them.
	reserveClientIDs: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
		SELECT (SELECT coalesce(max(client_id), 0) FROM clients) + i FROM n ORDER BY i`,
	lookupPhone: sqliteLookupPhone,
	reports:     sqliteReports,
}

func formatTime(t time.Time) string { return msUTC(t).Format(sqliteTimeFormat) }

// sqliteLookupPhone is pgLookupPhone in SQLite's words: correlated
// subqueries, each on one index, with a client's phones, cars and open
// complaints as JSON, and the last visit and contact joined by the ID a
// subquery finds. $2 is the start of the last year.
const sqliteLookupPhone = `SELECT c.client_id, c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
	e.employee_id, e.name, e.extension,
	(SELECT json_group_array(e164 ORDER BY seq) FROM client_phones WHERE client_id = c.client_id),
	(SELECT json_group_array(json_object(
		'make', make, 'model', model, 'year', year, 'plate', plate, 'vin', vin,
		'warranty_end', warranty_end, 'insurance_end', insurance_end, 'next_service_due', next_service_due
	) ORDER BY car_id) FROM cars WHERE client_id = c.client_id),
	lv.date, lv.kind, lv.amount, lv.employee,
	lc.at, lc.channel, lc.employee, lc.summary,
	(SELECT count(*) FROM visits WHERE client_id = c.client_id),
	(SELECT count(*) FROM visits WHERE client_id = c.client_id AND date >= $2),
	(SELECT json_group_array(json_object('complaint_id', complaint_id, 'opened_at', opened_at, 'summary', summary)
		ORDER BY opened_at, complaint_id) FROM complaints WHERE client_id = c.client_id AND closed_at IS NULL),
	c.last_visit_on, c.visit_count
FROM client_phones p
JOIN clients c ON c.client_id = p.client_id
LEFT JOIN employees e ON e.employee_id = c.manager_id
LEFT JOIN visits lv ON lv.visit_id = (SELECT visit_id FROM visits WHERE client_id = c.client_id ORDER BY date DESC LIMIT 1)
LEFT JOIN contacts lc ON lc.contact_id = (SELECT contact_id FROM contacts WHERE client_id = c.client_id ORDER BY at DESC LIMIT 1)
WHERE p.e164 = $1
ORDER BY c.client_id`

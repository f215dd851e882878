package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// One store, two engines. Every store operation is a method of sqlStore,
// written once over querier; Postgres and SQLite embed a sqlStore and
// differ only in how they open, migrate and close, in their adapter to
// querier, and in the few SQL fragments their dialect holds.
//
// SQL is written with PostgreSQL's $1, $2: the SQLite driver binds them by
// number too. Times, and lists of strings, are passed and scanned as Go
// values; the SQLite adapter stores them as text through sqliteTime and
// sqliteList, the PostgreSQL one passes them to pgx as they are.

// sqlStore is the store's database, whichever the engine.
type sqlStore struct {
	conn conn
	// reader, when set, runs the pop's reads (LookupPhone, ClientCalls,
	// ServedClient) beside conn: SQLite's connections other than the one
	// writer. A read there sees every transaction committed before it
	// starts, so a caller reading back what it has just written sees it;
	// the store reads back within its own methods on conn all the same.
	reader  querier
	dialect dialect
	// region is the country of national number forms (SetRegion).
	region string
}

// SetRegion sets the country whose national number forms dialled numbers
// are written in (as phone.default_region), for matching calls' DIDs with
// the sources' (screenpop.DIDKey).
func (s *sqlStore) SetRegion(region string) { s.region = region }

// reads is where the pop's reads run: the readers, or the one conn.
func (s *sqlStore) reads() querier {
	if s.reader != nil {
		return s.reader
	}
	return s.conn
}

// dialect is the SQL fragments that differ between the engines: lists
// are arrays in PostgreSQL and JSON arrays in SQLite.
type dialect struct {
	// oneOf is "col is one of the list parameter p".
	oneOf func(col, p string) string
	// holds is "the list column col holds the value v".
	holds func(col, v string) string
	// overlaps is "the list column col holds an element of the list
	// parameter p"; length is the number of elements of the list column
	// col.
	overlaps func(col, p string) string
	length   func(col string) string
	// minusMinute is the time parameter p less a minute.
	minusMinute func(p string) string
	// lock is a statement that holds the lock named $1 until the
	// transaction ends; none where a write transaction takes the
	// database's one write lock (SQLite's immediate ones).
	lock string
	// importLock holds the lock $1 of the schema until the transaction
	// ends; none where a write transaction holds the one write lock.
	importLock string
	// forUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends: none where a write transaction holds the one
	// write lock.
	forUpdate string
	// listTable is the list parameter p as a table of one column col
	// (of SQL type typ on PostgreSQL).
	listTable func(p, col, typ string) string
	// reserveClientIDs gives $1 new client IDs.
	reserveClientIDs string
	// lookupPhone is the pop's query (see pgLookupPhone).
	lookupPhone string
	// reports is the reports' SQL (reports_read.go).
	reports reportDialect
}

// querier runs SQL: the database or a transaction, of either engine.
type querier interface {
	// exec runs a statement and says how many rows it changed.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row
	// send runs a batch's statements in order, in one round trip where the
	// engine can.
	send(ctx context.Context, b *stmtBatch) error
}

// rows and row are a result as both engines' drivers read it. A row's Scan
// gives an error wrapping sql.ErrNoRows for no row (pgx.ErrNoRows wraps it).
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

// conn is the database: it runs SQL and begins transactions.
type conn interface {
	querier
	// begin starts a read-write transaction, or with snapshot a read-only
	// one whose reads all see the same version of the database.
	begin(ctx context.Context, snapshot bool) (tx, error)
}

// tx is a transaction. rollback after commit does nothing, so it is
// deferred.
type tx interface {
	querier
	// copyRows adds rows to table: by COPY on PostgreSQL, a few round
	// trips whatever their number.
	copyRows(ctx context.Context, table string, columns []string, rows [][]any) error
	commit(ctx context.Context) error
	rollback(ctx context.Context)
}

// inTx runs f in a transaction and commits it when f returns nil.
func (s *sqlStore) inTx(ctx context.Context, f func(tx tx) error) error {
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.rollback(ctx)
	if err := f(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// lock serialises the transactions taking the named lock, until tx ends.
func lock(ctx context.Context, tx tx, d dialect, name string) error {
	if d.lock == "" {
		return nil // every write transaction holds the write lock
	}
	_, err := tx.exec(ctx, d.lock, name)
	return err
}

// stmtBatch is statements sent together. Each has at most one of row and rows,
// which read its result; a statement with neither is executed.
type stmtBatch struct {
	items []batchItem
}

type batchItem struct {
	query string
	args  []any
	row   func(row) error
	rows  func(rows) error
}

func (b *stmtBatch) exec(query string, args ...any) {
	b.items = append(b.items, batchItem{query: query, args: args})
}

func (b *stmtBatch) queryRow(read func(row) error, query string, args ...any) {
	b.items = append(b.items, batchItem{query: query, args: args, row: read})
}

func (b *stmtBatch) query(read func(rows) error, query string, args ...any) {
	b.items = append(b.items, batchItem{query: query, args: args, rows: read})
}

func (b *stmtBatch) len() int { return len(b.items) }

// collect reads every row of rs with scan, closing rs.
func collect[T any](rs rows, scan func(row) (T, error)) ([]T, error) {
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// scanOne is a scan function for a result of one column.
func scanOne[T any](r row) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// queryAll runs a query and reads every row with scan: never nil, so an
// empty result is an empty list.
func queryAll[T any](ctx context.Context, q querier, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := collect(rs, scan)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// PostgreSQL, through pgx.

// pgxQuerier is pgx's pool or transaction.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

type pgRun[Q pgxQuerier] struct{ q Q }

func (p pgRun[Q]) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, query, pgArgs(args)...)
	return tag.RowsAffected(), err
}

func (p pgRun[Q]) query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := p.q.Query(ctx, query, pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rs}, nil
}

func (p pgRun[Q]) queryRow(ctx context.Context, query string, args ...any) row {
	return p.q.QueryRow(ctx, query, pgArgs(args)...)
}

func (p pgRun[Q]) send(ctx context.Context, b *stmtBatch) error {
	var pb pgx.Batch
	for _, it := range b.items {
		q := pb.Queue(it.query, pgArgs(it.args)...)
		switch {
		case it.row != nil:
			read := it.row
			q.QueryRow(func(r pgx.Row) error { return read(r) })
		case it.rows != nil:
			read := it.rows
			q.Query(func(rs pgx.Rows) error { return read(pgRows{rs}) })
		}
	}
	return p.q.SendBatch(ctx, &pb).Close()
}

// pgRows is pgx's rows; only Close differs.
type pgRows struct{ pgx.Rows }

func (r pgRows) Close() { r.Rows.Close() }

type pgConn struct {
	pgRun[*pgxpool.Pool]
}

func (c pgConn) begin(ctx context.Context, snapshot bool) (tx, error) {
	opts := pgx.TxOptions{}
	if snapshot {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	t, err := c.q.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return pgTx{pgRun[pgx.Tx]{t}}, nil
}

type pgTx struct {
	pgRun[pgx.Tx]
}

func (t pgTx) copyRows(ctx context.Context, table string, columns []string, rows [][]any) error {
	for _, r := range rows {
		pgArgs(r) // in place: rows are the caller's to give
	}
	_, err := t.q.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

func (t pgTx) commit(ctx context.Context) error { return t.q.Commit(ctx) }

// pgArgs gives dates as pgx takes them, changing args in place.
func pgArgs(args []any) []any {
	for i, a := range args {
		if d, ok := a.(civilDate); ok {
			args[i] = d.t
		}
	}
	return args
}

func (t pgTx) rollback(ctx context.Context) { t.q.Rollback(context.WithoutCancel(ctx)) }

// SQLite, through database/sql.

// sqlQuerier is database/sql's database or transaction.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

type sqliteRun[Q sqlQuerier] struct{ q Q }

func (s sqliteRun[Q]) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqliteRun[Q]) query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := s.q.QueryContext(ctx, query, sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

func (s sqliteRun[Q]) queryRow(ctx context.Context, query string, args ...any) row {
	return sqlRow{s.q.QueryRowContext(ctx, query, sqliteArgs(args)...)}
}

// send runs the statements one by one, each text prepared once: SQLite is
// in the process, so a round trip costs nothing, but parsing does.
func (s sqliteRun[Q]) send(ctx context.Context, b *stmtBatch) error {
	prepared := map[string]*sql.Stmt{}
	defer func() {
		for _, st := range prepared {
			st.Close()
		}
	}()
	for _, it := range b.items {
		st, ok := prepared[it.query]
		if !ok {
			var err error
			if st, err = s.q.PrepareContext(ctx, it.query); err != nil {
				return err
			}
			prepared[it.query] = st
		}
		args := sqliteArgs(it.args)
		var err error
		switch {
		case it.row != nil:
			err = it.row(sqlRow{st.QueryRowContext(ctx, args...)})
		case it.rows != nil:
			var rs *sql.Rows
			if rs, err = st.QueryContext(ctx, args...); err == nil {
				err = it.rows(sqlRows{rs})
				rs.Close()
			}
		default:
			_, err = st.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Err() error             { return r.r.Err() }
func (r sqlRows) Close()                 { r.r.Close() }
func (r sqlRows) Scan(dest ...any) error { return r.r.Scan(sqliteDest(dest)...) }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return r.r.Scan(sqliteDest(dest)...) }

type sqliteConn struct {
	sqliteRun[*sql.DB]
}

// begin starts an immediate transaction (the DSN's _txlock), which takes
// the write lock. A snapshot takes none: the store's one connection runs
// its reads in turn, and a read must not hold the writer up.
func (c sqliteConn) begin(ctx context.Context, snapshot bool) (tx, error) {
	if snapshot {
		return sqliteNoTx{c.sqliteRun}, nil
	}
	t, err := c.q.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqliteTx{sqliteRun[*sql.Tx]{t}}, nil
}

type sqliteTx struct {
	sqliteRun[*sql.Tx]
}

func (t sqliteTx) copyRows(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	params := make([]string, len(columns))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	st, err := t.q.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(columns, ", ")+") VALUES ("+strings.Join(params, ", ")+")")
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, sqliteArgs(r)...); err != nil {
			return err
		}
	}
	return nil
}

func (t sqliteTx) commit(context.Context) error { return t.q.Commit() }
func (t sqliteTx) rollback(context.Context)     { t.q.Rollback() }

// sqliteNoTx is a snapshot on SQLite: statements on the database itself.
type sqliteNoTx struct {
	sqliteRun[*sql.DB]
}

func (sqliteNoTx) copyRows(context.Context, string, []string, [][]any) error {
	return errors.New("copy rows: a read-only transaction")
}

func (sqliteNoTx) commit(context.Context) error { return nil }
func (sqliteNoTx) rollback(context.Context)     {}

// sqliteArgs gives times and lists of strings as SQLite stores them.
func sqliteArgs(args []any) []any {
	out := args
	for i, a := range args {
		var v any
		switch a := a.(type) {
		case time.Time:
			v = sqliteTime(a)
		case *time.Time:
			v = (*sqliteTime)(a)
		case []string:
			v = sqliteList(a)
		case []int64:
			b, _ := json.Marshal(a) // integers always marshal
			v = string(b)
		case civilDate:
			if a.t != nil {
				v = a.t.Format(time.DateOnly)
			}
		default:
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	return out
}

// sqliteDest reads times and lists of strings as SQLite stores them.
func sqliteDest(dest []any) []any {
	out := dest
	for i, d := range dest {
		var v any
		switch d := d.(type) {
		case *time.Time:
			v = (*sqliteTime)(d)
		case **time.Time:
			v = sqliteNullTime{d}
		case *[]string:
			v = (*sqliteList)(d)
		default:
			continue
		}
		if &out[0] == &dest[0] {
			out = append([]any(nil), dest...)
		}
		out[i] = v
	}
	return out
}

// civilDate is a date passed to the database: PostgreSQL's date, SQLite's
// YYYY-MM-DD text; NULL for nil.
type civilDate struct{ t *time.Time }

func asDate(t *time.Time) civilDate { return civilDate{t} }

// sqliteTimeFormat is how times are stored: RFC 3339 in UTC with
// milliseconds. Every value has the same width, so text order is time
// order. Dates (a visit's, a warranty's end) are stored as their first
// ten characters.
const sqliteTimeFormat = "2006-01-02T15:04:05.000Z"

// sqliteTime is a time as SQLite stores it.
type sqliteTime time.Time

func (t sqliteTime) Value() (driver.Value, error) {
	return msUTC(time.Time(t)).Format(sqliteTimeFormat), nil
}

func (t *sqliteTime) Scan(src any) error {
	var s string
	switch src := src.(type) {
	case string:
		s = src
	case []byte:
		s = string(src)
	default:
		return fmt.Errorf("parse stored time: %T is not text", src)
	}
	layout := sqliteTimeFormat
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	v, err := time.Parse(layout, s)
	if err != nil {
		return fmt.Errorf("parse stored time: %w", err)
	}
	*t = sqliteTime(v)
	return nil
}

// sqliteNullTime is a time that may be NULL.
type sqliteNullTime struct{ t **time.Time }

func (n sqliteNullTime) Scan(src any) error {
	if src == nil {
		*n.t = nil
		return nil
	}
	var v time.Time
	if err := (*sqliteTime)(&v).Scan(src); err != nil {
		return err
	}
	*n.t = &v
	return nil
}

// sqliteList is a list of strings as SQLite stores it: a JSON array, []
// for none.
type sqliteList []string

func (l sqliteList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

func (l *sqliteList) Scan(src any) error {
	if src == nil {
		*l = nil
		return nil
	}
	b, err := storedText(src)
	if err != nil {
		return fmt.Errorf("decode stored list: %w", err)
	}
	if err := json.Unmarshal(b, (*[]string)(l)); err != nil {
		return fmt.Errorf("decode stored list: %w", err)
	}
	return nil
}

// storedText is a text value SQLite gives.
func storedText(src any) ([]byte, error) {
	switch src := src.(type) {
	case string:
		return []byte(src), nil
	case []byte:
		return src, nil
	}
	return nil, fmt.Errorf("%T is not text", src)
}

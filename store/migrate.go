package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The migrations travel inside the binary so a daemon can never run against
// a schema older than its code expects. Each dialect has its own directory:
// the two schemas differ in types, not in tables or column names.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one numbered SQL file, applied once and recorded in
// schema_migrations.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads a dialect's migrations, in the order they must be
// applied. Files are named NNNN_what.sql; the number is the version.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("read %s migrations: %s does not start with a version number", dialect, e.Name())
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("read %s migrations: %s and %s share version %d", dialect, other, e.Name(), version)
		}
		seen[version] = e.Name()
		sql, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
		}
		ms = append(ms, migration{version: version, name: name, sql: string(sql)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Applied lists the migrations the database has had, oldest first: none
// for a database screenpop never migrated. Migrate's caller compares the
// lists before and after to say what it applied.
func (p *Postgres) Applied(ctx context.Context) ([]string, error) {
	var exists bool
	if err := p.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return names, nil
}

// Applied lists the migrations the database has had, oldest first: none
// for a database screenpop never migrated.
func (s *SQLite) Applied(ctx context.Context) ([]string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return names, nil
}

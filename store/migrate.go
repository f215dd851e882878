package store

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
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

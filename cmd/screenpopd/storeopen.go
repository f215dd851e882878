package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/store"
)

// storeUse says whether a command may create the store it opens.
type storeUse int

const (
	// useExisting refuses a store that is not there: a command that reads
	// it (calls, operator list, ...) must not quietly make an empty one
	// where a mistyped path or a missing --config points.
	useExisting storeUse = iota
	// mayCreate creates a missing store, and says so: the commands that
	// add to it (operator add, token add, source add, import).
	mayCreate
)

// storeUseOf is how cmd uses the store: the commands that add create it.
func storeUseOf(cmd *cobra.Command) storeUse {
	if cmd.Name() == "add" || importing(cmd) {
		return mayCreate
	}
	return useExisting
}

// storeNote is where a command says it created the store: import's own
// report says what it wrote, from the first line.
func storeNote(cmd *cobra.Command) io.Writer {
	if importing(cmd) {
		return io.Discard
	}
	return cmd.ErrOrStderr()
}

func importing(cmd *cobra.Command) bool {
	return cmd.Parent() != nil && cmd.Parent().Name() == "import"
}

// openStoreFor opens the configured store for a command; note hears that
// a new store was created. Unlike openStore it does not seed
// calls.sources: the daemon does that as it starts.
func openStoreFor(ctx context.Context, cfg Config, use storeUse, note io.Writer) (openedStore, error) {
	if err := checkStoreOwner(cfg); err != nil {
		return openedStore{}, err
	}
	if cfg.DSN != "" {
		pg, err := store.OpenPostgres(ctx, string(cfg.DSN))
		if err != nil {
			return openedStore{}, err
		}
		applied, err := pg.Applied(ctx)
		if err == nil && len(applied) == 0 && use == useExisting {
			err = fmt.Errorf("the PostgreSQL database of store.dsn (%s) has no screenpop schema yet: the daemon creates it as it starts, or run screenpopd migrate", configNamed(cfg))
		}
		if err == nil {
			pg.SetRegion(cfg.Region)
			err = pg.Migrate(ctx)
		}
		if err != nil {
			pg.Close()
			return openedStore{}, err
		}
		if len(applied) == 0 {
			fmt.Fprintln(note, "created the screenpop schema in PostgreSQL")
		}
		return openedStore{callStore: pg, describe: "PostgreSQL", before: applied}, nil
	}
	path := filepath.Join(cfg.DataDir, "screenpop.db")
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && use == useExisting:
		return openedStore{}, fmt.Errorf("no store at %s (store.data_dir %s; %s): the daemon creates it as it starts, or run screenpopd migrate; or point --config or --store-data-dir at the right one", path, cfg.DataDir, configNamed(cfg))
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return openedStore{}, fmt.Errorf("create data directory: %w", err)
		}
		defer fmt.Fprintln(note, "created a new store at", path)
	case err != nil:
		return openedStore{}, fmt.Errorf("open the store: %w", err)
	}
	lite, err := store.OpenSQLite(ctx, path)
	if err != nil {
		return openedStore{}, err
	}
	lite.SetRegion(cfg.Region)
	applied, err := lite.Applied(ctx)
	if err == nil {
		err = lite.Migrate(ctx)
	}
	if err != nil {
		lite.Close()
		return openedStore{}, err
	}
	return openedStore{callStore: lite, describe: path, before: applied}, nil
}

// checkStore checks that the daemon can open its store, without creating
// it: a store not there yet is fine where the daemon can create it.
func checkStore(ctx context.Context, cfg Config) (string, error) {
	if cfg.DSN != "" {
		if err := checkStoreOwner(cfg); err != nil {
			return "", err
		}
		pg, err := store.OpenPostgres(ctx, string(cfg.DSN))
		if err != nil {
			return "", err
		}
		defer pg.Close()
		if err := pg.Ping(ctx); err != nil {
			return "", err
		}
		applied, err := pg.Applied(ctx)
		if err != nil {
			return "", err
		}
		if len(applied) == 0 {
			return "PostgreSQL, no schema yet: the daemon creates it as it starts", nil
		}
		return "PostgreSQL", nil
	}
	path := filepath.Join(cfg.DataDir, "screenpop.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := probeWritable(cfg.DataDir); err != nil {
			return "", fmt.Errorf("no store at %s yet, and the daemon could not create it: %w", path, err)
		}
		return path + ", not there yet: the daemon creates it as it starts", nil
	}
	db, err := openStoreFor(ctx, cfg, useExisting, io.Discard)
	if err != nil {
		return "", err
	}
	db.Close()
	return db.describe, nil
}

// probeWritable checks that a file can be made in dir, or in its nearest
// existing parent where dir does not exist yet, and leaves nothing behind.
func probeWritable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err != nil {
			if d == filepath.Dir(d) {
				return err
			}
			continue
		}
		f, err := os.CreateTemp(d, ".screenpop-check-")
		if err != nil {
			return err
		}
		f.Close()
		return os.Remove(f.Name())
	}
}

// configNamed says which config file chose the store, for an error.
func configNamed(cfg Config) string {
	if cfg.File == "" {
		return "no config file was read"
	}
	return "config file " + cfg.File
}

// migrateReport says what migrate did: the migrations it applied, or that
// there were none to apply.
func migrateReport(before, after []string, where string) string {
	var added []string
	had := map[string]bool{}
	for _, m := range before {
		had[m] = true
	}
	for _, m := range after {
		if !had[m] {
			added = append(added, m)
		}
	}
	switch {
	case len(added) == 0 && len(after) > 0:
		return fmt.Sprintf("%s is up to date: nothing to apply (%d migrations, the newest %s)", where, len(after), after[len(after)-1])
	case len(added) == 0:
		return fmt.Sprintf("%s: nothing to apply", where)
	}
	return fmt.Sprintf("applied %d migration(s) to %s: %s", len(added), where, strings.Join(added, ", "))
}

// migrate creates or updates the store's schema, seeds calls.sources as
// the daemon would, and says what it applied.
func migrate(ctx context.Context, cfg Config, out io.Writer) error {
	db, err := openStoreFor(ctx, cfg, mayCreate, io.Discard)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.SeedSources(ctx, db, cfg.Region, cfg.Sources); err != nil {
		return fmt.Errorf("calls.sources in the config: %w", err)
	}
	after, err := db.Applied(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, migrateReport(db.before, after, db.describe))
	return nil
}

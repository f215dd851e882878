package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/store"
)

// storeUseOf is how cmd uses the store: the commands that add create it.
func storeUseOf(cmd *cobra.Command) store.Use {
	if cmd.Name() == "add" || importing(cmd) {
		return store.MayCreate
	}
	return store.UseExisting
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

// storeConfig is the store the config names.
func storeConfig(cfg Config) store.Config {
	return store.Config{DSN: string(cfg.DSN), DataDir: cfg.DataDir, Region: cfg.Region, Sources: cfg.Sources, Named: configNamed(cfg)}
}

// openStoreFor opens the configured store for a command, as its owner;
// note hears that a new store was created.
func openStoreFor(ctx context.Context, cfg Config, use store.Use, note io.Writer) (store.Opened, error) {
	if err := checkStoreOwner(cfg); err != nil {
		return store.Opened{}, err
	}
	return store.OpenFor(ctx, storeConfig(cfg), use, note)
}

// checkStore checks that the daemon can open its store (store.Check), as
// its owner where it is there already.
func checkStore(ctx context.Context, cfg Config) (string, error) {
	if _, err := os.Stat(storeConfig(cfg).SQLitePath()); cfg.DSN != "" || err == nil {
		if err := checkStoreOwner(cfg); err != nil {
			return "", err
		}
	}
	return store.Check(ctx, storeConfig(cfg))
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
	db, err := openStoreFor(ctx, cfg, store.MayCreate, io.Discard)
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
	fmt.Fprintln(out, migrateReport(db.Before, after, db.Describe))
	return nil
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWhereScreenpopIsInstalledCommandsReadItsConfigAndItsDataDirectory(t *testing.T) {
	old := systemConfig
	t.Cleanup(func() { systemConfig = old })
	systemConfig = filepath.Join(t.TempDir(), "screenpop.yaml")

	cfg, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.File != "" || cfg.DataDir != filepath.Join(wd, "data") {
		t.Errorf("not installed: config file %q, data in %s; want none, ./data", cfg.File, cfg.DataDir)
	}

	if err := os.WriteFile(systemConfig, []byte("ari:\n  app: fromsystem\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err = load(t)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != systemConfig || cfg.ARIApp != "fromsystem" || cfg.DataDir != systemDataDir {
		t.Errorf("installed: config file %q (app %q), data in %s; want %s, fromsystem, %s", cfg.File, cfg.ARIApp, cfg.DataDir, systemConfig, systemDataDir)
	}
	other := filepath.Join(t.TempDir(), "other.yaml")
	os.WriteFile(other, []byte("ari:\n  app: other\n"), 0o640)
	if cfg, err = load(t, "--config", other); err != nil || cfg.ARIApp != "other" {
		t.Errorf("--config %s: app %q, %v; want other: --config wins", other, cfg.ARIApp, err)
	}
}

func TestReadingCommandsRefuseToMakeAnEmptyStoreAndMigrateSaysWhatItApplied(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mistyped")
	data := "--store-data-dir=" + dir
	for _, args := range [][]string{{"operator", "list"}, {"calls"}, {"token", "list"}, {"source", "list"}, {"operator", "remove", "101"}} {
		out, err := cli(t, append(args, data)...)
		if err == nil || !strings.Contains(err.Error(), "no store at "+filepath.Join(dir, "screenpop.db")) {
			t.Errorf("screenpopd %s on a missing store: %v\n%s\nwant an error naming the path", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a reading command made %s: %v", dir, err)
	}

	out := mustCLI(t, "migrate", data)
	if !strings.HasPrefix(out, "applied ") || !strings.Contains(out, "0001_calls") {
		t.Errorf("migrate on a new store printed %q, want what it applied", out)
	}
	out = mustCLI(t, "migrate", data)
	if !strings.Contains(out, "is up to date: nothing to apply") {
		t.Errorf("migrate again printed %q, want nothing to apply", out)
	}
	if out := mustCLI(t, "operator", "list", data); !strings.Contains(out, "EXTENSION") {
		t.Errorf("operator list on the migrated store printed %q", out)
	}

	added := filepath.Join(t.TempDir(), "new")
	out = mustCLI(t, "operator", "add", "--name", "Анна", "101", "--store-data-dir="+added)
	if !strings.Contains(out, "created a new store at "+filepath.Join(added, "screenpop.db")) {
		t.Errorf("operator add on a new store printed %q, want it to say it created the store", out)
	}
}

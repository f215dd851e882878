package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// cli runs screenpopd with args as a user would, and returns what it
// printed and its error.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatalf("screenpopd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestSourceCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--store-data-dir=" + dir

	out := mustCLI(t, "source", "add", data, "--did", "8 (495) 111-22-33", "--source", "Радио «Европа Плюс»",
		"--campaign", "Осень 2026", "--from", "2026-09-01", "--to", "2026-11-30")
	if !strings.Contains(out, "source #1 added: +74951112233 → Радио «Европа Плюс» / Осень 2026 from 2026-09-01 until 2026-12-01") {
		t.Errorf("source add printed:\n%s", out)
	}
	mustCLI(t, "source", "add", data, "--did", "+74957778899", "--source", "Прямой Иванова", "--from", "2026-01-01", "--internal")

	// The same number in another form, in a period that overlaps.
	out, err := cli(t, "source", "add", data, "--did", "74951112233", "--source", "ТВ", "--from", "2026-11-30")
	if err == nil || !strings.Contains(err.Error(), "overlaps source #1 \"Радио «Европа Плюс»\"") {
		t.Errorf("an overlapping source: %v\n%s", err, out)
	}
	_, err = cli(t, "source", "add", data, "--did", "74951112233", "--from", "1 September")
	for _, want := range []string{"--source is required", "--from: want a date such as 2026-03-01"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a source without a name and with a bad date: %v, want it to say %q", err, want)
		}
	}

	out = mustCLI(t, "source", "list", data)
	rows := regexp.MustCompile(`(?m)^(\d+)\s+(\S+)\s+`).FindAllStringSubmatch(out, -1)
	if len(rows) != 2 || rows[0][2] != "+74951112233" || rows[1][2] != "+74957778899" {
		t.Errorf("source list:\n%s", out)
	}
	if !strings.Contains(out, "2026-09-01") || !strings.Contains(out, "2026-12-01") || !strings.Contains(out, "yes") {
		t.Errorf("source list does not show the periods and the internal line:\n%s", out)
	}

	mustCLI(t, "source", "remove", data, "1")
	if _, err := cli(t, "source", "remove", data, "1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("removing a removed source: %v", err)
	}
	if _, err := cli(t, "source", "remove", data, "radio"); err == nil || !strings.Contains(err.Error(), "is not a source ID") {
		t.Errorf("removing by a name: %v", err)
	}
	if out := mustCLI(t, "source", "list", data); strings.Contains(out, "Радио") {
		t.Errorf("a removed source is still listed:\n%s", out)
	}
}

func TestSourcesFromConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "screenpop.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte("store:\n  data_dir: "+dir+"\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`calls:
  sources:
    - did: "+7 495 111-22-33"
      source: Радио
      campaign: Осень
      from: 2026-09-01
      to: 2026-11-30
    - did: "84953334455"
      source: Сайт
      from: "2026-01-01"
`)
	// Seeded at every start, added once.
	for range 2 {
		mustCLI(t, "migrate", "--config", file)
	}
	out := mustCLI(t, "source", "list", "--config", file)
	if strings.Count(out, "Радио") != 1 || strings.Count(out, "Сайт") != 1 {
		t.Errorf("after two starts the sources are:\n%s", out)
	}

	write(`calls:
  sources:
    - did: "+7 495 111-22-33"
      from: 2026-09-01
      colour: red
    - source: Сайт
      from: 2026-01-01
`)
	_, err := cli(t, "migrate", "--config", file)
	for _, want := range []string{"calls.sources: entry 1", `unknown field "colour"`, "--source is required", "entry 2", "--did is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad config sources: %v\nwant it to say %q", err, want)
		}
	}
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--store-data-dir=" + dir
	out := mustCLI(t, "token", "add", data, "--name", "Metabase", "--role", "analyst")
	m := regexp.MustCompile(`token: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "token #1 for Metabase (analyst) added") {
		t.Fatalf("token add printed:\n%s", out)
	}
	if _, err := cli(t, "token", "add", data, "--name", "Root", "--role", "superuser"); err == nil || !strings.Contains(err.Error(), `role "superuser" is not analyst, supervisor or admin`) {
		t.Errorf("a token of an unknown role: %v", err)
	}
	mustCLI(t, "token", "add", data, "--name", "Admin", "--role", "admin")
	if out := mustCLI(t, "token", "list", data); strings.Contains(out, m[1]) || !strings.Contains(out, "analyst  Metabase") || !strings.Contains(out, "admin    Admin") {
		t.Errorf("token list (must not show tokens):\n%s", out)
	}

	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.StaffByToken(context.Background(), m[1])
	if err != nil || st.Role != screenpop.RoleAnalyst || st.Name != "Metabase" {
		t.Errorf("the printed token is %+v (%v), want Metabase's analyst token", st, err)
	}
	mustCLI(t, "token", "remove", data, "1")
	if _, err := db.StaffByToken(context.Background(), m[1]); err == nil {
		t.Error("a revoked token still works")
	}
}

// A call to a mapped number is logged with its source by the daemon's
// writer, as it ends.
func TestSourceReachesTheCallLog(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "source", "add", "--store-data-dir="+dir, "--did", "74951112233", "--source", "Радио", "--from", "2020-01-01")
	ctx := context.Background()
	db, err := store.OpenSeeded(ctx, storeConfig(Config{DataDir: dir, Region: "RU"}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now().UTC()
	call := screenpop.Call{ID: "c1", Caller: "+79161234567", DID: "74951112233", Status: screenpop.StatusMissed, StartedAt: start, EndedAt: start.Add(time.Second)}
	if err := db.SaveCalls(ctx, []screenpop.Call{call}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Call(ctx, "", "c1")
	if err != nil || got.Source != "Радио" {
		t.Errorf("the call is logged with source %q (%v), want Радио", got.Source, err)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/screenpop/screenpop/store"
)

// TestManagersGetExtensionsByImportAndByCommand: the client import's
// manager extension column and `screenpopd employee extension` both give a
// manager the extension the pop (and SCREENPOP_MANAGER) then carries.
func TestManagersGetExtensionsByImportAndByCommand(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "screenpop.yaml")
	if err := os.WriteFile(cfgFile, []byte("store:\n  data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "clients.csv")
	if err := os.WriteFile(csv, []byte("Фамилия;Имя;Телефон;Менеджер;Добавочный менеджера\n"+
		"Петров;Иван;+79161234567;Соколова Анна;105\n"+
		"Сидоров;Олег;+79161234568;Орлов Пётр;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(args, "--config", cfgFile))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	if out, err := run("migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := run("import", "clients", csv)
	if err != nil || !strings.Contains(out, "manager Соколова Анна: extension 105") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = run("employee", "extension", "Орлов Пётр", "106")
	if err != nil || !strings.Contains(out, "Орлов Пётр: extension 106") {
		t.Fatalf("employee extension: %v\n%s", err, out)
	}
	if out, err = run("employee", "extension", "Орлов Пётр", "105"); err == nil || !strings.Contains(err.Error(), "105 is Соколова Анна's") {
		t.Errorf("taking Соколова's extension: %v\n%s", err, out)
	}
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "screenpop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for number, want := range map[string]string{"+79161234567": "105", "+79161234568": "106"} {
		recs, err := db.LookupPhone(context.Background(), number)
		if err != nil || len(recs) != 1 || recs[0].Manager == nil || recs[0].Manager.Extension != want {
			t.Errorf("%s's manager: %+v, %v; want extension %s", number, recs, err, want)
		}
	}
}

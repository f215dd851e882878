package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the tests off this machine's installed screenpop, if it
// has one: without --config they read no system config file.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "screenpopd-test-")
	if err != nil {
		panic(err)
	}
	systemConfig = filepath.Join(dir, "not-installed", "screenpop.yaml")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

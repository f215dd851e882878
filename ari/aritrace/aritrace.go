// Package aritrace finds the event streams recorded from a real Asterisk
// 22.10.1 that the repository carries in ari/testdata/traces, for the tests
// of every package that replays them. It imports nothing of the project.
package aritrace

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Dir is the folder of the recorded traces: $SCREENPOP_TRACES when set (to
// replay captures of your own), else the repository's ari/testdata/traces.
func Dir() (string, error) {
	dir := os.Getenv("SCREENPOP_TRACES")
	if dir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", fmt.Errorf("find the recorded ARI traces: no caller information")
		}
		dir = filepath.Join(filepath.Dir(file), "..", "testdata", "traces")
	}
	if _, err := os.Stat(filepath.Join(dir, "answered.jsonl")); err != nil {
		return "", fmt.Errorf("the recorded ARI traces are missing: %w", err)
	}
	return dir, nil
}

// Lines reads a trace (a path below Dir, such as "minimal-config/queue.jsonl"),
// one event a line, skipping empty lines.
func Lines(name string) ([][]byte, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace %s: %w", name, err)
	}
	return lines, nil
}

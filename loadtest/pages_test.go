package loadtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenpop/screenpop/ari/arisim"
)

// BenchmarkIdlePages connects idle operator pages (from this process) to
// each pipeline's process and reports its resident memory per page: the
// RSS grown from before the first page to after the last, once the
// pages have sat through a few heartbeats. The target is
// ≤ 20 KB a page and 10,000 pages ≤ 300 MB:
//
//	LOADTEST_IDLE_PAGES=10000 go test -run '^$' -bench BenchmarkIdlePages -benchtime=1x -timeout 30m -v ./loadtest/
func BenchmarkIdlePages(b *testing.B) {
	n := 2000
	if v := os.Getenv("LOADTEST_IDLE_PAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("LOADTEST_IDLE_PAGES=%q: want a positive whole number", v)
		}
	}
	bin := b.TempDir()
	for _, p := range []string{"../cmd/screenpopd", "./naive"} {
		if msg, err := exec.Command("go", "build", "-o", filepath.Join(bin, filepath.Base(p)), p).CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", p, err, msg)
		}
	}
	dsn := clientBase(b, 1000)
	exts, tokens := addOperators(b, dsn, n)
	for _, pipeline := range []string{"screenpop", "naive"} {
		b.Run(pipeline, func(b *testing.B) {
			sim := arisim.New(arisim.Config{Username: "screenpop", Password: "secret", Operators: exts[:1]}, nil)
			ariURL, err := sim.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer sim.Close()
			addr := loopbackAddr(b)
			var cmd *exec.Cmd
			if pipeline == "screenpop" {
				cmd = exec.Command(filepath.Join(bin, "screenpopd"), "serve", "--ari-url", ariURL, "--ari-password", "secret",
					"--inbound-contexts", "from-trunk", "--operator-endpoints", "Local/{ext}@phones",
					"--store-dsn", dsn, "--store-data-dir", b.TempDir(), "--http-listen", addr, "--log-level", "warn")
			} else {
				cmd = exec.Command(filepath.Join(bin, "naive"), "--ari-url", ariURL, "--ari-password", "secret", "--dsn", dsn, "--listen", addr)
			}
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			exited, waitErr := make(chan struct{}), error(nil)
			go func() { waitErr = cmd.Wait(); close(exited) }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					<-exited
				}
			}()
			waitReady(b, pipeline, addr, exited, &waitErr)
			before := rss(b, cmd.Process.Pid)
			ps := connectPages(b, pipeline, addr, exts, tokens)
			defer ps.close()
			// Idle for a few heartbeats: that is what is measured.
			time.Sleep(10 * time.Second)
			after := rss(b, cmd.Process.Pid)
			per := float64(after-before) / float64(n) / 1024
			b.ReportMetric(per, "KiB/page")
			b.ReportMetric(float64(after)/(1<<20), "RSS-MiB")
			b.Logf("%s: %d idle pages, RSS %d MiB before, %d MiB after: %.1f KiB a page; load average %s",
				pipeline, n, before>>20, after>>20, per, loadAverage())
			if pipeline == "screenpop" {
				// Where it goes, from the Go runtime's own figures.
				b.Logf("screenpop: %g goroutines, stacks %.1f KiB a page, heap in use %.1f KiB a page (of %.0f MiB)",
					metric(b, addr, "go_goroutines"), metric(b, addr, "go_memstats_stack_inuse_bytes")/float64(n)/1024,
					metric(b, addr, "go_memstats_heap_inuse_bytes")/float64(n)/1024, metric(b, addr, "go_memstats_heap_inuse_bytes")/(1<<20))
			}
		})
	}
}

// rss is the process's resident set, from /proc/PID/status.
func rss(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}

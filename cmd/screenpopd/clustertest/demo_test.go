package clustertest_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
)

var popCountRe = regexp.MustCompile(`(?m)^screenpop_pop_seconds_count (\S+)$`)

// TestDemoClusterComesUpOnThreeReplicasAndPops runs `screenpopd demo
// --cluster` as a user would, reads the replicas' URLs it prints, sees
// every replica ready and one of them pop, each of the two boxes held by
// a replica, and calls of both boxes in the call log, each once; then
// Ctrl-C stops it cleanly. (It ran `--calls 6` once, and stopped by
// itself: on a loaded machine it could be gone before the test had read
// its replicas' metrics.)
func TestDemoClusterComesUpOnThreeReplicasAndPops(t *testing.T) {
	dsn := replicas.FreshSchema(t)
	const calls = 6
	cmd := exec.Command(replicas.Daemon(), "demo", "--cluster", "--store-dsn", dsn, "--rate", "2", "--speed", "4",
		"--clients", "50", "--history-days", "0", "--http-listen", "127.0.0.1:0", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var printed strings.Builder
	var mu sync.Mutex
	urls := make(chan []string, 1)
	go func() {
		var bases []string
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`^replica (r\d): (http://\S+) `)
		for sc.Scan() {
			mu.Lock()
			printed.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				bases = append(bases, m[2])
			}
			if strings.HasPrefix(sc.Text(), "Call log:") {
				urls <- bases
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	var bases []string
	select {
	case bases = <-urls:
	case err := <-exited:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the demo exited before it printed its URLs: %v\n%s\n%s", err, printed.String(), stderr.String())
	case <-time.After(3 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the demo printed no URLs within 3 minutes:\n%s", printed.String())
	}
	mu.Lock()
	t.Logf("the demo printed:\n%s", printed.String())
	mu.Unlock()
	if len(bases) != 3 {
		t.Fatalf("want three replicas' URLs, got %q", bases)
	}
	for _, b := range bases {
		resp, err := http.Get(b + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s/readyz: %s\n%s", b, resp.Status, body)
		}
	}
	// Each box is held by one replica (its /readyz says so).
	boxRe := regexp.MustCompile(`(?m)^box (pbx\d): holder \(epoch \d+\)`)
	holders := map[string][]string{}
	oracletest.WaitLong(t, "each box held by one replica", func() bool {
		holders = map[string][]string{}
		for _, b := range bases {
			resp, err := http.Get(b + "/readyz")
			if err != nil {
				return false
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, m := range boxRe.FindAllStringSubmatch(string(body), -1) {
				holders[m[1]] = append(holders[m[1]], b)
			}
		}
		return len(holders["pbx1"]) == 1 && len(holders["pbx2"]) == 1
	})
	t.Logf("box holders: %v", holders)
	pops := func() int {
		n := 0
		for _, b := range bases {
			resp, err := http.Get(b + "/metrics")
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := popCountRe.FindSubmatch(body); m != nil {
				v, _ := strconv.ParseFloat(string(m[1]), 64)
				n += int(v)
			}
		}
		return n
	}
	var popped int
	oracletest.WaitLong(t, "a replica pops a call", func() bool { popped = pops(); return popped > 0 })
	byBox := func() map[string]int {
		n := map[string]int{}
		for _, c := range replicas.Stored(t, dsn) {
			n[c.PBX]++
		}
		return n
	}
	oracletest.WaitLong(t, fmt.Sprintf("%d calls of each box in the call log", calls), func() bool {
		n := byBox()
		return n["pbx1"] >= calls && n["pbx2"] >= calls
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the demo exited with %v after Ctrl-C:\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the demo did not stop within 3 minutes of Ctrl-C")
	}
	stored := replicas.Stored(t, dsn)
	seen := map[[2]string]bool{}
	for _, c := range stored {
		k := [2]string{c.PBX, c.ID}
		if seen[k] {
			t.Errorf("call %s of %s is in the call log twice", c.ID, c.PBX)
		}
		seen[k] = true
	}
	got := byBox()
	t.Logf("the demo: 3 replicas ready, %d pops seen, calls in the call log by box %v", popped, got)
	if len(got) != 2 || got["pbx1"] < calls || got["pbx2"] < calls {
		t.Errorf("the call log has by box %v, want at least %d calls of pbx1 and of pbx2", got, calls)
	}
}

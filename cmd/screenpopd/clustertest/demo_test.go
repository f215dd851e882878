package clustertest_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
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
// a replica, and every call of both boxes in the call log.
func TestDemoClusterComesUpOnThreeReplicasAndPops(t *testing.T) {
	dsn := replicas.FreshSchema(t)
	const calls = 6
	cmd := exec.Command(replicas.Daemon(), "demo", "--cluster", "--store-dsn", dsn, "--calls", strconv.Itoa(calls), "--rate", "2", "--speed", "4",
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
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the demo exited with %v:\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the demo did not stop after its calls")
	}
	byBox := map[string]int{}
	for _, c := range replicas.Stored(t, dsn) {
		byBox[c.PBX]++
	}
	t.Logf("the demo: 3 replicas ready, %d pops seen, calls in the call log by box %v, of %d on each", popped, byBox, calls)
	if len(byBox) != 2 || byBox["pbx1"] != calls || byBox["pbx2"] != calls {
		t.Errorf("the call log has by box %v, want %d calls of pbx1 and of pbx2", byBox, calls)
	}
}

package clustertest3_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/screenpop/screenpop/internal/oracletest"
	"github.com/screenpop/screenpop/internal/replicas"
)

// natsProcesses starts a three-node JetStream cluster of the machine's
// nats-server on loopback, as processes of their own: three NATS servers
// inside this test's process would run under its race detector, which
// on a loaded 2-core machine slows them past the lease's renewals. It
// returns the URL naming all three; they stop when the test ends.
func natsProcesses(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("this test runs the machine's nats-server (apt install nats-server): %v", err)
		}
	}
	const n = 3
	ports, routes := make([]string, n), make([]string, n)
	for i := range n {
		ports[i], routes[i] = replicas.FreePort(t), replicas.FreePort(t)
	}
	var urls []string
	for i := range n {
		var others []string
		for j := range n {
			if j != i {
				others = append(others, "nats://"+routes[j])
			}
		}
		host, port, _ := strings.Cut(ports[i], ":")
		dir := t.TempDir()
		cmd := exec.Command(bin, "--server_name", fmt.Sprintf("n%d", i+1), "--addr", host, "--port", port,
			"--jetstream", "--store_dir", filepath.Join(dir, "js"),
			"--cluster_name", "sp", "--cluster", "nats://"+routes[i], "--routes", strings.Join(others, ","))
		logf, err := os.Create(filepath.Join(dir, "nats.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nats-server: %v", err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
		})
		urls = append(urls, "nats://"+ports[i])
	}
	url := strings.Join(urls, ",")
	// JetStream answers once the three have met and chosen a leader.
	oracletest.WaitLong(t, "the NATS cluster serves JetStream", func() bool {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		_, err = nc.Request("$JS.API.INFO", nil, time.Second)
		return err == nil
	})
	return url
}

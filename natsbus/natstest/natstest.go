// Package natstest starts NATS JetStream servers for tests: embedded
// nats-server nodes on random loopback ports, alone or as a three-node
// cluster, each with a store in a temporary directory, or the machine's
// own nats-server binary as a child process. It is for tests only.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/screenpop/screenpop/internal/testport"
)

// Node is one embedded server.
type Node struct {
	Opts *server.Options
	S    *server.Server
}

// Cluster is a set of servers; URL names them all, for clients.
type Cluster struct {
	Nodes []*Node
	URL   string
}

// Start starts n embedded JetStream servers (n = 1: a single server;
// n = 3: a cluster) and stops them when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	ports, routes := make([]int, n), make([]int, n)
	for i := range n {
		ports[i], routes[i] = testport.Pick(t), testport.Pick(t)
	}
	var urls []string
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: ports[i],
			JetStream: true, StoreDir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
			NoLog: true, NoSigs: true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "sp", Host: "127.0.0.1", Port: routes[i]}
			for j := range n {
				if j != i {
					u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", routes[j]))
					o.Routes = append(o.Routes, u)
				}
			}
		}
		c.Nodes = append(c.Nodes, &Node{Opts: o})
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	c.URL = strings.Join(urls, ",")
	for _, nd := range c.Nodes {
		nd.start(t)
	}
	t.Cleanup(c.Shutdown)
	c.WaitJetStream(t)
	return c
}

func (nd *Node) start(t testing.TB) {
	t.Helper()
	s, err := server.NewServer(nd.Opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(60 * time.Second) {
		t.Fatalf("nats node %s did not start", nd.Opts.ServerName)
	}
	nd.S = s
}

// Stop stops node i (as a crash would: its store stays for Restart).
func (c *Cluster) Stop(i int) {
	c.Nodes[i].S.Shutdown()
	c.Nodes[i].S.WaitForShutdown()
}

// Restart starts node i again on its ports and store.
func (c *Cluster) Restart(t testing.TB, i int) { c.Nodes[i].start(t) }

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for _, nd := range c.Nodes {
		if nd.S != nil {
			nd.S.Shutdown()
			nd.S.WaitForShutdown()
		}
	}
}

// WaitJetStream waits until JetStream answers through the cluster (a
// meta leader is elected).
func (c *Cluster) WaitJetStream(t testing.TB) {
	t.Helper()
	nc, err := nats.Connect(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		js, err := nc.JetStream()
		if err == nil {
			if _, err = js.AccountInfo(); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// System starts the machine's nats-server binary (the Debian package's
// 2.9.10 on the project's machines) with JetStream on a random port, and
// stops it when the test ends; it fails the test if there is none.
func System(t testing.TB) (addr, version string) {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatalf("the machine's nats-server: %v", err)
	}
	out, _ := exec.Command(bin, "--version").Output()
	port := testport.Pick(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr = fmt.Sprintf("nats://127.0.0.1:%d", port)
	c := &Cluster{URL: addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the machine's nats-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.WaitJetStream(t)
	return addr, strings.TrimSpace(string(out))
}

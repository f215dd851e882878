package replicas

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// daemonBin is the daemon Main built, for every test of the binary.
var daemonBin string

// Main builds the daemon (cmd/screenpopd) once, runs the tests and exits
// with their code; a package whose tests start replicas calls it from its
// TestMain:
//
//	func TestMain(m *testing.M) { replicas.Main(m) }
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "screenpopd-cluster-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	daemonBin = filepath.Join(dir, "screenpopd")
	if out, err := exec.Command("go", "build", "-o", daemonBin, "github.com/screenpop/screenpop/cmd/screenpopd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the daemon: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Daemon is the path of the daemon Main built, to run its other commands.
func Daemon() string {
	if daemonBin == "" {
		panic("replicas: no daemon built: the package's TestMain must call replicas.Main(m)")
	}
	return daemonBin
}

package outage

import (
	"testing"

	"github.com/screenpop/screenpop/internal/replicas"
)

// TestMain builds the daemon the test runs as its own process.
func TestMain(m *testing.M) { replicas.Main(m) }

package clustertest2_test

import (
	"testing"

	"github.com/screenpop/screenpop/internal/replicas"
)

// TestMain builds the daemon the tests run as replicas.
func TestMain(m *testing.M) { replicas.Main(m) }

//go:build !linux

package store

import "time"

func processCPU() time.Duration { return 0 }

func processCPUOf(pid int) (time.Duration, bool) { return 0, false }

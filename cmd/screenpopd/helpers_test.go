package main

import (
	"fmt"
	"io"
	"log/slog"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fmtSscanf(s, format string, args ...any) (int, error) { return fmt.Sscanf(s, format, args...) }

// pad formats n with leading zeros to width digits.
func pad(n, width int) string { return fmt.Sprintf("%0*d", width, n) }

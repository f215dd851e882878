package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/spool"
	"github.com/screenpop/screenpop/store"
)

func newReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay [flags] TRACE.jsonl...",
		Short: "Feed recorded ARI events through call tracking and print each call record as JSON",
		Long: `replay reads ARI events recorded from Asterisk's events websocket (one JSON
event a line) and sends them through exactly the event path the daemon uses,
writing to a temporary call log (or to PostgreSQL with --store-dsn). It prints one JSON object a line for each
call as it ends, and a summary on standard error. Use it to see how screenpop
classifies the calls in a capture from your own PBX.`,
		Args: cobra.MinimumNArgs(1),
	}
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, args []string) error {
		return replay(cmd.Context(), cfg, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
	})
}

func (c Config) trackerConfig() screenpop.TrackerConfig {
	return screenpop.TrackerConfig{
		InboundContexts:     c.InboundContexts,
		OutboundContexts:    c.OutboundContexts,
		Operators:           c.Operators,
		Region:              c.Region,
		DIDVariable:         c.DIDVariable,
		KeepWithheldNumbers: c.KeepWithheld,
		StaleAfter:          c.StaleAfter,
		Linger:              c.Linger,
	}
}

// printLog writes each call record as a JSON line, as GET /api/calls does
// with its offers: gaps always there, [] for an exact record.
type printLog struct {
	mu  sync.Mutex
	enc *json.Encoder
	n   int
	err error
}

func (p *printLog) Record(c screenpop.Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if err := p.enc.Encode(web.CallJSON(c, true)); err != nil && p.err == nil {
		p.err = fmt.Errorf("print call record: %w", err)
	}
}

// callLogs records every call in each log.
type callLogs []screenpop.CallLog

func (ls callLogs) Record(c screenpop.Call) {
	for _, l := range ls {
		l.Record(c)
	}
}

func replay(ctx context.Context, cfg Config, files []string, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	printer := &printLog{enc: json.NewEncoder(stdout)}

	// The records go through the real call log too: into PostgreSQL when
	// a DSN is given, else into a temporary embedded store.
	if cfg.DSN == "" {
		tmp, err := os.MkdirTemp("", "screenpop-replay-")
		if err != nil {
			return fmt.Errorf("create temporary store: %w", err)
		}
		defer os.RemoveAll(tmp)
		cfg.DataDir = tmp
	}
	db, err := store.OpenSeeded(ctx, storeConfig(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	sp, err := spool.Open(filepath.Join(cfg.DataDir, "replay-spool"), cfg.SpoolMaxBytes)
	if err != nil {
		return err
	}
	defer sp.Close()
	writer := spool.NewWriter(sp, db, log)
	writeCtx, stopWriting := context.WithCancel(ctx)
	writeDone := make(chan error, 1)
	go func() { writeDone <- writer.Run(writeCtx) }()
	defer func() {
		ferr := writer.Flush(ctx)
		stopWriting()
		if werr := <-writeDone; ferr == nil && werr != nil && !errors.Is(werr, context.Canceled) {
			ferr = werr
		}
		if ferr != nil && err == nil {
			err = fmt.Errorf("write the call log: %w", ferr)
		}
	}()

	events := make(chan screenpop.Event, 4096)
	tracker := screenpop.NewTracker(cfg.trackerConfig(), callLogs{printer, writer}, nil)
	done := make(chan error, 1)
	go func() { done <- tracker.Run(ctx, events) }()

	dec := ari.NewDecoder(cfg.DIDVariable)
	m := ari.NewMetrics(nil)
	var readErr error
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			readErr = fmt.Errorf("open trace: %w", err)
			break
		}
		err = ari.ReadTrace(ctx, f, dec, events, m, log.With("trace", name))
		f.Close()
		if err != nil {
			readErr = fmt.Errorf("replay %s: %w", name, err)
			break
		}
	}
	close(events)
	if err := <-done; err != nil {
		return err
	}
	tot := m.Totals()
	fmt.Fprintf(stderr, "replayed %d files: %d calls; events: %d read, %d used, %d skipped, %d of unknown type, %d malformed\n",
		len(files), printer.n, tot.Events, tot.Events-tot.Skipped-tot.Unknown-tot.Malformed, tot.Skipped, tot.Unknown, tot.Malformed)
	if readErr != nil {
		return readErr
	}
	return printer.err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/store"
)

func newRollupsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollups",
		Short: "Rebuild or check the reports' roll-ups of the call log",
		Long: `The reports read hourly roll-ups of the call log, which the database keeps
as calls are written, replaced and deleted, and roll-ups of whole local
days added up from the hours. rebuild makes them again from
the calls and their offers (after restoring a backup of the calls alone,
say); check says whether they differ from what the calls give, changing
nothing. Both hold the call log's writers back while they run: seconds for
a year of a busy call centre.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(withDB(&cobra.Command{
		Use:   "rebuild",
		Short: "Make the roll-ups again from the call log",
		Args:  cobra.NoArgs,
	}, func(ctx context.Context, _ Config, st store.DB, out io.Writer, _ []string) error {
		start := time.Now()
		n, err := st.RebuildRollups(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rebuilt the roll-ups of %d inbound calls: %d rows of calls by hour, %d of operators by hour, %d local days, in %v\n",
			n.Calls, n.CallRows, n.OperatorRows, n.Days, time.Since(start).Round(time.Millisecond))
		return nil
	}))
	cmd.AddCommand(withDB(&cobra.Command{
		Use:   "check",
		Short: "Say whether the roll-ups are what the call log gives; exits non-zero if not",
		Args:  cobra.NoArgs,
	}, func(ctx context.Context, _ Config, st store.DB, out io.Writer, _ []string) error {
		d, err := st.CheckRollups(ctx)
		if err != nil {
			return err
		}
		if d.None() {
			fmt.Fprintln(out, "rollups: ok, the roll-ups are what the call log gives")
			return nil
		}
		fmt.Fprintf(out, "rollups: %d rows of calls (by hour or day) and %d of operators differ from the call log; fix: screenpopd rollups rebuild\n",
			d.Calls, d.Operators)
		for _, e := range d.Examples {
			fmt.Fprintln(out, "  "+e)
		}
		return errors.New("the roll-ups differ from the call log")
	}))
	return cmd
}

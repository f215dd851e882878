package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

func newSourceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source",
		Short: "Manage call sources: which advertising each dialled number (DID) stands for, and when",
		Long: `A source maps a dialled number to the advertising behind it (a radio spot,
the web site's number, a billboard) and its campaign, for a period. Every
call is logged with the source its number had when the call started;
changing the mapping later does not rewrite logged calls.

Dates are the daemon's local time (TZ); --from is the first day, --to the
last day included. Periods of one number may not overlap.`,
	}
	var (
		did, name, campaign, from, to string
		internal                      bool
	)
	add := withDB(&cobra.Command{
		Use:     "add --did NUMBER --source NAME [--campaign NAME] --from DATE [--to DATE] [--internal]",
		Short:   "Map a dialled number to a source for a period",
		Example: "  screenpopd source add --did '+7 495 111-22-33' --source 'Радио Европа Плюс' --campaign 'Осень 2026' --from 2026-09-01 --to 2026-11-30",
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, cfg Config, st store.DB, out io.Writer, _ []string) error {
		src, err := sourceFromFlags(did, name, campaign, from, to, internal)
		if err != nil {
			return fmt.Errorf("source add: %w", err)
		}
		got, err := st.AddSource(ctx, src)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "source #%d added: %s\n", got.ID, describeSource(got))
		return nil
	})
	add.Flags().StringVar(&did, "did", "", "the dialled number, in any form (+7 495..., 8495..., 7495...)")
	add.Flags().StringVar(&name, "source", "", "the source: what advertises the number")
	add.Flags().StringVar(&campaign, "campaign", "", "the campaign, if any")
	add.Flags().StringVar(&from, "from", "", "first day (YYYY-MM-DD) or instant (RFC 3339) the mapping holds; default today")
	add.Flags().StringVar(&to, "to", "", "last day (YYYY-MM-DD, included) or first instant it no longer holds; default open-ended")
	add.Flags().BoolVar(&internal, "internal", false, "the number is an employee's direct line, not advertising: its calls are of kind internal")

	list := withDB(&cobra.Command{Use: "list", Short: "List the sources", Args: cobra.NoArgs},
		func(ctx context.Context, _ Config, st store.DB, out io.Writer, _ []string) error {
			all, err := st.Sources(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDID\tSOURCE\tCAMPAIGN\tFROM\tTO\tINTERNAL")
			for _, s := range all {
				to := "-"
				if s.To != nil {
					to = showTime(*s.To)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.DID, s.Source, s.Campaign, showTime(s.From), to, yesNo(s.Internal))
			}
			return tw.Flush()
		})

	remove := withDB(&cobra.Command{Use: "remove ID", Short: "Remove a source (logged calls keep it)", Args: cobra.ExactArgs(1)},
		func(ctx context.Context, _ Config, st store.DB, out io.Writer, args []string) error {
			id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil {
				return fmt.Errorf("source remove: %q is not a source ID (see screenpopd source list)", args[0])
			}
			if err := st.RemoveSource(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(out, "source #%d removed; calls logged with it keep it\n", id)
			return nil
		})
	cmd.AddCommand(add, list, remove)
	return cmd
}

// sourceFromFlags reads a source as the CLI and the config file give it.
func sourceFromFlags(did, name, campaign, from, to string, internal bool) (screenpop.Source, error) {
	src := screenpop.Source{DID: strings.TrimSpace(did), Source: strings.TrimSpace(name), Campaign: strings.TrimSpace(campaign), Internal: internal}
	var errs []error
	if src.DID == "" {
		errs = append(errs, errors.New("--did is required"))
	}
	if src.Source == "" {
		errs = append(errs, errors.New("--source is required"))
	}
	if strings.TrimSpace(from) == "" {
		src.From = screenpop.StartOfDay(time.Now())
	} else if t, _, err := screenpop.ParseDayOrInstant(strings.TrimSpace(from), time.Local); err != nil {
		errs = append(errs, fmt.Errorf("--from: %w", err))
	} else {
		src.From = t
	}
	if strings.TrimSpace(to) != "" {
		t, day, err := screenpop.ParseDayOrInstant(strings.TrimSpace(to), time.Local)
		if err != nil {
			errs = append(errs, fmt.Errorf("--to: %w", err))
		} else {
			if day {
				t = t.AddDate(0, 0, 1) // the last day is included
			}
			src.To = &t
		}
	}
	if len(errs) == 0 {
		if err := src.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	return src, errors.Join(errs...)
}

// showTime shows an instant in local time: a date if it is midnight.
func showTime(t time.Time) string {
	t = t.Local()
	if t.Equal(screenpop.StartOfDay(t)) {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04")
}

func describeSource(s screenpop.Source) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s", s.DID, s.Source)
	if s.Campaign != "" {
		fmt.Fprintf(&b, " / %s", s.Campaign)
	}
	fmt.Fprintf(&b, " from %s", showTime(s.From))
	if s.To != nil {
		fmt.Fprintf(&b, " until %s (exclusive)", showTime(*s.To))
	} else {
		b.WriteString(", open-ended")
	}
	if s.Internal {
		b.WriteString(", internal (an employee's direct line)")
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// withDB runs a command against the configured store.
func withDB(cmd *cobra.Command, run func(ctx context.Context, cfg Config, st store.DB, out io.Writer, args []string) error) *cobra.Command {
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, args []string) error {
		db, err := openStoreFor(cmd.Context(), cfg, storeUseOf(cmd), storeNote(cmd))
		if err != nil {
			return err
		}
		defer db.Close()
		return run(cmd.Context(), cfg, db, cmd.OutOrStdout(), args)
	})
}

// configSources reads calls.sources: a list of mappings, each
//
//	{did: "+7 495 111-22-33", source: Радио, campaign: Осень, from: 2026-09-01, to: 2026-11-30, internal: false}
//
// with the dates as `source add` takes them. Every bad entry is reported.
func configSources(raw any, bad func(format string, args ...any)) []screenpop.Source {
	var list []any
	switch r := raw.(type) {
	case nil:
		return nil
	case []any:
		list = r
	case []map[string]any:
		for _, m := range r {
			list = append(list, m)
		}
	case string:
		if strings.TrimSpace(r) == "" || strings.TrimSpace(r) == "[]" {
			return nil
		}
		bad("set it in the config file as a list of {did, source, campaign, from, to, internal}, not as %q", r)
		return nil
	default:
		bad("want a list of {did, source, campaign, from, to, internal}, got %T", raw)
		return nil
	}
	var out []screenpop.Source
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			bad("entry %d: want {did, source, campaign, from, to, internal}, got %v", i+1, item)
			continue
		}
		text := func(k string) string {
			switch v := m[k].(type) {
			case nil:
				return ""
			case time.Time:
				if v.Equal(screenpop.StartOfDay(v)) {
					return v.Format(time.DateOnly)
				}
				return v.Format(time.RFC3339)
			default:
				return strings.TrimSpace(fmt.Sprint(v))
			}
		}
		for k := range m {
			switch k {
			case "did", "source", "campaign", "from", "to", "internal":
			default:
				bad("entry %d: unknown field %q (want did, source, campaign, from, to, internal)", i+1, k)
			}
		}
		internal := false
		if v, ok := m["internal"]; ok {
			b, isBool := v.(bool)
			if !isBool {
				bad("entry %d: internal: want true or false, got %v", i+1, v)
			}
			internal = b
		}
		src, err := sourceFromFlags(text("did"), text("source"), text("campaign"), text("from"), text("to"), internal)
		if err != nil {
			bad("entry %d (%s): %s", i+1, text("did"), strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		if strings.TrimSpace(text("from")) == "" {
			bad("entry %d (%s): from is required in the config (a seed must not move with the day the daemon starts)", i+1, text("did"))
			continue
		}
		out = append(out, src)
	}
	return out
}

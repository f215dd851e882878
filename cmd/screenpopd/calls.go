package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// The call log for analysts: `screenpopd calls` and GET /api/calls take
// the same filters (web.ParseCallFilter) and write the same CSV.
// mountCalls serves GET /api/calls to analysts' and admins' staff tokens.
func mountCalls(d serveDeps) error {
	d.web.Handle("GET /api/calls", web.RequireStaff(d.staff, screenpop.RoleAnalyst, web.CallsHandler(d.db, d.log, time.Now)))
	return nil
}

func newCallsCmd() *cobra.Command {
	var (
		from, to, direction, source, campaign, operator, caller, pbx string
		statuses, kinds, gaps                                        []string
		format, sep                                                  string
		limit                                                        int
		offers, uncertain, rejected                                  bool
		fl                                                           *pflag.FlagSet
	)
	var cmd *cobra.Command
	cmd = withDB(&cobra.Command{
		Use:   "calls [--from DATE] [--to DATE] [filters] [--format table|csv|json|jsonl]",
		Short: "List the call log: the calls the filters match, newest first",
		Long: `calls lists the call log, newest first: by default today's calls, as a table.

Dates are the daemon's local time (TZ): --from is the first day, --to the
last day included; either also takes an RFC 3339 instant. --to alone is
that day. Filters combine: a call must match each one given.

--format csv writes a file spreadsheets open as it is (UTF-8 with a byte
order mark, one row per call, the start's date and time in columns of their
own); add --csv-sep ';' for Excel in Russian and most European locales,
which also writes seconds with a decimal comma. json writes one JSON array
of call records, jsonl one record a line; --offers adds each call's offers.
csv, json and jsonl stream: a month of calls needs little memory.

--uncertain lists only the records that say they are not exact (their gaps
column names what the daemon did not see: start, caller, offers, answer, end);
--gap picks those with one of the gaps given.

When the range overlaps a period during which the daemon did not see
Asterisk's events (an ARI drop, the daemon stopped or killed), a line says
so (after the table; on stderr with csv, json and jsonl): the calls that
began and ended then are not in the call log.

--rejected lists instead the call records the database refused, which the
daemon set aside (rejected_calls) so that the others could be written: each
with its reason and the record as the daemon had it, in JSON.`,
		Example: `  screenpopd calls
  screenpopd calls --status missed,abandoned --source 'Радио «Европа Плюс»'
  screenpopd calls --from 2026-03-01 --to 2026-03-31 --format csv --csv-sep ';' > march.csv
  screenpopd calls --caller '8 916 123-45-67' --from 2026-01-01 --format jsonl --offers
  screenpopd calls --uncertain --from 2026-03-01 --to 2026-03-31
  screenpopd calls --rejected`,
		Args: cobra.NoArgs,
	}, func(ctx context.Context, _ Config, st store.DB, out io.Writer, _ []string) error {
		if rejected {
			return printRejected(ctx, st, out)
		}
		q := url.Values{}
		for name, v := range map[string]string{"from": from, "to": to, "direction": direction, "source": source,
			"campaign": campaign, "operator": operator, "caller": caller} {
			if strings.TrimSpace(v) != "" {
				q.Set(name, v)
			}
		}
		q["status"], q["kind"], q["gap"] = statuses, kinds, gaps
		if fl.Changed("pbx") {
			q["pbx"] = []string{pbx} // --pbx '' is the one box of a single-box setup
		}
		if uncertain {
			q.Set("uncertain", "1")
		}
		f, err := web.ParseCallFilter(q, time.Now())
		var bad web.BadParams
		errors.As(err, &bad)
		problems := make([]error, 0, len(bad))
		for _, p := range bad {
			problems = append(problems, fmt.Errorf("--%s: %s", p.Name, p.Problem))
		}
		comma, err := web.ParseCSVSep(sep)
		if err != nil {
			problems = append(problems, fmt.Errorf("--csv-sep: %w", err))
		}
		switch format {
		case "table", "csv":
			if offers {
				problems = append(problems, fmt.Errorf("--offers: the %s format has one line per call; use json or jsonl", format))
			}
		case "json", "jsonl":
		default:
			problems = append(problems, fmt.Errorf("--format: %q is not table, csv, json or jsonl", format))
		}
		if limit < 0 {
			problems = append(problems, fmt.Errorf("--limit: want 0 (every call) or more, got %d", limit))
		}
		if len(problems) > 0 {
			return fmt.Errorf("calls: %w", errors.Join(problems...))
		}
		f.Limit, f.Offers = limit, offers

		w := bufio.NewWriter(out)
		var p callPrinter
		switch format {
		case "table":
			p = newCallTable(w, limit)
		case "csv":
			if p, err = newCallCSV(w, comma); err != nil {
				return err
			}
		case "json":
			p = &callJSON{w: w, offers: offers}
		case "jsonl":
			p = &callJSONL{enc: json.NewEncoder(w), offers: offers}
		}
		if err := st.Calls(ctx, f, p.print); err != nil {
			w.Flush()
			return err
		}
		if err := p.end(); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("calls: write: %w", err)
		}
		// The periods the daemon did not see: after the table, for
		// people; on stderr beside a file, whose shape stays.
		warn := cmd.ErrOrStderr()
		if format == "table" {
			warn = out
		}
		return printUnseen(ctx, st, f.From, f.To, warn)
	})
	fl = cmd.Flags()
	fl.StringVar(&from, "from", "", "first day (YYYY-MM-DD) or instant (RFC 3339); default today, or --to's day")
	fl.StringVar(&to, "to", "", "last day, included, or the instant the listing stops at; default the end of today")
	fl.StringSliceVar(&statuses, "status", nil, "answered, missed, abandoned, busy, failed (comma-separated: any of them)")
	fl.StringSliceVar(&kinds, "kind", nil, "who called: client, lead, new, withheld, internal (comma-separated)")
	fl.StringVar(&direction, "direction", "", "inbound or outbound; default both")
	fl.StringVar(&source, "source", "", "the source of the dialled number, exactly as logged (see screenpopd source list)")
	fl.StringVar(&campaign, "campaign", "", "the campaign, exactly as logged")
	fl.StringVar(&operator, "operator", "", "an operator's extension: calls that rang their phone, that they talked on or placed")
	fl.StringVar(&caller, "caller", "", "a number in any form (89161234567, +7 916 123-45-67): its calls, in and out")
	fl.StringVar(&pbx, "pbx", "", "the calls of one Asterisk box (asterisk.boxes[].name; --pbx '' the one box of a single-box setup); default every box")
	fl.BoolVar(&uncertain, "uncertain", false, "only the records that are not exact (with gaps)")
	fl.StringSliceVar(&gaps, "gap", nil, "only the records with one of these gaps: start, caller, offers, answer, end (comma-separated)")
	fl.BoolVar(&rejected, "rejected", false, "list the records the database refused, set aside, instead of the call log")
	fl.IntVar(&limit, "limit", 0, "list at most this many calls; 0: every call")
	fl.StringVar(&format, "format", "table", "table, csv, json (one array) or jsonl (one call a line)")
	fl.StringVar(&sep, "csv-sep", ",", "the CSV's separator: ',' or ';' (Excel in Russian and most European locales) or tab")
	fl.BoolVar(&offers, "offers", false, "with json and jsonl: each call's offers (the operators' phones dialled)")
	return cmd
}

// callPrinter prints a listing, a call at a time.
type callPrinter interface {
	print(c screenpop.Call) error
	end() error
}

// callTable is the listing for people: aligned columns, times local, and
// a count at the end. It holds the rows until the end to align them, and
// to know whether they need a PBX column: only calls of several boxes
// have one.
type callTable struct {
	tw       *tabwriter.Writer
	out      io.Writer
	n, limit int
	rows     []tableRow
	boxes    bool
}

type tableRow struct{ pbx, rest string }

func newCallTable(w io.Writer, limit int) *callTable {
	return &callTable{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0), out: w, limit: limit}
}

func (t *callTable) print(c screenpop.Call) error {
	t.n++
	dir, caller := "in", c.Caller
	if c.Direction == screenpop.Outbound {
		dir = "out"
	}
	if c.CallerE164 != nil {
		caller = *c.CallerE164
	}
	gaps := make([]string, len(c.Gaps))
	for i, g := range c.Gaps {
		gaps[i] = string(g)
	}
	t.boxes = t.boxes || c.PBX != ""
	t.rows = append(t.rows, tableRow{tableCell(c.PBX), fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\n",
		dir, tableCell(caller), c.CallerKind, tableCell(c.DID), tableCell(c.Source),
		c.Status, callOperators(c), c.RingSeconds, c.WaitSeconds, c.TalkSeconds, tableCell(strings.Join(gaps, ",")))})
	t.rows[len(t.rows)-1].rest = c.StartedAt.Local().Format(time.DateTime) + "\t" + t.rows[len(t.rows)-1].rest
	return nil
}

func (t *callTable) end() error {
	header := "STARTED\tDIR\tCALLER\tKIND\tDID\tSOURCE\tSTATUS\tOPERATORS\tRING\tWAIT\tTALK\tGAPS\n"
	if t.boxes {
		header = "PBX\t" + header
	}
	fmt.Fprint(t.tw, header)
	for _, r := range t.rows {
		if t.boxes {
			fmt.Fprint(t.tw, r.pbx+"\t")
		}
		fmt.Fprint(t.tw, r.rest)
	}
	if err := t.tw.Flush(); err != nil {
		return err
	}
	switch {
	case t.limit > 0 && t.n == t.limit:
		_, err := fmt.Fprintf(t.out, "%d calls (--limit %d: there may be more)\n", t.n, t.limit)
		return err
	case t.n == 1:
		_, err := fmt.Fprintln(t.out, "1 call")
		return err
	}
	_, err := fmt.Fprintf(t.out, "%d calls\n", t.n)
	return err
}

// callOperators shows who a call involved: the operators whose phones rang,
// then "→" and those the caller talked to; for an outbound call, who
// placed it.
func callOperators(c screenpop.Call) string {
	if c.Direction == screenpop.Outbound {
		if c.AnsweredBy != nil {
			return tableCell(*c.AnsweredBy)
		}
		return "-"
	}
	s := strings.Join(c.OfferedTo, " ")
	if len(c.TalkedTo) > 0 {
		s = strings.TrimSpace(s + " → " + strings.Join(c.TalkedTo, " "))
	}
	return tableCell(s)
}

// tableCell keeps a table cell on its line and in its column, and the
// terminal as it was: control characters (an escape sequence in a caller
// ID) are shown escaped, as \x1b, never sent raw.
func tableCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unsafeRune reports whether a terminal could act on r rather than show
// it: C0 and C1 controls, DEL, bidirectional overrides.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

type callCSV struct{ w *web.CallsCSV }

func newCallCSV(w io.Writer, sep rune) (*callCSV, error) {
	c, err := web.NewCallsCSV(w, sep, time.Local)
	return &callCSV{c}, err
}

func (c *callCSV) print(call screenpop.Call) error { return c.w.Write(call) }
func (c *callCSV) end() error                      { return c.w.Flush() }

// callJSON prints one JSON array, a call a line.
type callJSON struct {
	w      io.Writer
	offers bool
	n      int
}

func (j *callJSON) print(c screenpop.Call) error {
	b, err := json.Marshal(web.CallJSON(c, j.offers))
	if err != nil {
		return fmt.Errorf("print call %s: %w", c.ID, err)
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *callJSON) end() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

type callJSONL struct {
	enc    *json.Encoder
	offers bool
}

func (j *callJSONL) print(c screenpop.Call) error { return j.enc.Encode(web.CallJSON(c, j.offers)) }
func (j *callJSONL) end() error                   { return nil }

// rejectedLister is what --rejected needs of the store.
type rejectedLister interface {
	RejectedCalls(ctx context.Context) ([]store.Rejected, error)
}

// printRejected lists the records the database refused, oldest first.
func printRejected(ctx context.Context, st store.CallLister, out io.Writer) error {
	rl, ok := st.(rejectedLister)
	if !ok {
		return errors.New("calls --rejected: this store keeps no rejected records")
	}
	list, err := rl.RejectedCalls(ctx)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	for _, r := range list {
		fmt.Fprintf(w, "%s  call %s  refused: %s\n  %s\n", r.RejectedAt.Local().Format(time.DateTime), tableCell(screenpop.CallKey(r.PBX, r.CallID)),
			tableCell(r.Reason), r.Record)
	}
	switch len(list) {
	case 0:
		fmt.Fprintln(w, "no rejected call records")
	case 1:
		fmt.Fprintln(w, "1 rejected call record")
	default:
		fmt.Fprintf(w, "%d rejected call records\n", len(list))
	}
	return w.Flush()
}

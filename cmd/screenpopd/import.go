package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/screenpop/screenpop/clientcsv"
	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// importShown bounds the rejected rows and notes the summary lists; the
// rejects file has them all.
const importShown = 50

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import into the client base the pop looks callers up in",
	}
	var (
		maps                                         []string
		mappingFile, encoding, delimiter, rejectFile string
		dryRun                                       bool
		skipRows                                     int
	)
	clients := withDB(&cobra.Command{
		Use:   "clients FILE.csv",
		Short: "Import a client base export (CSV): new clients are added, known ones merged, bad rows reported",
		Long: `Imports a client base as a dealership exports it from Excel, 1C or its
CRM: CSV in UTF-8, Windows-1251, CP866 or KOI8-R (told apart by their
letters; --encoding names it), separated by ';', ',' or tabs, one client a
row. Title rows above the header (a 1C report's) are skipped: the header
is the first of the first 16 rows to name a column of phones and one of
names, or the row after --skip-rows.

Columns are found by their headers (Фамилия, Имя, Отчество, ФИО, Телефон,
E-mail, Марка, Модель, Год выпуска, Госномер, VIN, Окончание гарантии,
Менеджер, Последний визит, Количество визитов, ... or their English
names); map others with --map or a mapping file. The fields are:
` + wrap(strings.Join(clientcsv.Fields, ", "), 76, "  ") + `
A phone cell may hold several numbers, in any national or international
form; dates are DD.MM.YYYY or YYYY-MM-DD.

A row whose number is already a client's (in the base, or earlier in the
file), or whose external_id is, is merged into that client: new numbers
and cars (by VIN, else plate) are added and empty fields filled; nothing
is duplicated. A number on a client with another name (a family's home
number) is shared: the row is another client. A lead's number makes the
lead a client with the row's name. A row that points at two clients is
rejected as ambiguous. Importing the same file again changes nothing.

Rejected rows (no valid phone number, no name, a bad date, ambiguous, ...)
are listed with their line and reason; --rejects writes them to a file, as
they were plus a reason column, to correct and import again.`,
		Example: `  screenpopd import clients --dry-run clients.csv
  screenpopd import clients --map full_name=Клиент,phones=Мобильный --rejects rejects.csv clients.csv
  screenpopd import clients --mapping crm-export.yaml export.csv

A mapping file:
  columns:
    full_name: Контрагент
    phones: [Телефон, Мобильный телефон]
    plate: Гос. рег. знак
  encoding: windows-1251
  delimiter: ";"`,
		Args: cobra.ExactArgs(1),
	}, func(ctx context.Context, cfg Config, st store.DB, out io.Writer, args []string) error {
		opts, err := csvOptions(cfg, maps, mappingFile, encoding, delimiter)
		if err != nil {
			return fmt.Errorf("import clients: %w", err)
		}
		if skipRows < 0 {
			return fmt.Errorf("import clients: --skip-rows %d: want 0 (find the header) or more", skipRows)
		}
		opts.SkipRows = skipRows
		data, err := os.ReadFile(args[0])
		if err != nil {
			return fmt.Errorf("import clients: %w", err)
		}
		f, err := clientcsv.Read(data, opts)
		if err != nil {
			return fmt.Errorf("import clients: %s: %w", args[0], err)
		}
		printFormat(out, args[0], f, dryRun)
		rep, mergeErr := st.MergeClients(ctx, f.Rows, store.MergeOptions{DryRun: dryRun})
		results := append(slices.Clone(f.Rejected), rep.Results...)
		slices.SortStableFunc(results, func(a, b screenpop.RowResult) int { return a.Line - b.Line })
		printSummary(out, f, rep, results, dryRun)
		if rejectFile != "" {
			var rejected []screenpop.RowResult
			for _, r := range results {
				if r.Outcome == screenpop.RowRejected {
					rejected = append(rejected, r)
				}
			}
			var buf bytes.Buffer
			if err := clientcsv.WriteRejects(&buf, f, rejected); err != nil {
				return err
			}
			if err := os.WriteFile(rejectFile, buf.Bytes(), 0o600); err != nil {
				return fmt.Errorf("import clients: write rejects: %w", err)
			}
			fmt.Fprintf(out, "%d rejected rows written, with the reason, to %s\n", len(rejected), rejectFile)
		}
		if mergeErr != nil {
			return fmt.Errorf("%w (the rows above it are imported; run the import again once it is fixed)", mergeErr)
		}
		if dryRun {
			return nil
		}
		return setManagerExtensions(ctx, st, f.Rows, out)
	})
	fs := clients.Flags()
	fs.StringSliceVar(&maps, "map", nil, "field=Header mappings, comma-separated or repeated (phones may take several columns)")
	fs.StringVar(&mappingFile, "mapping", "", "YAML file with columns: {field: Header or [Headers]}, and optionally encoding and delimiter")
	fs.StringVar(&encoding, "encoding", "", "auto, utf-8, "+strings.Join(clientcsv.Encodings, ", ")+
		" (default auto: UTF-8 if the file is, else the Cyrillic encoding its letters say, else refused)")
	fs.IntVar(&skipRows, "skip-rows", 0, "rows above the header to skip (default 0: the header is found among the first 16 rows)")
	fs.StringVar(&delimiter, "delimiter", "", "field separator: ';', ',', tab or '|' (default: found in the header)")
	fs.StringVar(&rejectFile, "rejects", "", "write the rejected rows, as they were plus a reason column, to this CSV file")
	fs.BoolVar(&dryRun, "dry-run", false, "say what the import would do, and change nothing")
	cmd.AddCommand(clients)
	return cmd
}

// mappingDoc is a mapping file.
type mappingDoc struct {
	Columns   map[string]yaml.Node `yaml:"columns"`
	Encoding  string               `yaml:"encoding"`
	Delimiter string               `yaml:"delimiter"`
}

// csvOptions puts the mapping file and the flags together, the flags
// winning.
func csvOptions(cfg Config, maps []string, mappingFile, encoding, delimiter string) (clientcsv.Options, error) {
	opts := clientcsv.Options{Region: cfg.Region, Columns: map[string][]string{}}
	var errs []error
	if mappingFile != "" {
		b, err := os.ReadFile(mappingFile)
		if err != nil {
			return opts, err
		}
		var doc mappingDoc
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
			return opts, fmt.Errorf("mapping file %s: %w", mappingFile, err)
		}
		for field, node := range doc.Columns {
			var headers []string
			switch node.Kind {
			case yaml.ScalarNode:
				headers = []string{node.Value}
			case yaml.SequenceNode:
				if err := node.Decode(&headers); err != nil {
					errs = append(errs, fmt.Errorf("mapping file %s: %s: %w", mappingFile, field, err))
				}
			default:
				errs = append(errs, fmt.Errorf("mapping file %s: %s: want a header or a list of headers", mappingFile, field))
			}
			opts.Columns[field] = headers
		}
		opts.Encoding = doc.Encoding
		delimiter = cmp.Or(delimiter, doc.Delimiter)
	}
	if encoding != "" {
		opts.Encoding = encoding
	}
	fromFlags := map[string][]string{}
	for _, m := range maps {
		field, header, ok := strings.Cut(m, "=")
		field, header = strings.TrimSpace(field), strings.TrimSpace(header)
		if !ok || field == "" || header == "" {
			errs = append(errs, fmt.Errorf("--map %q: want field=Header, such as last_name=Фамилия", m))
			continue
		}
		fromFlags[field] = append(fromFlags[field], header)
	}
	for field, headers := range fromFlags {
		opts.Columns[field] = headers
	}
	switch d := delimiter; {
	case d == "":
	case d == "tab" || d == `\t`:
		opts.Delimiter = '\t'
	case utf8.RuneCountInString(d) == 1 && d != `"` && d != "\n" && d != "\r":
		opts.Delimiter, _ = utf8.DecodeRuneInString(d)
	default:
		errs = append(errs, fmt.Errorf("--delimiter %q: want one character, such as ';', ',' or tab", d))
	}
	return opts, errors.Join(errs...)
}

// printFormat says how the file was read and which column went where.
func printFormat(out io.Writer, name string, f *clientcsv.File, dryRun bool) {
	if dryRun {
		fmt.Fprintln(out, "dry run: nothing is written; this is what the import would do")
	}
	delim := map[rune]string{';': "';'", ',': "','", '\t': "tab", '|': "'|'"}[f.Delimiter]
	if delim == "" {
		delim = fmt.Sprintf("%q", f.Delimiter)
	}
	bom := ""
	if f.BOM {
		bom = " with BOM"
	}
	fmt.Fprintf(out, "%s: %s%s, %s-separated\n", name, f.Encoding, bom, delim)
	if len(f.Titles) > 0 {
		fmt.Fprintf(out, "skipped above the header: %s\n", strings.Join(f.Titles, " | "))
	}
	var cols []string
	for i, h := range f.Header {
		field := f.Fields[i]
		if field == "" {
			field = "(left out)"
		}
		cols = append(cols, fmt.Sprintf("%s → %s", h, field))
	}
	fmt.Fprintf(out, "columns: %s\n", strings.Join(cols, ", "))
}

// printSummary prints what the import did, then the rejected rows and the
// notes, by line.
func printSummary(out io.Writer, f *clientcsv.File, rep store.MergeReport, results []screenpop.RowResult, dryRun bool) {
	rejected := len(f.Rejected) + rep.Rejected
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	verb := ""
	if dryRun {
		verb = " (would be)"
	}
	for _, l := range []struct {
		what string
		n    int
	}{
		{"rows read", len(f.Rows) + len(f.Rejected)},
		{"clients added" + verb, rep.ClientsAdded},
		{"clients updated" + verb, rep.ClientsUpdated},
		{"phones added" + verb, rep.PhonesAdded},
		{"cars added" + verb, rep.CarsAdded},
		{"rows merged", rep.Merged},
		{"rows unchanged", rep.Unchanged},
		{"rows rejected", rejected},
	} {
		fmt.Fprintf(tw, "%s:\t%d\n", l.what, l.n)
	}
	tw.Flush()
	shownRejects, shownNotes, notes := 0, 0, 0
	for _, r := range results {
		if r.Outcome == screenpop.RowRejected {
			if shownRejects++; shownRejects <= importShown {
				fmt.Fprintf(out, "line %d: rejected: %s\n", r.Line, r.Reason)
			}
		}
		for _, n := range r.Notes {
			notes++
			if shownNotes++; shownNotes <= importShown {
				fmt.Fprintf(out, "line %d: note: %s\n", r.Line, n)
			}
		}
	}
	if shownRejects > importShown {
		fmt.Fprintf(out, "... and %d more rejected rows (--rejects FILE lists them all)\n", shownRejects-importShown)
	}
	if notes > importShown {
		fmt.Fprintf(out, "... and %d more notes\n", notes-importShown)
	}
}

// wrap breaks text into lines of at most width, each indented.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	return b.String() + line
}

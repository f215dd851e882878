package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// DB is a store of either engine: everything the daemon and its commands
// ask of one.
type DB interface {
	Ping(ctx context.Context) error
	Migrate(ctx context.Context) error
	Applied(ctx context.Context) ([]string, error)
	SetRegion(region string)
	Close() error

	SaveCalls(ctx context.Context, calls []screenpop.Call) error
	Call(ctx context.Context, pbx, id string) (screenpop.Call, error)
	Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error
	RejectCall(ctx context.Context, c screenpop.Call, reason error) error
	Refused(err error) bool
	RejectedCalls(ctx context.Context) ([]Rejected, error)
	SaveUnseen(ctx context.Context, periods []screenpop.UnseenPeriod) error
	UnseenPeriods(ctx context.Context, from, to time.Time, limit int) ([]screenpop.UnseenPeriod, error)
	Summary(ctx context.Context, from, to time.Time, sl time.Duration) (report.Summary, error)
	RebuildRollups(ctx context.Context) (RollupCounts, error)
	CheckRollups(ctx context.Context) (RollupDrift, error)

	LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error)
	Client(ctx context.Context, id int64) (screenpop.ClientHistory, error)
	ImportClients(ctx context.Context, clients []screenpop.ClientHistory) ([]int64, error)
	MergeClients(ctx context.Context, rows []screenpop.ImportRow, opts MergeOptions) (MergeReport, error)
	SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error)
	ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error)
	ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error)
	EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error)
	UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error)
	SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
	CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error)

	Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error)
	ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error)
	CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error

	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
	Operators(ctx context.Context) ([]screenpop.Operator, error)
	RemoveOperator(ctx context.Context, extension string) error
	OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error)
	NewOperatorToken(ctx context.Context, extension string) (string, error)
	AddStaff(ctx context.Context, name string, role screenpop.Role) (screenpop.Staff, string, error)
	StaffByToken(ctx context.Context, token string) (screenpop.Staff, error)
	Staff(ctx context.Context) ([]screenpop.Staff, error)
	RemoveStaff(ctx context.Context, id int64) error

	AddSource(ctx context.Context, src screenpop.Source) (screenpop.Source, error)
	Sources(ctx context.Context) ([]screenpop.Source, error)
	RemoveSource(ctx context.Context, id int64) error
}

var (
	_ DB = (*Postgres)(nil)
	_ DB = (*SQLite)(nil)
)

// Config says which store to open: PostgreSQL at DSN when it is set,
// else the embedded store in DataDir.
type Config struct {
	DSN     string
	DataDir string
	// Region is the country of national number forms (SetRegion).
	Region string
	// Sources are added to calls.sources when the daemon opens the store
	// (SeedSources).
	Sources []screenpop.Source
	// Named says where the settings came from ("config file /etc/...",
	// "no config file was read"), for the errors that send a user there.
	Named string
}

// SQLitePath is where the embedded store of cfg lives.
func (cfg Config) SQLitePath() string { return filepath.Join(cfg.DataDir, "screenpop.db") }

// Opened is an open, migrated store.
type Opened struct {
	DB
	// Describe names it for people: "PostgreSQL", or the file's path.
	Describe string
	// Before are the migrations it had before it was opened.
	Before []string
}

// Use says whether a command may create the store it opens.
type Use int

const (
	// UseExisting refuses a store that is not there: a command that reads
	// it must not quietly make an empty one where a mistyped path or a
	// missing config points.
	UseExisting Use = iota
	// MayCreate creates a missing store, and says so.
	MayCreate
)

// OpenFor opens and migrates the store for a command; note hears that a
// new store was created. Unlike OpenSeeded it does not seed cfg.Sources:
// the daemon does that as it starts.
func OpenFor(ctx context.Context, cfg Config, use Use, note io.Writer) (Opened, error) {
	if cfg.DSN != "" {
		pg, err := OpenPostgres(ctx, cfg.DSN)
		if err != nil {
			return Opened{}, err
		}
		applied, err := pg.Applied(ctx)
		if err == nil && len(applied) == 0 && use == UseExisting {
			err = fmt.Errorf("the PostgreSQL database of store.dsn (%s) has no screenpop schema yet: the daemon creates it as it starts, or run screenpopd migrate", cfg.Named)
		}
		if err == nil {
			pg.SetRegion(cfg.Region)
			err = pg.Migrate(ctx)
		}
		if err != nil {
			pg.Close()
			return Opened{}, err
		}
		if len(applied) == 0 {
			fmt.Fprintln(note, "created the screenpop schema in PostgreSQL")
		}
		return Opened{DB: pg, Describe: "PostgreSQL", Before: applied}, nil
	}
	path := cfg.SQLitePath()
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && use == UseExisting:
		return Opened{}, fmt.Errorf("no store at %s (store.data_dir %s; %s): the daemon creates it as it starts, or run screenpopd migrate; or point --config or --store-data-dir at the right one", path, cfg.DataDir, cfg.Named)
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return Opened{}, fmt.Errorf("create data directory: %w", err)
		}
		defer fmt.Fprintln(note, "created a new store at", path)
	case err != nil:
		return Opened{}, fmt.Errorf("open the store: %w", err)
	}
	lite, err := OpenSQLite(ctx, path)
	if err != nil {
		return Opened{}, err
	}
	lite.SetRegion(cfg.Region)
	applied, err := lite.Applied(ctx)
	if err == nil {
		err = lite.Migrate(ctx)
	}
	if err != nil {
		lite.Close()
		return Opened{}, err
	}
	return Opened{DB: lite, Describe: path, Before: applied}, nil
}

// OpenSeeded opens and migrates the store as the daemon does, creating
// it where need be, and seeds cfg.Sources.
func OpenSeeded(ctx context.Context, cfg Config) (Opened, error) {
	var (
		db   DB
		desc string
	)
	if cfg.DSN != "" {
		pg, err := OpenPostgres(ctx, cfg.DSN)
		if err != nil {
			return Opened{}, err
		}
		db, desc = pg, "PostgreSQL"
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return Opened{}, fmt.Errorf("create data directory: %w", err)
		}
		path := cfg.SQLitePath()
		lite, err := OpenSQLite(ctx, path)
		if err != nil {
			return Opened{}, err
		}
		db, desc = lite, path
	}
	db.SetRegion(cfg.Region)
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return Opened{}, err
	}
	if _, err := SeedSources(ctx, db, cfg.Region, cfg.Sources); err != nil {
		db.Close()
		return Opened{}, fmt.Errorf("calls.sources in the config: %w", err)
	}
	return Opened{DB: db, Describe: desc}, nil
}

// Check checks that the daemon can open its store, without creating it:
// a store not there yet is fine where the daemon can create it. It says
// which store it found.
func Check(ctx context.Context, cfg Config) (string, error) {
	if cfg.DSN != "" {
		pg, err := OpenPostgres(ctx, cfg.DSN)
		if err != nil {
			return "", err
		}
		defer pg.Close()
		if err := pg.Ping(ctx); err != nil {
			return "", err
		}
		applied, err := pg.Applied(ctx)
		if err != nil {
			return "", err
		}
		if len(applied) == 0 {
			return "PostgreSQL, no schema yet: the daemon creates it as it starts", nil
		}
		return "PostgreSQL", nil
	}
	path := cfg.SQLitePath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := probeWritable(cfg.DataDir); err != nil {
			return "", fmt.Errorf("no store at %s yet, and the daemon could not create it: %w", path, err)
		}
		return path + ", not there yet: the daemon creates it as it starts", nil
	}
	db, err := OpenFor(ctx, cfg, UseExisting, io.Discard)
	if err != nil {
		return "", err
	}
	db.Close()
	return db.Describe, nil
}

// probeWritable checks that a file can be made in dir, or in its nearest
// existing parent where dir does not exist yet, and leaves nothing behind.
func probeWritable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err != nil {
			if d == filepath.Dir(d) {
				return err
			}
			continue
		}
		f, err := os.CreateTemp(d, ".screenpop-check-")
		if err != nil {
			return err
		}
		f.Close()
		return os.Remove(f.Name())
	}
}

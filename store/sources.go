package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// Sources map dialled numbers to the advertising behind them. A call takes
// the mapping valid when it started as it is saved (see pgInsertCall), so
// adding or removing a mapping later changes no logged call. Two periods of
// one number may not overlap: which one a call belonged to would be a
// guess.

// prepareSource checks a source and gives its number in DIDKey form.
func prepareSource(src screenpop.Source, region string) (screenpop.Source, error) {
	src.DID = screenpop.DIDKey(src.DID, region)
	src.Source = strings.TrimSpace(src.Source)
	src.Campaign = strings.TrimSpace(src.Campaign)
	src.From = msUTC(src.From)
	src.To = msUTCPtr(src.To)
	if err := src.Check(); err != nil {
		return src, fmt.Errorf("add source: %w", err)
	}
	return src, nil
}

// overlapError is the error for a source whose period clashes with old's.
func overlapError(src, old screenpop.Source) error {
	return fmt.Errorf("add source %q for %s: its period overlaps source #%d %q (%s): %w",
		src.Source, src.DID, old.ID, old.Source, period(old), ErrExists)
}

// period shows a source's dates as the CLI takes them.
func period(s screenpop.Source) string {
	to := "open-ended"
	if s.To != nil {
		to = "until " + s.To.Format("2006-01-02 15:04")
	}
	return "from " + s.From.Format("2006-01-02 15:04") + " " + to
}

// AddSource adds a mapping and returns it with its ID. A period that
// overlaps another of the same number gives an error wrapping ErrExists
// that names the other.
func (s *sqlStore) AddSource(ctx context.Context, src screenpop.Source) (screenpop.Source, error) {
	src, err := prepareSource(src, s.region)
	if err != nil {
		return src, err
	}
	err = s.inTx(ctx, func(tx tx) error {
		// Two admins adding periods of one number at once: the second
		// waits, then sees the first's.
		if err := lock(ctx, tx, s.dialect, "screenpop.sources"); err != nil {
			return err
		}
		olds, err := readSources(ctx, tx, `WHERE did = $1`, src.DID)
		if err != nil {
			return err
		}
		for _, old := range olds {
			if src.Overlaps(old) {
				return overlapError(src, old)
			}
		}
		return tx.queryRow(ctx, `INSERT INTO sources (did, source, campaign, valid_from, valid_to, internal)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING source_id`,
			src.DID, src.Source, src.Campaign, src.From, src.To, src.Internal).Scan(&src.ID)
	})
	if err != nil {
		if errors.Is(err, ErrExists) {
			return src, err
		}
		return src, fmt.Errorf("add source: %w", err)
	}
	return src, nil
}

func readSources(ctx context.Context, q querier, where string, args ...any) ([]screenpop.Source, error) {
	return queryAll(ctx, q, func(r row) (screenpop.Source, error) {
		var s screenpop.Source
		err := r.Scan(&s.ID, &s.DID, &s.Source, &s.Campaign, &s.From, &s.To, &s.Internal)
		s.From, s.To = msUTC(s.From), msUTCPtr(s.To)
		return s, err
	}, `SELECT source_id, did, source, campaign, valid_from, valid_to, internal
		FROM sources `+where+` ORDER BY did, valid_from`, args...)
}

// Sources lists the mappings by number, then period.
func (s *sqlStore) Sources(ctx context.Context) ([]screenpop.Source, error) {
	list, err := readSources(ctx, s.conn, "")
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	return list, nil
}

// RemoveSource removes a mapping. Calls logged with it keep their source.
// No such mapping gives an error wrapping ErrNotFound.
func (s *sqlStore) RemoveSource(ctx context.Context, id int64) error {
	n, err := s.conn.exec(ctx, `DELETE FROM sources WHERE source_id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove source #%d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("remove source #%d: %w", id, ErrNotFound)
	}
	return nil
}

// SourceStore is what both stores do with sources.
type SourceStore interface {
	AddSource(ctx context.Context, src screenpop.Source) (screenpop.Source, error)
	Sources(ctx context.Context) ([]screenpop.Source, error)
	RemoveSource(ctx context.Context, id int64) error
}

var (
	_ SourceStore = (*Postgres)(nil)
	_ SourceStore = (*SQLite)(nil)
)

// SeedSources adds each of seeds that is not there yet: the same number,
// source, campaign and period as a stored mapping. Seeding from the config
// file at every start is so idempotent; a seed that clashes with a
// different stored mapping is an error naming both, and nothing after it
// is added.
func SeedSources(ctx context.Context, st SourceStore, region string, seeds []screenpop.Source) (added int, err error) {
	have, err := st.Sources(ctx)
	if err != nil {
		return 0, err
	}
	for _, seed := range seeds {
		want, err := prepareSource(seed, region)
		if err != nil {
			return added, fmt.Errorf("seed sources: %w", err)
		}
		if containsSource(have, want) {
			continue
		}
		got, err := st.AddSource(ctx, want)
		if err != nil {
			return added, fmt.Errorf("seed sources: %w", err)
		}
		have = append(have, got)
		added++
	}
	return added, nil
}

func containsSource(list []screenpop.Source, s screenpop.Source) bool {
	for _, o := range list {
		sameEnd := (o.To == nil) == (s.To == nil) && (o.To == nil || o.To.Equal(*s.To))
		if o.DID == s.DID && o.Source == s.Source && o.Campaign == s.Campaign &&
			o.From.Equal(s.From) && sameEnd && o.Internal == s.Internal {
			return true
		}
	}
	return false
}

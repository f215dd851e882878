package main

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// notebook is what operators' notes, leads and complaints need of the
// store: both stores have it.
type notebook interface {
	web.Notebook
	screenpop.Leads
}

var (
	_ notebook = (*store.Postgres)(nil)
	_ notebook = (*store.SQLite)(nil)
	_ notebook = (*lazyStore)(nil)
)

func (l *lazyStore) notebook() (notebook, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	nb, ok := db.callStore.(notebook)
	if !ok {
		return nil, fmt.Errorf("the store %s keeps no notes", db.describe)
	}
	return nb, nil
}

func (l *lazyStore) EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error) {
	nb, err := l.notebook()
	if err != nil {
		return screenpop.ClientRecord{}, false, err
	}
	return nb.EnsureLead(ctx, e164)
}

func (l *lazyStore) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	nb, err := l.notebook()
	if err != nil {
		return n, err
	}
	return nb.SaveNote(ctx, n)
}

func (l *lazyStore) UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error) {
	nb, err := l.notebook()
	if err != nil {
		return screenpop.Client{}, err
	}
	return nb.UpdateLead(ctx, id, u)
}

func (l *lazyStore) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	nb, err := l.notebook()
	if err != nil {
		return 0, err
	}
	return nb.CloseComplaint(ctx, id, reason, by, at)
}

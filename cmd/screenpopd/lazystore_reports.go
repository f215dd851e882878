package main

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

// summaryStore is what the reports read of a store.
type summaryStore = web.Reports[store.Summary]

var (
	_ summaryStore = (*store.Postgres)(nil)
	_ summaryStore = (*store.SQLite)(nil)
	_ summaryStore = (*lazyStore)(nil)
)

func (l *lazyStore) Summary(ctx context.Context, from, to time.Time, sl time.Duration) (store.Summary, error) {
	db, err := l.get()
	if err != nil {
		return store.Summary{}, err
	}
	r, ok := db.callStore.(summaryStore)
	if !ok {
		return store.Summary{}, fmt.Errorf("the store %s keeps no reports", db.describe)
	}
	return r.Summary(ctx, from, to, sl)
}

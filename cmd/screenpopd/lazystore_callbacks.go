package main

import (
	"context"
	"fmt"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

var (
	_ web.Callbacks = (*store.Postgres)(nil)
	_ web.Callbacks = (*store.SQLite)(nil)
	_ web.Callbacks = (*lazyStore)(nil)
)

// callbacks is the store's callback list, once the store is open.
func (l *lazyStore) callbacks() (web.Callbacks, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	cb, ok := db.callStore.(web.Callbacks)
	if !ok {
		return nil, fmt.Errorf("the store %s keeps no callback list", db.describe)
	}
	return cb, nil
}

func (l *lazyStore) Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error) {
	cb, err := l.callbacks()
	if err != nil {
		return nil, err
	}
	return cb.Callbacks(ctx, now)
}

func (l *lazyStore) ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	cb, err := l.callbacks()
	if err != nil {
		return screenpop.Callback{}, err
	}
	return cb.ClaimCallback(ctx, number, operator, now)
}

func (l *lazyStore) CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error {
	cb, err := l.callbacks()
	if err != nil {
		return err
	}
	return cb.CloseCallback(ctx, number, operator, reason, now)
}

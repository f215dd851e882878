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
	_ web.History = (*store.Postgres)(nil)
	_ web.History = (*store.SQLite)(nil)
	_ web.History = (*lazyStore)(nil)
)

func (l *lazyStore) ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	h, ok := db.callStore.(web.History)
	if !ok {
		return nil, fmt.Errorf("the store %s keeps no call history", db.describe)
	}
	return h.ClientCalls(ctx, clientID, limit)
}

var (
	_ screenpop.ServedLog = (*store.Postgres)(nil)
	_ screenpop.ServedLog = (*store.SQLite)(nil)
	_ screenpop.ServedLog = (*lazyStore)(nil)
)

func (l *lazyStore) ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error) {
	db, err := l.get()
	if err != nil {
		return false, err
	}
	s, ok := db.callStore.(screenpop.ServedLog)
	if !ok {
		return false, fmt.Errorf("the store %s keeps no call log to ask who served a client", db.describe)
	}
	return s.ServedClient(ctx, operator, clientID, since)
}

package main

import (
	"context"
	"fmt"

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

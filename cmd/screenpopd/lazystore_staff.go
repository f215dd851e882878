package main

import (
	"context"

	"github.com/screenpop/screenpop/screenpop"
)

func (l *lazyStore) StaffByToken(ctx context.Context, token string) (screenpop.Staff, error) {
	db, err := l.get()
	if err != nil {
		return screenpop.Staff{}, err
	}
	return db.StaffByToken(ctx, token)
}

func (l *lazyStore) Sources(ctx context.Context) ([]screenpop.Source, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	return db.Sources(ctx)
}

package main

import (
	"context"
	"fmt"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/web"
	"github.com/screenpop/screenpop/store"
)

var _ web.CallLog = (*lazyStore)(nil)

// Calls lists the call log for GET /api/calls.
func (l *lazyStore) Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error {
	db, err := l.get()
	if err != nil {
		return err
	}
	cl, ok := db.callStore.(store.CallLister)
	if !ok {
		return fmt.Errorf("the store %s cannot list the call log", db.describe)
	}
	return cl.Calls(ctx, f, each)
}

// RejectCall sets aside a record the database refused (the writer's
// dead-letter place).
func (l *lazyStore) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	db, err := l.get()
	if err != nil {
		return err
	}
	return db.RejectCall(ctx, c, reason)
}

package main

import (
	"context"
	"fmt"

	"github.com/screenpop/screenpop/screenpop"
)

// operatorLister lists the operators; both stores do.
type operatorLister interface {
	Operators(ctx context.Context) ([]screenpop.Operator, error)
}

// Operators lists the operators, for their names on the wallboard and the
// operators' page.
func (l *lazyStore) Operators(ctx context.Context) ([]screenpop.Operator, error) {
	db, err := l.get()
	if err != nil {
		return nil, err
	}
	ol, ok := db.callStore.(operatorLister)
	if !ok {
		return nil, fmt.Errorf("the store %s cannot list the operators", db.describe)
	}
	return ol.Operators(ctx)
}

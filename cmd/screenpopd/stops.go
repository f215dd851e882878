package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// stops is how serve undoes what it started, as alertmanager's main does
// with its defers: each part, once started, adds how to stop it, and stop
// runs them last added first, all within one bound, joining what went
// wrong. An early return stops what was started until then, each part
// once, and nothing that was not.
type stops []stopStep

type stopStep struct {
	what string
	// stop is given the end of the shutdown bound: a step that may wait
	// on something outside the process (a database) waits no longer.
	stop func(deadline time.Time) error
}

func (s *stops) add(what string, stop func(deadline time.Time) error) {
	*s = append(*s, stopStep{what, stop})
}

// stop runs the steps, last added first, within bound, and joins their
// errors; a part that merely saw its context cancelled, or an HTTP server
// closed, did not fail.
func (s *stops) stop(bound time.Duration) error {
	deadline := time.Now().Add(bound)
	var errs []error
	for i := len(*s) - 1; i >= 0; i-- {
		st := (*s)[i]
		err := st.stop(deadline)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("stop %s: %w", st.what, err))
		}
	}
	*s = nil
	return errors.Join(errs...)
}

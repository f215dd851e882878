package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
)

// Lazy is the daemon's store before and after it opens: until the
// database can be opened, every operation fails with why (the call log
// writer keeps the calls in its spool meanwhile), and Open keeps trying.
type Lazy struct {
	mu  sync.Mutex
	db  *Opened
	err error
}

// NewLazy returns a store not open yet.
func NewLazy() *Lazy {
	return &Lazy{err: errors.New("call log store not open yet")}
}

func (l *Lazy) get() (DB, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil, l.err
	}
	return l.db.DB, nil
}

// Open keeps trying to open the store (OpenSeeded) until it works or ctx
// ends, waiting longer each time up to 30 seconds.
func (l *Lazy) Open(ctx context.Context, cfg Config, log *slog.Logger) {
	for wait := time.Second; ; wait = min(wait*2, 30*time.Second) {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		db, err := OpenSeeded(octx, cfg)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.db = &db
			l.mu.Unlock()
			log.Info("call log store open", "store", db.Describe)
			return
		}
		l.mu.Lock()
		l.err = fmt.Errorf("call log store not open: %w", err)
		l.mu.Unlock()
		log.Error("open the call log store; calls wait in the spool", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Close closes the store if it opened.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil
	}
	return l.db.Close()
}

// CloseBy closes the store, waiting for it until deadline at most: a
// database that hangs can keep its connections from closing for seconds.
// Past the deadline the close goes on in its goroutine, which ends with it
// (or with the process).
func (l *Lazy) CloseBy(deadline time.Time, log *slog.Logger) error {
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case err := <-closed:
		return err
	case <-t.C:
		log.Error("the database's connections did not close within the shutdown bound; leaving them")
		return nil
	}
}

// on runs f on the store once it is open.
func on[T any](l *Lazy, f func(DB) (T, error)) (T, error) {
	db, err := l.get()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(db)
}

func (l *Lazy) Ping(ctx context.Context) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.Ping(ctx) })
	return err
}

func (l *Lazy) SaveCalls(ctx context.Context, calls []screenpop.Call) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.SaveCalls(ctx, calls) })
	return err
}

// Refused says whether err is the database refusing the data (Refused).
func (l *Lazy) Refused(err error) bool { return Refused(err) }

// RejectCall sets aside a record the database refused (the writer's
// dead-letter place).
func (l *Lazy) RejectCall(ctx context.Context, c screenpop.Call, reason error) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.RejectCall(ctx, c, reason) })
	return err
}

func (l *Lazy) Calls(ctx context.Context, f screenpop.CallFilter, each func(screenpop.Call) error) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.Calls(ctx, f, each) })
	return err
}

func (l *Lazy) Summary(ctx context.Context, from, to time.Time, sl time.Duration) (report.Summary, error) {
	return on(l, func(db DB) (report.Summary, error) { return db.Summary(ctx, from, to, sl) })
}

func (l *Lazy) LookupPhone(ctx context.Context, e164 string) ([]screenpop.ClientRecord, error) {
	return on(l, func(db DB) ([]screenpop.ClientRecord, error) { return db.LookupPhone(ctx, e164) })
}

func (l *Lazy) ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error) {
	return on(l, func(db DB) ([]screenpop.ClientCall, error) { return db.ClientCalls(ctx, clientID, limit) })
}

func (l *Lazy) ServedClient(ctx context.Context, operator string, clientID int64, since time.Time) (bool, error) {
	return on(l, func(db DB) (bool, error) { return db.ServedClient(ctx, operator, clientID, since) })
}

func (l *Lazy) EnsureLead(ctx context.Context, e164 string) (screenpop.ClientRecord, bool, error) {
	var made bool
	rec, err := on(l, func(db DB) (rec screenpop.ClientRecord, err error) {
		rec, made, err = db.EnsureLead(ctx, e164)
		return rec, err
	})
	return rec, made, err
}

func (l *Lazy) UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error) {
	return on(l, func(db DB) (screenpop.Client, error) { return db.UpdateLead(ctx, id, u) })
}

func (l *Lazy) SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error) {
	got, err := on(l, func(db DB) (screenpop.Note, error) { return db.SaveNote(ctx, n) })
	if err != nil {
		return n, err
	}
	return got, nil
}

func (l *Lazy) CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error) {
	return on(l, func(db DB) (int64, error) { return db.CloseComplaint(ctx, id, reason, by, at) })
}

func (l *Lazy) Callbacks(ctx context.Context, now time.Time) ([]screenpop.Callback, error) {
	return on(l, func(db DB) ([]screenpop.Callback, error) { return db.Callbacks(ctx, now) })
}

func (l *Lazy) ClaimCallback(ctx context.Context, number, operator string, now time.Time) (screenpop.Callback, error) {
	return on(l, func(db DB) (screenpop.Callback, error) { return db.ClaimCallback(ctx, number, operator, now) })
}

func (l *Lazy) CloseCallback(ctx context.Context, number, operator, reason string, now time.Time) error {
	_, err := on(l, func(db DB) (struct{}, error) { return struct{}{}, db.CloseCallback(ctx, number, operator, reason, now) })
	return err
}

func (l *Lazy) Operators(ctx context.Context) ([]screenpop.Operator, error) {
	return on(l, func(db DB) ([]screenpop.Operator, error) { return db.Operators(ctx) })
}

func (l *Lazy) OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error) {
	return on(l, func(db DB) (screenpop.Operator, error) { return db.OperatorByToken(ctx, token) })
}

func (l *Lazy) StaffByToken(ctx context.Context, token string) (screenpop.Staff, error) {
	return on(l, func(db DB) (screenpop.Staff, error) { return db.StaffByToken(ctx, token) })
}

func (l *Lazy) Sources(ctx context.Context) ([]screenpop.Source, error) {
	return on(l, func(db DB) ([]screenpop.Source, error) { return db.Sources(ctx) })
}

package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// TestSQLiteThePopsReadsRunBesideTheWriter: while the writer is held in a
// long transaction (a report filling roll-ups, a batch of calls, an
// import), a caller's lookup, their history and the access check still
// answer, with what was committed; once the writer commits, they read
// what it wrote.
func TestSQLiteThePopsReadsRunBesideTheWriter(t *testing.T) {
	s := openMigrated(t, backends[1]).(*SQLite)
	ctx := t.Context()
	ids, err := s.ImportClients(ctx, []screenpop.ClientHistory{
		{Client: screenpop.Client{LastName: "de Vries", FirstName: "Jan", Phones: []string{"+31612345678"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Offered to alice, answered by bob, an hour ago.
	save(t, s, shifted(answeredCall("beside-1"), time.Hour))

	reads := []struct {
		name string
		read func(ctx context.Context) (string, error)
		// committed is what the read gives while the writer holds its
		// transaction; written, once it has committed.
		committed, written string
	}{
		{
			name: "the caller's lookup",
			read: func(ctx context.Context) (string, error) {
				recs, err := s.LookupPhone(ctx, "+31612345678")
				if err != nil || len(recs) != 1 {
					return fmt.Sprint(recs), err
				}
				return recs[0].LastName, nil
			},
			committed: "de Vries", written: "Uncommitted",
		},
		{
			name: "the client's call history",
			read: func(ctx context.Context) (string, error) {
				calls, err := s.ClientCalls(ctx, ids[0], 10)
				if err != nil || len(calls) != 1 {
					return fmt.Sprint(calls), err
				}
				return fmt.Sprint(calls[0].TalkSecs), nil
			},
			committed: "182.125", written: "999",
		},
		{
			name: "whether dave served the client",
			read: func(ctx context.Context) (string, error) {
				ok, err := s.ServedClient(ctx, "dave", ids[0], time.Now().Add(-screenpop.AccessWindow))
				return fmt.Sprint(ok), err
			},
			committed: "false", written: "true",
		},
	}

	// The store's own write transaction: it holds the one writer
	// connection and the file's write lock until it ends.
	tx, err := s.conn.begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.rollback(ctx)
	for _, q := range []string{
		`UPDATE clients SET last_name = 'Uncommitted' WHERE client_id = $1`,
		`UPDATE calls SET talk_seconds = 999, answered_by = 'dave' WHERE call_id = 'beside-1' AND $1 > 0`,
	} {
		if _, err := tx.exec(ctx, q, ids[0]); err != nil {
			t.Fatalf("write in the held transaction: %v", err)
		}
	}

	for _, r := range reads {
		waitsBefore := s.db.Stats().WaitCount
		type result struct {
			got string
			err error
		}
		done := make(chan result, 1)
		go func() {
			got, err := r.read(ctx)
			done <- result{got, err}
		}()
		var (
			res      result
			returned bool
		)
		waitFor(t, r.name+" to return, or to queue for the writer", func() bool {
			select {
			case res = <-done:
				returned = true
				return true
			default:
				return s.db.Stats().WaitCount > waitsBefore
			}
		})
		if !returned {
			tx.rollback(ctx) // let the read go, so the test ends
			<-done
			t.Fatalf("%s queued for the writer's connection while a transaction held it", r.name)
		}
		if res.err != nil || res.got != r.committed {
			t.Errorf("%s while the writer holds a transaction: %q, %v; want %q, as committed", r.name, res.got, res.err, r.committed)
		}
	}

	if err := tx.commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range reads {
		if got, err := r.read(ctx); err != nil || got != r.written {
			t.Errorf("%s just after the writer committed: %q, %v; want %q", r.name, got, err, r.written)
		}
	}
}

// TestSQLiteReadersCannotWrite: the readers are query_only, so a write
// sent there by mistake fails instead of racing the writer for the lock.
func TestSQLiteReadersCannotWrite(t *testing.T) {
	s := openMigrated(t, backends[1]).(*SQLite)
	if _, err := s.reads().exec(t.Context(), `DELETE FROM clients`); err == nil {
		t.Fatal("a reader deleted clients; want a read-only connection's error")
	}
}

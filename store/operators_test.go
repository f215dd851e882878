package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// operatorStore is what the suite asks of a store's operators.
type operatorStore interface {
	callStore
	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
	Operators(ctx context.Context) ([]screenpop.Operator, error)
	RemoveOperator(ctx context.Context, extension string) error
	OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error)
	NewOperatorToken(ctx context.Context, extension string) (string, error)
}

func openOperators(tb testing.TB, b backend) operatorStore {
	tb.Helper()
	s := openMigrated(tb, b)
	ops, ok := s.(operatorStore)
	if !ok {
		tb.Fatalf("%T has no operators", s)
	}
	return ops
}

func TestOperators(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testOperators(t, b)
		})
	}
}

func testOperators(t *testing.T, b backend) {
	t.Run("operators are added, listed by extension and removed", func(t *testing.T) {
		t.Parallel()
		s := openOperators(t, b)
		ops, err := s.Operators(t.Context())
		if err != nil || ops == nil || len(ops) != 0 {
			t.Fatalf("Operators of an empty store = %v, %v; want an empty list", ops, err)
		}
		for _, op := range []struct{ name, ext string }{{"Мария", "210"}, {"Алексей", "99"}, {"Ольга", "101"}} {
			added, token, err := s.AddOperator(t.Context(), op.name, op.ext)
			if err != nil {
				t.Fatalf("AddOperator(%s): %v", op.ext, err)
			}
			if added.ID == 0 || added.Name != op.name || added.Extension != op.ext || token == "" {
				t.Errorf("AddOperator(%s) = %+v, %q", op.ext, added, token)
			}
		}
		ops, err = s.Operators(t.Context())
		if err != nil {
			t.Fatalf("Operators: %v", err)
		}
		var exts []string
		for _, op := range ops {
			exts = append(exts, op.Extension+" "+op.Name)
		}
		if diff := cmp.Diff([]string{"99 Алексей", "101 Ольга", "210 Мария"}, exts); diff != "" {
			t.Errorf("Operators (-want +got):\n%s", diff)
		}
		if err := s.RemoveOperator(t.Context(), "101"); err != nil {
			t.Fatalf("RemoveOperator(101): %v", err)
		}
		if err := s.RemoveOperator(t.Context(), "101"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveOperator(101) again: got %v, want ErrNotFound", err)
		}
		if ops, _ := s.Operators(t.Context()); len(ops) != 2 {
			t.Errorf("after removing one of three, Operators = %v", ops)
		}
	})

	t.Run("an extension already an operator's is refused", func(t *testing.T) {
		t.Parallel()
		s := openOperators(t, b)
		if _, _, err := s.AddOperator(t.Context(), "Мария", "201"); err != nil {
			t.Fatalf("AddOperator: %v", err)
		}
		if _, _, err := s.AddOperator(t.Context(), "Ольга", "201"); !errors.Is(err, ErrExists) {
			t.Errorf("AddOperator with a taken extension: got %v, want ErrExists", err)
		}
		for _, bad := range []struct{ name, ext string }{{"", "202"}, {"Ольга", ""}, {"Ольга", " 202"}} {
			if _, _, err := s.AddOperator(t.Context(), bad.name, bad.ext); err == nil || errors.Is(err, ErrExists) {
				t.Errorf("AddOperator(%q, %q): got %v, want it refused", bad.name, bad.ext, err)
			}
		}
		if n := countRows(t, s, "operators", ""); n != 1 {
			t.Errorf("operators has %d rows, want 1", n)
		}
	})

	t.Run("a token opens its operator's page; a wrong, unknown or replaced token none", func(t *testing.T) {
		t.Parallel()
		s := openOperators(t, b)
		maria, token, err := s.AddOperator(t.Context(), "Мария", "201")
		if err != nil {
			t.Fatalf("AddOperator: %v", err)
		}
		_, other, err := s.AddOperator(t.Context(), "Ольга", "202")
		if err != nil {
			t.Fatalf("AddOperator: %v", err)
		}
		if other == token || len(token) != 43 {
			t.Errorf("tokens %q and %q: want two different 43-character (32-byte base64url) tokens", token, other)
		}
		got, err := s.OperatorByToken(t.Context(), token)
		if err != nil || got != maria {
			t.Errorf("OperatorByToken(Мария's token) = %+v, %v; want %+v", got, err, maria)
		}
		wrong := token[:len(token)-1] + "A"
		if strings.HasSuffix(token, "A") {
			wrong = token[:len(token)-1] + "B"
		}
		for _, tt := range []struct{ what, token string }{
			{"a token with its last character changed", wrong},
			{"a token never given", "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9"},
			{"an empty token", ""},
			{"her token's hash itself", hex.EncodeToString(tokenHash(token))},
		} {
			if op, err := s.OperatorByToken(t.Context(), tt.token); !errors.Is(err, ErrNotFound) {
				t.Errorf("OperatorByToken(%s) = %+v, %v; want ErrNotFound", tt.what, op, err)
			}
		}
		rotated, err := s.NewOperatorToken(t.Context(), "201")
		if err != nil {
			t.Fatalf("NewOperatorToken: %v", err)
		}
		if _, err := s.OperatorByToken(t.Context(), token); !errors.Is(err, ErrNotFound) {
			t.Errorf("the replaced token: got %v, want ErrNotFound", err)
		}
		if got, err := s.OperatorByToken(t.Context(), rotated); err != nil || got != maria {
			t.Errorf("OperatorByToken(new token) = %+v, %v; want %+v", got, err, maria)
		}
		if _, err := s.NewOperatorToken(t.Context(), "999"); !errors.Is(err, ErrNotFound) {
			t.Errorf("NewOperatorToken of no operator: got %v, want ErrNotFound", err)
		}
		if err := s.RemoveOperator(t.Context(), "201"); err != nil {
			t.Fatalf("RemoveOperator: %v", err)
		}
		if _, err := s.OperatorByToken(t.Context(), rotated); !errors.Is(err, ErrNotFound) {
			t.Errorf("a removed operator's token: got %v, want ErrNotFound", err)
		}
	})

	t.Run("the operators table holds a token's SHA-256, never the token", func(t *testing.T) {
		t.Parallel()
		s := openOperators(t, b)
		_, token, err := s.AddOperator(t.Context(), "Мария", "201")
		if err != nil {
			t.Fatalf("AddOperator: %v", err)
		}
		sum := sha256.Sum256([]byte(token))
		hashes := queryStrings(t, s, `SELECT encode(token_hash, 'hex') FROM operators`, `SELECT lower(hex(token_hash)) FROM operators`)
		if diff := cmp.Diff([]string{hex.EncodeToString(sum[:])}, hashes); diff != "" {
			t.Errorf("token_hash (-SHA-256 of the token +stored):\n%s", diff)
		}
		rows := queryStrings(t, s, `SELECT o::text FROM operators o`,
			`SELECT name || extension || hex(token_hash) || created_at || CAST(token_hash AS TEXT) FROM operators`)
		for _, row := range rows {
			if strings.Contains(row, token) || strings.Contains(strings.ToLower(row), strings.ToLower(token[:16])) {
				t.Errorf("the operators table holds the token in clear: %s", row)
			}
		}
	})
}

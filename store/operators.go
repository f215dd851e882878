package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// An operator's token opens their pop page. It is 32 bytes from
// crypto/rand, given to the operator once (base64url, no padding) and kept
// only as its SHA-256.
//
// A plain hash, not bcrypt or argon2, is right here: those slow down
// guessing a password a person chose from a small space, but a random
// 256-bit token cannot be guessed however fast the hash, and a fast hash
// lets every page load look the token up by its hash, through an index.
// The lookup is by the hash, so a wrong token and an unknown one are the
// same thing (no row), and no byte-by-byte comparison of secrets happens
// for timing to reveal.

// newToken makes an operator's token and the hash that is stored.
func newToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

// tokenHash hashes the token as presented, without decoding it: anything
// that is not a token the store gave is simply not found.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func checkOperator(name, extension string) error {
	var errs []error
	if strings.TrimSpace(name) == "" {
		errs = append(errs, errors.New("the name is empty"))
	}
	if strings.TrimSpace(extension) == "" || strings.TrimSpace(extension) != extension {
		errs = append(errs, fmt.Errorf("extension %q is empty or has spaces", extension))
	}
	return errors.Join(errs...)
}

// AddOperator adds an operator with their phone's extension, and returns
// them with their token. The token is returned this once: the store keeps
// only its hash. An extension that is already an operator's gives an error
// wrapping ErrExists.
func (s *sqlStore) AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error) {
	if err := checkOperator(name, extension); err != nil {
		return screenpop.Operator{}, "", fmt.Errorf("add operator: %w", err)
	}
	token, hash := newToken()
	op := screenpop.Operator{Name: name, Extension: extension}
	err := s.conn.queryRow(ctx, `INSERT INTO operators (name, extension, token_hash) VALUES ($1, $2, $3)
		ON CONFLICT (extension) DO NOTHING RETURNING operator_id`, name, extension, hash).Scan(&op.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return screenpop.Operator{}, "", fmt.Errorf("add operator %s: extension %s: %w", name, extension, ErrExists)
	}
	if err != nil {
		return screenpop.Operator{}, "", fmt.Errorf("add operator %s: %w", name, err)
	}
	return op, token, nil
}

// Operators lists the operators by extension: shorter ones first, so 99
// comes before 100.
func (s *sqlStore) Operators(ctx context.Context) ([]screenpop.Operator, error) {
	ops, err := queryAll(ctx, s.conn, func(r row) (op screenpop.Operator, err error) {
		err = r.Scan(&op.ID, &op.Name, &op.Extension)
		return op, err
	}, `SELECT operator_id, name, extension FROM operators ORDER BY length(extension), extension`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return ops, nil
}

// RemoveOperator removes the operator with the extension; their token stops
// working. No such operator gives an error wrapping ErrNotFound.
func (s *sqlStore) RemoveOperator(ctx context.Context, extension string) error {
	n, err := s.conn.exec(ctx, `DELETE FROM operators WHERE extension = $1`, extension)
	if err != nil {
		return fmt.Errorf("remove operator %s: %w", extension, err)
	}
	if n == 0 {
		return fmt.Errorf("remove operator %s: %w", extension, ErrNotFound)
	}
	return nil
}

// OperatorByToken is the operator whose token it is. Any other string, a
// token once valid and since replaced included, gives an error wrapping
// ErrNotFound.
func (s *sqlStore) OperatorByToken(ctx context.Context, token string) (screenpop.Operator, error) {
	var op screenpop.Operator
	err := s.conn.queryRow(ctx, `SELECT operator_id, name, extension FROM operators WHERE token_hash = $1`,
		tokenHash(token)).Scan(&op.ID, &op.Name, &op.Extension)
	if errors.Is(err, sql.ErrNoRows) {
		return screenpop.Operator{}, fmt.Errorf("find operator by token: %w", ErrNotFound)
	}
	if err != nil {
		return screenpop.Operator{}, fmt.Errorf("find operator by token: %w", err)
	}
	return op, nil
}

// NewOperatorToken gives the operator with the extension a new token and
// returns it; the old one stops working.
func (s *sqlStore) NewOperatorToken(ctx context.Context, extension string) (string, error) {
	token, hash := newToken()
	n, err := s.conn.exec(ctx, `UPDATE operators SET token_hash = $1 WHERE extension = $2`, hash, extension)
	if err != nil {
		return "", fmt.Errorf("new token for operator %s: %w", extension, err)
	}
	if n == 0 {
		return "", fmt.Errorf("new token for operator %s: %w", extension, ErrNotFound)
	}
	return token, nil
}

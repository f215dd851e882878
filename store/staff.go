package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

// Staff tokens open the whole call log (analysts' tools, the reports page)
// and the diagnostics (admins). They are made and kept as operators'
// tokens are (see newToken): given once, stored as their SHA-256.

func checkStaff(name string, role screenpop.Role) error {
	var errs []error
	if strings.TrimSpace(name) == "" {
		errs = append(errs, errors.New("the name is empty"))
	}
	if !slices.Contains(screenpop.Roles, role) {
		errs = append(errs, fmt.Errorf("role %q is not analyst, supervisor or admin", role))
	}
	return errors.Join(errs...)
}

// AddStaff makes a staff token for name with role, and returns it this
// once: the store keeps only its hash.
func (s *sqlStore) AddStaff(ctx context.Context, name string, role screenpop.Role) (screenpop.Staff, string, error) {
	if err := checkStaff(name, role); err != nil {
		return screenpop.Staff{}, "", fmt.Errorf("add staff token: %w", err)
	}
	token, hash := newToken()
	st := screenpop.Staff{Name: strings.TrimSpace(name), Role: role}
	if err := s.conn.queryRow(ctx, `INSERT INTO staff (name, role, token_hash) VALUES ($1, $2, $3) RETURNING staff_id`,
		st.Name, string(role), hash).Scan(&st.ID); err != nil {
		return screenpop.Staff{}, "", fmt.Errorf("add staff token for %s: %w", name, err)
	}
	return st, token, nil
}

// StaffByToken finds whose staff token this is; an unknown token (an
// operator's among them) gives an error wrapping ErrNotFound.
func (s *sqlStore) StaffByToken(ctx context.Context, token string) (screenpop.Staff, error) {
	var st screenpop.Staff
	err := s.conn.queryRow(ctx, `SELECT staff_id, name, role FROM staff WHERE token_hash = $1`, tokenHash(token)).
		Scan(&st.ID, &st.Name, &st.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("staff token: %w", ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("staff token: %w", err)
	}
	return st, nil
}

// Staff lists the staff tokens' holders (never the tokens) in the order
// they were made.
func (s *sqlStore) Staff(ctx context.Context) ([]screenpop.Staff, error) {
	list, err := queryAll(ctx, s.conn, func(r row) (st screenpop.Staff, err error) {
		err = r.Scan(&st.ID, &st.Name, &st.Role)
		return st, err
	}, `SELECT staff_id, name, role FROM staff ORDER BY staff_id`)
	if err != nil {
		return nil, fmt.Errorf("list staff tokens: %w", err)
	}
	return list, nil
}

// RemoveStaff revokes a staff token. No such token gives an error wrapping
// ErrNotFound.
func (s *sqlStore) RemoveStaff(ctx context.Context, id int64) error {
	n, err := s.conn.exec(ctx, `DELETE FROM staff WHERE staff_id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove staff token #%d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("remove staff token #%d: %w", id, ErrNotFound)
	}
	return nil
}

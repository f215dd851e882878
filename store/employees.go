package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// Employees' extensions. A client's manager is an employee, imported by
// name with the client base; giving them the extension of their desk phone
// makes them the operator with that extension: the Stasis handler tells
// the dialplan SCREENPOP_MANAGER, so a client's call rings their manager
// first.

// employeeRow is one employee of a name, as SetEmployeeExtension weighs it.
type employeeRow struct {
	id        int64
	extension sql.NullString
}

// pickEmployee chooses which employee of the name gets the extension: the
// one who has it already, else the only one, else the only one without an
// extension.
func pickEmployee(name, extension string, rows []employeeRow) (id int64, done bool, err error) {
	var without []int64
	for _, r := range rows {
		if r.extension.Valid && r.extension.String == extension {
			return r.id, true, nil
		}
		if !r.extension.Valid {
			without = append(without, r.id)
		}
	}
	switch {
	case len(rows) == 0:
		return 0, false, fmt.Errorf("no employee is named %q (managers come with the client import): %w", name, ErrNotFound)
	case len(rows) == 1:
		return rows[0].id, false, nil
	case len(without) == 1:
		return without[0], false, nil
	}
	return 0, false, fmt.Errorf("%d employees are named %q, each with an extension: give the name as the client import has it, or fix the extensions one by one", len(rows), name)
}

// claimExtension gives the employee the extension (update) unless the
// lookup of its holder found another employee (found is that lookup's
// error: noRows when nobody else has it).
func claimExtension(extension string, holder *string, found, noRows error, update func() error) error {
	switch {
	case found == nil:
		return fmt.Errorf("extension %s is %s's: %w", extension, *holder, ErrExists)
	case !errors.Is(found, noRows):
		return found
	}
	return update()
}

func checkEmployeeExtension(name, extension string) error {
	var errs []error
	if strings.TrimSpace(name) == "" {
		errs = append(errs, errors.New("the name is empty"))
	}
	if extension == "" || strings.TrimSpace(extension) != extension || strings.ContainsAny(extension, "/,&") {
		errs = append(errs, fmt.Errorf("extension %q is empty, has spaces, or is not a plain extension", extension))
	}
	return errors.Join(errs...)
}

// SetEmployeeExtension gives the employee named name the extension. An
// extension that is another employee's gives an error wrapping ErrExists;
// no employee of the name, one wrapping ErrNotFound.
func (p *Postgres) SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error) {
	name = strings.Join(strings.Fields(name), " ")
	if err := checkEmployeeExtension(name, extension); err != nil {
		return screenpop.Employee{}, fmt.Errorf("set employee extension: %w", err)
	}
	e := screenpop.Employee{Name: name, Extension: extension}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT employee_id, extension FROM employees WHERE name = $1 ORDER BY employee_id FOR UPDATE`, name)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (employeeRow, error) {
			var e employeeRow
			var ext *string
			err := r.Scan(&e.id, &ext)
			if ext != nil {
				e.extension = sql.NullString{String: *ext, Valid: true}
			}
			return e, err
		})
		if err != nil {
			return err
		}
		id, done, err := pickEmployee(name, extension, found)
		if err != nil || done {
			e.ID = id
			return err
		}
		e.ID = id
		var holder string
		return claimExtension(extension, &holder,
			tx.QueryRow(ctx, `SELECT name FROM employees WHERE extension = $1 AND employee_id <> $2`, extension, id).Scan(&holder),
			pgx.ErrNoRows, func() error {
				_, err := tx.Exec(ctx, `UPDATE employees SET extension = $2 WHERE employee_id = $1`, id, extension)
				return err
			})
	})
	if err != nil {
		return screenpop.Employee{}, fmt.Errorf("set extension of %s: %w", name, err)
	}
	return e, nil
}

// SetEmployeeExtension gives the employee named name the extension: see
// Postgres.SetEmployeeExtension.
func (s *SQLite) SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error) {
	name = strings.Join(strings.Fields(name), " ")
	if err := checkEmployeeExtension(name, extension); err != nil {
		return screenpop.Employee{}, fmt.Errorf("set employee extension: %w", err)
	}
	e := screenpop.Employee{Name: name, Extension: extension}
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, `SELECT employee_id, extension FROM employees WHERE name = ? ORDER BY employee_id`, name)
		if err != nil {
			return err
		}
		var found []employeeRow
		for rows.Next() {
			var r employeeRow
			if err := rows.Scan(&r.id, &r.extension); err != nil {
				rows.Close()
				return err
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		id, done, err := pickEmployee(name, extension, found)
		if err != nil || done {
			e.ID = id
			return err
		}
		e.ID = id
		var holder string
		return claimExtension(extension, &holder,
			tx.QueryRowContext(ctx, `SELECT name FROM employees WHERE extension = ? AND employee_id <> ?`, extension, id).Scan(&holder),
			sql.ErrNoRows, func() error {
				if _, err := tx.ExecContext(ctx, `UPDATE employees SET extension = ? WHERE employee_id = ?`, extension, id); err != nil {
					return err
				}
				return tx.Commit()
			})
	}()
	if err != nil {
		return screenpop.Employee{}, fmt.Errorf("set extension of %s: %w", name, err)
	}
	return e, nil
}

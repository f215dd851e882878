package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	extension *string
}

// pickEmployee chooses which employee of the name gets the extension: the
// one who has it already, else the only one, else the only one without an
// extension.
func pickEmployee(name, extension string, rows []employeeRow) (id int64, done bool, err error) {
	var without []int64
	for _, r := range rows {
		if r.extension != nil && *r.extension == extension {
			return r.id, true, nil
		}
		if r.extension == nil {
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
func (s *sqlStore) SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error) {
	name = strings.Join(strings.Fields(name), " ")
	if err := checkEmployeeExtension(name, extension); err != nil {
		return screenpop.Employee{}, fmt.Errorf("set employee extension: %w", err)
	}
	e := screenpop.Employee{Name: name, Extension: extension}
	err := s.inTx(ctx, func(tx tx) error {
		found, err := queryAll(ctx, tx, func(r row) (e employeeRow, err error) {
			err = r.Scan(&e.id, &e.extension)
			return e, err
		}, `SELECT employee_id, extension FROM employees WHERE name = $1 ORDER BY employee_id`+s.dialect.forUpdate, name)
		if err != nil {
			return err
		}
		id, done, err := pickEmployee(name, extension, found)
		e.ID = id
		if err != nil || done {
			return err
		}
		var holder string
		err = tx.queryRow(ctx, `SELECT name FROM employees WHERE extension = $1 AND employee_id <> $2`, extension, id).Scan(&holder)
		switch {
		case err == nil:
			return fmt.Errorf("extension %s is %s's: %w", extension, holder, ErrExists)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.exec(ctx, `UPDATE employees SET extension = $2 WHERE employee_id = $1`, id, extension)
		return err
	})
	if err != nil {
		return screenpop.Employee{}, fmt.Errorf("set extension of %s: %w", name, err)
	}
	return e, nil
}

package store

import (
	"context"
	"errors"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

type employeeStore interface {
	importBase
	SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error)
}

func TestEmployeeExtensions(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b).(employeeStore)
			// The export knows managers by name only.
			mergeOK(t, s, MergeOptions{}, screenpop.ImportRow{Line: 2, LastName: "Петров", Phones: []string{"+79161234567"}, Manager: "Соколова Анна"},
				screenpop.ImportRow{Line: 3, LastName: "Сидоров", Phones: []string{"+79161234568"}, Manager: "Орлов Пётр"})
			manager := func(number string) *screenpop.Employee {
				recs, err := s.LookupPhone(t.Context(), number)
				if err != nil || len(recs) != 1 {
					t.Fatalf("LookupPhone(%s) = %v, %v", number, recs, err)
				}
				return recs[0].Manager
			}
			if m := manager("+79161234567"); m == nil || m.Extension != "" {
				t.Fatalf("the imported manager is %+v; want Соколова without an extension", m)
			}

			t.Run("setting a manager's extension makes the pop's manager that operator", func(t *testing.T) {
				e, err := s.SetEmployeeExtension(t.Context(), "  Соколова   Анна ", "105")
				if err != nil || e.Name != "Соколова Анна" || e.Extension != "105" || e.ID == 0 {
					t.Fatalf("SetEmployeeExtension = %+v, %v", e, err)
				}
				if m := manager("+79161234567"); m == nil || m.Extension != "105" {
					t.Errorf("the pop's manager is %+v; want Соколова at 105", m)
				}
				if again, err := s.SetEmployeeExtension(t.Context(), "Соколова Анна", "105"); err != nil || again.ID != e.ID {
					t.Errorf("setting it again = %+v, %v; want the same employee, no error", again, err)
				}
			})
			t.Run("another employee's extension is refused, naming whose it is", func(t *testing.T) {
				_, err := s.SetEmployeeExtension(t.Context(), "Орлов Пётр", "105")
				if !errors.Is(err, ErrExists) {
					t.Errorf("err = %v, want ErrExists", err)
				}
				if m := manager("+79161234568"); m == nil || m.Extension != "" {
					t.Errorf("Орлов is now %+v; want him unchanged", m)
				}
			})
			t.Run("an unknown name is not found", func(t *testing.T) {
				if _, err := s.SetEmployeeExtension(t.Context(), "Никто", "106"); !errors.Is(err, ErrNotFound) {
					t.Errorf("err = %v, want ErrNotFound", err)
				}
			})
			t.Run("an extension with spaces or a dial string is refused", func(t *testing.T) {
				for _, ext := range []string{"", " 106", "106&PJSIP/107", "PJSIP/106"} {
					if _, err := s.SetEmployeeExtension(t.Context(), "Орлов Пётр", ext); err == nil {
						t.Errorf("extension %q was taken", ext)
					}
				}
			})
		})
	}
}

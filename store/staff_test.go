package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

type staffBase interface {
	callStore
	AddStaff(ctx context.Context, name string, role screenpop.Role) (screenpop.Staff, string, error)
	StaffByToken(ctx context.Context, token string) (screenpop.Staff, error)
	Staff(ctx context.Context) ([]screenpop.Staff, error)
	RemoveStaff(ctx context.Context, id int64) error
	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
}

func TestStaff(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, ok := openMigrated(t, b).(staffBase)
			if !ok {
				t.Fatal("the store keeps no staff tokens")
			}
			vera, veraToken, err := s.AddStaff(ctx, " Вера, маркетинг ", screenpop.RoleAnalyst)
			if err != nil {
				t.Fatal(err)
			}
			admin, adminToken, err := s.AddStaff(ctx, "Админ", screenpop.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			if veraToken == adminToken || len(veraToken) < 40 {
				t.Errorf("tokens %q and %q: want two different long random ones", veraToken, adminToken)
			}
			if got, err := s.StaffByToken(ctx, veraToken); err != nil || got != (screenpop.Staff{ID: vera.ID, Name: "Вера, маркетинг", Role: screenpop.RoleAnalyst}) {
				t.Errorf("StaffByToken(Вера's token) = %+v, %v", got, err)
			}
			_, opToken, err := s.AddOperator(ctx, "Анна", "101")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.StaffByToken(ctx, opToken); !errors.Is(err, ErrNotFound) {
				t.Errorf("an operator's token as a staff token: %v, want ErrNotFound", err)
			}
			list, err := s.Staff(ctx)
			if diff := cmp.Diff([]screenpop.Staff{{ID: vera.ID, Name: "Вера, маркетинг", Role: screenpop.RoleAnalyst}, admin}, list); err != nil || diff != "" {
				t.Errorf("Staff (%v) (-want +got):\n%s", err, diff)
			}
			if err := s.RemoveStaff(ctx, vera.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.StaffByToken(ctx, veraToken); !errors.Is(err, ErrNotFound) {
				t.Errorf("a revoked token: %v, want ErrNotFound", err)
			}
			if err := s.RemoveStaff(ctx, vera.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("revoking it again: %v, want ErrNotFound", err)
			}
			_, _, err = s.AddStaff(ctx, " ", "root")
			if err == nil || !strings.Contains(err.Error(), "the name is empty") || !strings.Contains(err.Error(), `role "root" is not analyst, supervisor or admin`) {
				t.Errorf("a token with no name and role root: %v", err)
			}
		})
	}
}

func TestStaffKeepsASupervisorsToken(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openMigrated(t, b).(staffBase)
			head, token, err := s.AddStaff(ctx, "Ольга, старший смены", screenpop.RoleSupervisor)
			if err != nil {
				t.Fatalf("add a supervisor's token: %v", err)
			}
			got, err := s.StaffByToken(ctx, token)
			if err != nil || got != head || got.Role != screenpop.RoleSupervisor {
				t.Errorf("StaffByToken(the supervisor's token) = %+v, %v; want %+v", got, err, head)
			}
		})
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// employeeStore is what the employee commands need of the store.
type employeeStore interface {
	SetEmployeeExtension(ctx context.Context, name, extension string) (screenpop.Employee, error)
}

func newEmployeeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "employee",
		Short: "Manage employees: clients' managers, as the client import names them",
	}
	ext := withDB(&cobra.Command{
		Use:   "extension NAME EXTENSION",
		Short: "Give an employee (a client's manager) the extension of their desk phone",
		Long: `extension gives the employee named NAME (as the client import has it) the
extension of their desk phone. The manager is then the operator with that
extension: in Stasis mode the daemon sets SCREENPOP_MANAGER to it on their
clients' calls, so the dialplan can ring them first.`,
		Args: cobra.ExactArgs(2),
	}, func(ctx context.Context, _ Config, st store.DB, out io.Writer, args []string) error {
		e, err := st.SetEmployeeExtension(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: extension %s\n", e.Name, e.Extension)
		return nil
	})
	cmd.AddCommand(ext)
	return cmd
}

// setManagerExtensions gives the managers an import names the extensions
// its manager_extension column gives them.
func setManagerExtensions(ctx context.Context, st employeeStore, rows []screenpop.ImportRow, out io.Writer) error {
	type pair struct{ name, ext string }
	var pairs []pair
	for _, r := range rows {
		if p := (pair{r.Manager, r.ManagerExtension}); p.name != "" && p.ext != "" && !slices.Contains(pairs, p) {
			pairs = append(pairs, p)
		}
	}
	var errs []error
	for _, p := range pairs {
		e, err := st.SetEmployeeExtension(ctx, p.name, p.ext)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "manager %s: extension %s\n", e.Name, e.Extension)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("import clients: the clients are imported, but managers' extensions were not all set: %w", err)
	}
	return nil
}

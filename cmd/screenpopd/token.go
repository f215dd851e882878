package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage staff tokens: analysts (the whole call log, reports), supervisors (the wallboard) and admins (everything, diagnostics too)",
	}
	var name, role string
	add := withDB(&cobra.Command{
		Use:     "add --name NAME --role analyst|supervisor|admin",
		Short:   "Make a staff token and print it (shown once)",
		Example: "  screenpopd token add --name 'Marketing: Metabase' --role analyst",
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, cfg Config, st store.DB, out io.Writer, _ []string) error {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("token add: --name is required (who or what uses the token)")
		}
		s, token, err := st.AddStaff(ctx, name, screenpop.Role(role))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "token #%d for %s (%s) added.\ntoken: %s\n", s.ID, s.Name, s.Role, token)
		fmt.Fprintf(out, "Send it as Authorization: Bearer TOKEN. It is shown only now; `screenpopd token remove %d` revokes it.\n", s.ID)
		return nil
	})
	add.Flags().StringVar(&name, "name", "", "who or what uses the token")
	add.Flags().StringVar(&role, "role", string(screenpop.RoleAnalyst), "analyst (call log, exports, reports), supervisor (the wallboard) or admin (everything, the admin page too)")

	list := withDB(&cobra.Command{Use: "list", Short: "List staff tokens (their holders, never the tokens)", Args: cobra.NoArgs},
		func(ctx context.Context, _ Config, st store.DB, out io.Writer, _ []string) error {
			all, err := st.Staff(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tNAME")
			for _, s := range all {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", s.ID, s.Role, s.Name)
			}
			return tw.Flush()
		})

	remove := withDB(&cobra.Command{Use: "remove ID", Short: "Revoke a staff token", Args: cobra.ExactArgs(1)},
		func(ctx context.Context, _ Config, st store.DB, out io.Writer, args []string) error {
			id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil {
				return fmt.Errorf("token remove: %q is not a token ID (see screenpopd token list)", args[0])
			}
			if err := st.RemoveStaff(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(out, "token #%d revoked\n", id)
			return nil
		})
	cmd.AddCommand(add, list, remove)
	return cmd
}

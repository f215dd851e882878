package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/screenpop"
)

// operatorStore is what the operator commands need of the store.
type operatorStore interface {
	AddOperator(ctx context.Context, name, extension string) (screenpop.Operator, string, error)
	Operators(ctx context.Context) ([]screenpop.Operator, error)
	RemoveOperator(ctx context.Context, extension string) error
	NewOperatorToken(ctx context.Context, extension string) (string, error)
}

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Manage operators: who may open the pop page, and which extension is theirs",
	}
	var name string
	add := withStore(&cobra.Command{
		Use:   "add --name NAME EXTENSION",
		Short: "Add an operator and print their key (shown once)",
		Args:  cobra.ExactArgs(1),
	}, func(ctx context.Context, cfg Config, ops operatorStore, out io.Writer, args []string) error {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("operator add: --name is required")
		}
		op, token, err := ops.AddOperator(ctx, strings.TrimSpace(name), args[0])
		if err != nil {
			return fmt.Errorf("add operator: %w", err)
		}
		fmt.Fprintf(out, "operator %s (%s) added.\nkey: %s\npage: %s\n", op.Extension, op.Name, token, pageURL(cfg, token))
		fmt.Fprintln(out, "The key is shown only now; `screenpopd operator token EXTENSION` makes a new one.")
		return nil
	})
	add.Flags().StringVar(&name, "name", "", "the operator's name, as the page shows it")

	list := withStore(&cobra.Command{Use: "list", Short: "List operators", Args: cobra.NoArgs},
		func(ctx context.Context, _ Config, ops operatorStore, out io.Writer, _ []string) error {
			all, err := ops.Operators(ctx)
			if err != nil {
				return fmt.Errorf("list operators: %w", err)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EXTENSION\tNAME")
			for _, op := range all {
				fmt.Fprintf(tw, "%s\t%s\n", op.Extension, op.Name)
			}
			return tw.Flush()
		})

	remove := withStore(&cobra.Command{Use: "remove EXTENSION", Short: "Remove an operator; their key stops working", Args: cobra.ExactArgs(1)},
		func(ctx context.Context, _ Config, ops operatorStore, out io.Writer, args []string) error {
			if err := ops.RemoveOperator(ctx, args[0]); err != nil {
				return fmt.Errorf("remove operator %s: %w", args[0], err)
			}
			fmt.Fprintf(out, "operator %s removed\n", args[0])
			return nil
		})

	token := withStore(&cobra.Command{Use: "token EXTENSION", Short: "Give an operator a new key; the old one stops working", Args: cobra.ExactArgs(1)},
		func(ctx context.Context, cfg Config, ops operatorStore, out io.Writer, args []string) error {
			tok, err := ops.NewOperatorToken(ctx, args[0])
			if err != nil {
				return fmt.Errorf("new key for operator %s: %w", args[0], err)
			}
			fmt.Fprintf(out, "key: %s\npage: %s\n", tok, pageURL(cfg, tok))
			return nil
		})
	cmd.AddCommand(add, list, remove, token)
	return cmd
}

// withStore runs a command against the configured store.
func withStore(cmd *cobra.Command, run func(ctx context.Context, cfg Config, ops operatorStore, out io.Writer, args []string) error) *cobra.Command {
	return withConfig(cmd, func(cmd *cobra.Command, cfg Config, args []string) error {
		db, err := openStoreFor(cmd.Context(), cfg, storeUseOf(cmd), storeNote(cmd))
		if err != nil {
			return err
		}
		defer db.Close()
		return run(cmd.Context(), cfg, db, cmd.OutOrStdout(), args)
	})
}

// pageURL is the operator page's address with the key in the fragment,
// which browsers never send to a server.
func pageURL(cfg Config, token string) string {
	return pageBase(cfg) + "/#token=" + token
}

// localHost is an address to reach http.listen at from this machine: a
// wildcard listen address is reached on loopback.
func localHost(listen string) string {
	if h, p, err := net.SplitHostPort(listen); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		return net.JoinHostPort("127.0.0.1", p)
	}
	return listen
}

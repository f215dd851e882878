package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the config, and try the ARI and database connections; print what is wrong and how to fix it",
		Long: `check loads the config as serve would, then connects to Asterisk's REST
interface and to the call log's database, and opens the operators' address.
It prints one line per check, "ok" or what is wrong with a hint, and exits
non-zero if anything is wrong.`,
		Args: cobra.NoArgs,
	}
	addFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		out := cmd.OutOrStdout()
		cfg, err := loadConfig(cmd.Flags())
		if err != nil {
			fmt.Fprintf(out, "config: %v\n", err)
			return errors.New("check failed")
		}
		fmt.Fprintln(out, "config: ok")
		if !check(cmd.Context(), cfg, out) {
			return errors.New("check failed")
		}
		return nil
	}
	return cmd
}

// check tries each connection the daemon needs and reports on out; it
// says whether all were fine.
func check(ctx context.Context, cfg Config, out io.Writer) bool {
	ok := true
	report := func(what string, err error, hint string) {
		if err == nil {
			fmt.Fprintf(out, "%s: ok\n", what)
			return
		}
		ok = false
		// One line per problem: drivers' messages can span several.
		msg := strings.Join(strings.Fields(err.Error()), " ")
		fmt.Fprintf(out, "%s: %s", what, msg)
		if hint != "" {
			fmt.Fprintf(out, " (%s)", hint)
		}
		fmt.Fprintln(out)
	}

	client, err := ari.NewClient(ari.Config{URL: cfg.ARIURL, Username: cfg.ARIUsername, Password: string(cfg.ARIPassword),
		App: cfg.ARIApp, CAFile: cfg.ARICAFile}, ari.NewIntake(ari.NewDecoder(cfg.DIDVariable), nil, ari.NewMetrics(nil), discard()), ari.NewMetrics(nil), discard())
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = client.Check(actx)
		cancel()
	}
	report("asterisk", err, ariHint(err))

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	db, err := openStore(dctx, cfg)
	cancel()
	if err == nil {
		db.Close()
		fmt.Fprintf(out, "store: ok (%s)\n", db.describe)
	} else {
		report("store", err, storeHint(cfg, err))
	}

	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err == nil {
		ln.Close()
	}
	report("http.listen "+cfg.HTTPListen, err, "is another screenpopd running? choose another address with http.listen")
	return ok
}

// ariHint says how to fix the commonest ARI problems.
func ariHint(err error) string {
	if err == nil {
		return ""
	}
	var se *ari.StatusError
	switch msg := err.Error(); {
	case errors.As(err, &se) && se.Code == 401, strings.Contains(msg, "username or password"):
		return "check ari.username and ari.password against the [user] section of ari.conf"
	case errors.As(err, &se) && se.Code == 404, strings.Contains(msg, "404"):
		return "ari.url must end in /ari, and ari.conf needs enabled = yes"
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "tls"):
		return "give the CA that signed Asterisk's certificate in ari.ca_file"
	default:
		return "is Asterisk running, with http.conf enabled = yes and bindaddr/bindport matching ari.url?"
	}
}

func storeHint(cfg Config, err error) string {
	if cfg.DSN == "" {
		return "store.data_dir must be a writable directory"
	}
	if strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "authentication") {
		return "check the user and password in store.dsn"
	}
	return "is PostgreSQL running and reachable at the host and port in store.dsn?"
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

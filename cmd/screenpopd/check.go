package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/store"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the config, and try the ARI and database connections; print what is wrong and how to fix it",
		Long: `check loads the config as serve would, then connects to Asterisk's REST
interface and to the call log's database, and opens the operators' address.
It prints one line per check: "ok", or what is wrong and, after "fix:", how
to fix it. It exits non-zero if anything is wrong.`,
		Args: cobra.NoArgs,
	}
	addFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		out := cmd.OutOrStdout()
		cfg, err := loadConfig(cmd.Flags())
		if err != nil {
			// A config can have several problems: one line each.
			for _, l := range strings.Split(strings.TrimPrefix(err.Error(), "invalid config:"), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					fmt.Fprintf(out, "config: %s\n", l)
				}
			}
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

// checkTimeout bounds each connection check.
const checkTimeout = 10 * time.Second

// problem is what a check found wrong, and how to fix it.
type problem struct{ what, fix string }

// check tries each connection the daemon needs and reports on out, one
// line each; it says whether all were fine.
func check(ctx context.Context, cfg Config, out io.Writer) bool {
	ok := true
	report := func(name string, p *problem, okNote string) {
		if p == nil {
			fmt.Fprintf(out, "%s: ok%s\n", name, okNote)
			return
		}
		ok = false
		// One line per problem: drivers' messages can span several.
		line := strings.Join(strings.Fields(p.what), " ")
		if p.fix != "" {
			line += "; fix: " + p.fix
		}
		fmt.Fprintf(out, "%s: %s\n", name, line)
	}

	checkBoxes(ctx, cfg, report)

	dctx, cancel := context.WithTimeout(ctx, checkTimeout)
	where, err := checkStore(dctx, cfg)
	cancel()
	if err == nil {
		report("store", nil, " ("+where+")")
	} else {
		report("store", storeProblem(cfg, err), "")
	}
	if cfg.CRMDSN != "" {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		detail, err := checkCRM(cctx, cfg)
		cancel()
		if err != nil {
			p := store.CRMProblem(crmConfig(cfg), err, checkTimeout)
			report("crm", &problem{p.What, p.Fix}, "")
		} else {
			report("crm", nil, " ("+detail+")")
		}
	}

	if cfg.Cluster.NATSURL != "" {
		checkNATS(ctx, cfg, out, report)
	}

	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err == nil {
		ln.Close()
	}
	report("http.listen "+cfg.HTTPListen, listenProblem(err), "")
	return ok
}

// ariProblem says what is wrong with the ARI connection, in words that
// point at the setting to change.
func ariProblem(cfg Config, err error) *problem {
	if err == nil {
		return nil
	}
	var (
		se        *ari.StatusError
		dns       *net.DNSError
		unknownCA x509.UnknownAuthorityError
		badName   x509.HostnameError
		notTLS    tls.RecordHeaderError
		netErr    net.Error
	)
	where := cfg.ARIURL
	hostPort := where
	if u, perr := url.Parse(cfg.ARIURL); perr == nil {
		hostPort = u.Host
	}
	running := "start Asterisk, and check that http.conf has enabled = yes with bindaddr and bindport matching ari.url"
	switch {
	case errors.As(err, &se) && se.Code == 401:
		return &problem{fmt.Sprintf("Asterisk at %s rejected ARI user %q or its password", where, cfg.ARIUsername),
			"set ari.username and ari.password to a user in ari.conf ([" + cfg.ARIUsername + "] type = user, password = ...)"}
	case errors.As(err, &se) && se.Code == 404:
		return &problem{fmt.Sprintf("%s answers HTTP but has no ARI there (GET %s: 404 Not Found)", where, se.Path),
			"ari.url must be Asterisk's ARI address, ending in /ari (http://HOST:8088/ari), and ari.conf needs enabled = yes"}
	case errors.As(err, &se):
		return &problem{se.Error(), "see Asterisk's log for why it refused"}
	case errors.Is(err, ari.ErrNotARI):
		return &problem{fmt.Sprintf("%s answers HTTP, but it is not Asterisk's ARI (GET /asterisk/info did not answer JSON)", where),
			"ari.url must be Asterisk's ARI address, ending in /ari (http://HOST:8088/ari)"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &problem{fmt.Sprintf("nothing listens at %s (connection refused), so ari.url %s cannot be reached", hostPort, where), running}
	case errors.As(err, &dns):
		return &problem{fmt.Sprintf("the host %s in ari.url is not found (%s)", dns.Name, dns.Err), "check the host name in ari.url"}
	case errors.As(err, &unknownCA):
		return &problem{fmt.Sprintf("the TLS certificate of %s is signed by an unknown authority", where),
			"give the CA that signed Asterisk's certificate in ari.ca_file"}
	case errors.As(err, &badName):
		return &problem{fmt.Sprintf("the TLS certificate of %s is not for %s", where, badName.Host),
			"use a host name in ari.url that the certificate is for"}
	case errors.As(err, &notTLS), strings.Contains(err.Error(), "does not speak TLS"):
		return &problem{fmt.Sprintf("%s does not speak TLS", where), "use http:// in ari.url, or enable TLS in http.conf (tlsenable = yes)"}
	case strings.Contains(err.Error(), "certificate"):
		return &problem{err.Error(), "give the CA that signed Asterisk's certificate in ari.ca_file"}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &problem{fmt.Sprintf("%s did not answer within %s", where, checkTimeout),
			"check the host and port in ari.url, and that no firewall stops this machine reaching them"}
	}
	return &problem{err.Error(), running}
}

// storeProblem says what is wrong with the call log's database.
func storeProblem(cfg Config, err error) *problem {
	if cfg.DSN == "" {
		return &problem{err.Error(), "store.data_dir must be a directory screenpopd can write to"}
	}
	p := store.PostgresProblem(err, string(cfg.DSN), "store.dsn", checkTimeout)
	return &problem{p.What, p.Fix}
}

func listenProblem(err error) *problem {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EADDRINUSE):
		return &problem{"another program listens there (another screenpopd?)", "stop it, or choose another address in http.listen"}
	}
	return &problem{err.Error(), "http.listen must be host:port of this machine, such as 0.0.0.0:8080"}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

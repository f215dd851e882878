package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Problem is what is wrong with a database connection, in words that
// point at the setting to change, and how to fix it.
type Problem struct {
	What, Fix string
}

// PostgresProblem says what err, from connecting to or using the
// PostgreSQL database at dsn, means: setting names the config key that
// holds dsn (store.dsn, crm.dsn); timeout is how long it was given.
func PostgresProblem(err error, dsn, setting string, timeout time.Duration) Problem {
	var (
		pe  *pgconn.PgError
		ce  *pgconn.ConnectError
		dns *net.DNSError
		ne  net.Error
	)
	at, user, database := "PostgreSQL", "", ""
	if errors.As(err, &ce) && ce.Config != nil {
		at = fmt.Sprintf("PostgreSQL at %s", net.JoinHostPort(ce.Config.Host, fmt.Sprint(ce.Config.Port)))
		user, database = ce.Config.User, ce.Config.Database
	} else if pc, perr := pgconn.ParseConfig(dsn); perr == nil {
		at = fmt.Sprintf("PostgreSQL at %s", net.JoinHostPort(pc.Host, fmt.Sprint(pc.Port)))
		user, database = pc.User, pc.Database
	}
	switch {
	case strings.Contains(err.Error(), "cannot be parsed"):
		return Problem{setting + " is not a PostgreSQL address", "write it as postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable"}
	case errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000"):
		return Problem{fmt.Sprintf("%s rejected user %q: %s", at, user, pe.Message),
			"check the user and password in " + setting + ", and that pg_hba.conf lets them in from this machine"}
	case errors.As(err, &pe) && pe.Code == "3D000":
		return Problem{fmt.Sprintf("%s has no database %q", at, database),
			fmt.Sprintf("create it (createdb %s) or name an existing one in %s", database, setting)}
	case errors.As(err, &pe):
		return Problem{fmt.Sprintf("%s refused: %s (SQLSTATE %s)", at, pe.Message, pe.Code), "see PostgreSQL's log for why"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Problem{fmt.Sprintf("%s refused the connection: nothing listens there", at),
			"start PostgreSQL, or correct the host and port in " + setting}
	case errors.As(err, &dns):
		return Problem{fmt.Sprintf("the host %s in %s is not found (%s)", dns.Name, setting, dns.Err), "check the host in " + setting}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Problem{fmt.Sprintf("%s did not answer within %s", at, timeout),
			"check the host and port in " + setting + ", and that no firewall stops this machine reaching them"}
	case strings.Contains(err.Error(), "server refused TLS"):
		return Problem{fmt.Sprintf("%s does not accept TLS", at), "add sslmode=disable to " + setting + ", or turn ssl on in postgresql.conf"}
	}
	return Problem{err.Error(), "check that PostgreSQL is running and reachable at the host and port in " + setting}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func runCheck(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"check", "--http-listen", freePort(t), "--store-data-dir", t.TempDir()}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// runCheckConfig runs `screenpopd check --config FILE` as an admin would,
// with FILE holding yaml; what it prints on standard output is returned.
func runCheckConfig(t *testing.T, yaml string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "screenpop.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"check", "--config", path})
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// line is the output line starting with prefix.
func line(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// missingDatabaseDSN is the test server with a database that does not
// exist, and the server's host:port.
func missingDatabaseDSN(t *testing.T) (dsn, hostPort string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(testPostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	hostPort = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	u := url.URL{Scheme: "postgres", Host: hostPort, Path: "/screenpop_no_such_db",
		RawQuery: "sslmode=disable&connect_timeout=5"}
	u.User = url.User(cfg.User)
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	return u.String(), hostPort
}

func TestCheckSaysWhatIsWrongAndHowToFixItInOneLineEach(t *testing.T) {
	ast := newFakeAsterisk(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>It works!</body></html>")
	}))
	t.Cleanup(web.Close)
	closedARI, closedPG := freePort(t), freePort(t)
	noDB, pg := missingDatabaseDSN(t)
	goodARI := ast.srv.URL + "/ari"

	tests := []struct {
		name    string
		ari, pw string
		dsn     string
		check   string // the line's prefix
		want    string // the whole line
	}{
		{name: "a wrong ARI password (401 from Asterisk)", ari: goodARI, pw: "hunter2-wrong", check: "asterisk:",
			want: `asterisk: Asterisk at ` + goodARI + ` rejected ARI user "screenpop" or its password; ` +
				`fix: set ari.username and ari.password to a user in ari.conf ([screenpop] type = user, password = ...)`},
		{name: "an ARI URL that does not end in /ari (404)", ari: ast.srv.URL + "/asterisk", pw: "pw", check: "asterisk:",
			want: "asterisk: " + ast.srv.URL + "/asterisk answers HTTP but has no ARI there (GET /asterisk/info: 404 Not Found); " +
				"fix: ari.url must be Asterisk's ARI address, ending in /ari (http://HOST:8088/ari), and ari.conf needs enabled = yes"},
		{name: "an ARI URL where nothing listens (connection refused)", ari: "http://" + closedARI + "/ari", pw: "pw", check: "asterisk:",
			want: "asterisk: nothing listens at " + closedARI + " (connection refused), so ari.url http://" + closedARI + "/ari cannot be reached; " +
				"fix: start Asterisk, and check that http.conf has enabled = yes with bindaddr and bindport matching ari.url"},
		{name: "an ARI URL on a web server that is not Asterisk", ari: web.URL + "/ari", pw: "pw", check: "asterisk:",
			want: "asterisk: " + web.URL + "/ari answers HTTP, but it is not Asterisk's ARI (GET /asterisk/info did not answer JSON); " +
				"fix: ari.url must be Asterisk's ARI address, ending in /ari (http://HOST:8088/ari)"},
		{name: "an https ARI URL on Asterisk's plain HTTP port", ari: "https" + strings.TrimPrefix(goodARI, "http"), pw: "pw", check: "asterisk:",
			want: "asterisk: https" + strings.TrimPrefix(goodARI, "http") + " does not speak TLS; " +
				"fix: use http:// in ari.url, or enable TLS in http.conf (tlsenable = yes)"},
		{name: "a database that is down", ari: goodARI, pw: "pw", dsn: "postgres://postgres@" + closedPG + "/test?sslmode=disable&connect_timeout=2",
			check: "store:",
			want: "store: PostgreSQL at " + closedPG + " refused the connection: nothing listens there; " +
				"fix: start PostgreSQL, or correct the host and port in store.dsn"},
		{name: "a database that does not exist", ari: goodARI, pw: "pw", dsn: noDB, check: "store:",
			want: "store: PostgreSQL at " + pg + ` has no database "screenpop_no_such_db"; ` +
				"fix: create it (createdb screenpop_no_such_db) or name an existing one in store.dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is one line saying what is wrong and how to fix it", func(t *testing.T) {
			yaml := fmt.Sprintf("ari:\n  url: %s\n  username: screenpop\n  password: %s\nstore:\n  data_dir: %s\n  dsn: %q\nhttp:\n  listen: %s\n",
				tt.ari, tt.pw, t.TempDir(), tt.dsn, freePort(t))
			out, err := runCheckConfig(t, yaml)
			if err == nil {
				t.Errorf("check passed:\n%s", out)
			}
			if got := line(out, tt.check); got != tt.want {
				t.Errorf("%s line:\n got %q\nwant %q\noutput:\n%s", tt.check, got, tt.want, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 4 || line(out, "config: ok") == "" {
				t.Errorf("output is not one line for each of config, asterisk, store and http.listen:\n%s", out)
			}
			if strings.Count(out, "; fix: ") != 1 {
				t.Errorf("output names %d problems, want 1:\n%s", strings.Count(out, "; fix: "), out)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
	t.Run("everything right passes", func(t *testing.T) {
		out, err := runCheck(t, "--ari-url", goodARI, "--ari-password", "pw")
		if err != nil || strings.Count(out, ": ok") != 4 {
			t.Errorf("check failed (%v):\n%s", err, out)
		}
	})
	t.Run("every problem in the config is a line of its own", func(t *testing.T) {
		out, err := runCheckConfig(t, "ari:\n  url: ftp://pbx/ari\n  mode: sometimes\n")
		want := "config: ari.url: want http://host:port/ari or https://..., got \"ftp://pbx/ari\"\n" +
			"config: ari.mode: want observe, stasis or both, got \"sometimes\"\n"
		if err == nil || out != want {
			t.Errorf("check printed (%v):\n%s\nwant:\n%s", err, out, want)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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

// line is the output line starting with prefix.
func line(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestCheckSaysWhatIsWrongInOneLineEach(t *testing.T) {
	ast := newFakeAsterisk(t)
	tests := []struct {
		name, check string
		args        []string
		want        []string
	}{
		{"a wrong password", "asterisk:", []string{"--ari-url", ast.srv.URL + "/ari", "--ari-password", "hunter2-wrong"},
			[]string{ast.srv.URL + "/ari", "ari.username and ari.password"}},
		{"a wrong URL", "asterisk:", []string{"--ari-url", ast.srv.URL + "/asterisk", "--ari-password", "pw"},
			[]string{ast.srv.URL + "/asterisk", "must end in /ari"}},
		{"a database that is down", "store:", []string{"--ari-url", ast.srv.URL + "/ari", "--ari-password", "pw",
			"--store-dsn", "postgres://postgres@" + freePort(t) + "/test?sslmode=disable&connect_timeout=2"},
			[]string{"connect to postgres", "is PostgreSQL running"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is named with a hint", func(t *testing.T) {
			out, err := runCheck(t, tt.args...)
			if err == nil {
				t.Errorf("check passed:\n%s", out)
			}
			l := line(out, tt.check)
			for _, w := range tt.want {
				if !strings.Contains(l, w) {
					t.Errorf("%s line %q lacks %q; output:\n%s", tt.check, l, w, out)
				}
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
	t.Run("everything right passes", func(t *testing.T) {
		out, err := runCheck(t, "--ari-url", ast.srv.URL+"/ari", "--ari-password", "pw")
		if err != nil || strings.Count(out, ": ok") != 4 {
			t.Errorf("check failed (%v):\n%s", err, out)
		}
	})
}

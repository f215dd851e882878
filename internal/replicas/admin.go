package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop/web"
)

// AddOperators makes the operators (extensions) in the call log's
// database at dsn and returns their pages' tokens by extension.
func AddOperators(t *testing.T, dsn string, exts []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, dsn)
	defer db.Close()
	tokens := map[string]string{}
	for _, ext := range exts {
		_, tok, err := db.AddOperator(ctx, "Operator "+ext, ext)
		if err != nil {
			t.Fatal(err)
		}
		tokens[ext] = tok
	}
	return tokens
}

var tokenRe = regexp.MustCompile(`(?m)^token: (\S+)$`)

// AdminToken makes a staff token of the admin role in the database at
// dsn, as an admin would with screenpopd token add.
func AdminToken(t *testing.T, dsn string) string {
	t.Helper()
	out, err := exec.Command(Daemon(), "token", "add", "--store-dsn", dsn, "--name", "ops", "--role", "admin").CombinedOutput()
	if err != nil {
		t.Fatalf("token add: %v\n%s", err, out)
	}
	m := tokenRe.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("token add printed no token:\n%s", out)
	}
	return m[1]
}

// AdminStatus is what the replica's admin page shows to the staff token.
func (r *Replica) AdminStatus(token string) (web.AdminStatus, error) {
	req, _ := http.NewRequest("GET", "http://"+r.HTTP+"/api/admin/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return web.AdminStatus{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return web.AdminStatus{}, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var s web.AdminStatus
	return s, json.Unmarshal(b, &s)
}

// Metric is the value of an unlabelled counter or gauge on the replica's
// /metrics, -1 if it does not answer or does not show it.
func (r *Replica) Metric(name string) float64 {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + r.HTTP + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}

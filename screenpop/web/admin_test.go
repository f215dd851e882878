package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

// adminTestStaff is a fake staff store: token -> role.
type adminTestStaff map[string]screenpop.Role

func (s adminTestStaff) StaffByToken(_ context.Context, token string) (screenpop.Staff, error) {
	role, ok := s[token]
	if !ok {
		return screenpop.Staff{}, fmt.Errorf("staff token: %w", screenpop.ErrNotFound)
	}
	return screenpop.Staff{Name: "someone", Role: role}, nil
}

func TestAdminStatusAPI(t *testing.T) {
	auth := adminTestStaff{"admin-token": screenpop.RoleAdmin, "analyst-token": screenpop.RoleAnalyst}
	mux := http.NewServeMux()
	mux.Handle("GET /api/admin/status", RequireStaff(auth, screenpop.RoleAdmin, AdminStatusHandler(func(ctx context.Context) AdminStatus {
		return AdminStatus{ARI: ARIStatus{URL: "http://pbx:8088/ari", Connected: true}} // nothing else known yet
	})))
	mux.Handle("GET /admin", AdminPage())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	t.Run("an admin gets the status, with empty lists rather than nulls", func(t *testing.T) {
		code, got := callAPI(t, srv, "admin-token", http.MethodGet, "/api/admin/status", nil)
		if code != http.StatusOK {
			t.Fatalf("status %d: %v", code, got)
		}
		for _, key := range []string{"events", "open_calls", "recent_calls", "problems"} {
			if l, ok := got[key].([]any); !ok || len(l) != 0 {
				t.Errorf("%s = %#v, want []", key, got[key])
			}
		}
		ari, _ := got["ari"].(map[string]any)
		if ari["url"] != "http://pbx:8088/ari" || ari["connected"] != true || ari["since"] != nil {
			t.Errorf("ari = %v", ari)
		}
		if errs, ok := ari["errors"].([]any); !ok || len(errs) != 0 {
			t.Errorf("ari.errors = %#v, want []", ari["errors"])
		}
	})
	t.Run("an analyst and an unknown token are refused", func(t *testing.T) {
		if code, got := callAPI(t, srv, "analyst-token", http.MethodGet, "/api/admin/status", nil); code != http.StatusForbidden ||
			!strings.Contains(got["error"].(string), "admin role") {
			t.Errorf("analyst: %d %v, want 403 naming the admin role", code, got)
		}
		if code, _ := callAPI(t, srv, "nonsense", http.MethodGet, "/api/admin/status", nil); code != http.StatusUnauthorized {
			t.Errorf("unknown token: %d, want 401", code)
		}
	})
	t.Run("the page is served, with its script and the page's security headers", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(b), `<script type="module" src="admin.js"></script>`) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET /admin: %d %s, CSP %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"), b)
		}
	})
}

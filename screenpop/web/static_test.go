package web

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/screenpop/screenpop/screenpop"
)

// TestEveryModuleThePagesImportIsServedAsJavaScript follows the pages'
// <script type="module"> tags and their imports: a browser runs a module
// only if the daemon serves it, embedded, with a JavaScript type.
func TestEveryModuleThePagesImportIsServedAsJavaScript(t *testing.T) {
	hub := screenpop.NewHub(0, 0)
	srv := httptest.NewServer(New(hub, operators, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() { hub.Close(); srv.Close() })

	page, err := fs.Sub(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	tag := regexp.MustCompile(`<script type="module" src="([^"]+)"></script>`)
	imp := regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";$`)
	var todo []string
	for _, html := range []string{"index.html", "admin.html", "reports.html", "wallboard.html"} {
		b, err := fs.ReadFile(page, html)
		if err != nil {
			t.Fatal(err)
		}
		found := tag.FindAllStringSubmatch(string(b), -1)
		if len(found) == 0 {
			t.Errorf("%s loads no module", html)
		}
		for _, m := range found {
			todo = append(todo, m[1])
		}
	}
	seen := map[string]bool{}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		want, err := fs.ReadFile(page, name)
		if err != nil {
			t.Errorf("a page imports %s, which is not embedded: %v", name, err)
			continue
		}
		resp, err := http.Get(srv.URL + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != string(want) {
			t.Errorf("GET /%s: %d, %d bytes; want 200 and the embedded %d bytes", name, resp.StatusCode, len(got), len(want))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("GET /%s: Content-Type %q; a browser runs a module only as JavaScript", name, ct)
		}
		for _, m := range imp.FindAllStringSubmatch(string(want), -1) {
			todo = append(todo, m[1])
		}
	}
	if !seen["page.js"] {
		t.Errorf("no page imports the shared page.js; modules served: %v", seen)
	}
}

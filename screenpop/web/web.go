package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/screenpop/screenpop/screenpop"
)

//go:embed static
var static embed.FS

// Server is the operators' side of the daemon: the pop page and its
// websocket.
type Server struct {
	mux     *http.ServeMux
	sockets *sockets
	front   http.Handler // mux, behind the key guard if any
}

// New returns the operator server: GET / serves the page, GET /ws the
// operator's stream of calls, and routes the operators' API.
func New(hub *screenpop.Hub, auth Authenticator, log *slog.Logger, routes ...Route) *Server {
	s := &Server{mux: http.NewServeMux(), sockets: newSockets(hub, auth, log)}
	for _, rt := range routes {
		s.mux.Handle(rt.Pattern, s.route(rt))
	}
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees it exists
	}
	files := http.FileServerFS(page)
	s.mux.Handle("GET /ws", s.sockets)
	s.mux.Handle("GET /", noCache(javaScript(files)))
	s.front = s.mux
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.front.ServeHTTP(w, r) }

// TrustOrigin lets pages loaded from origin (scheme://host[:port], such as
// the daemon's public URL behind a proxy) open the operator socket. Pages
// from the host a request names are always let in; pages from elsewhere
// never are, so another site cannot use an operator's browser to read
// their calls. Call it before serving.
func (s *Server) TrustOrigin(origin string) {
	s.sockets.upgrader.CheckOrigin = func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		if o == "" {
			return true // not a browser: no page to protect from
		}
		u, err := url.Parse(o)
		if err != nil {
			return false
		}
		return strings.EqualFold(u.Scheme+"://"+u.Host, origin) || strings.EqualFold(u.Host, r.Host)
	}
}

// OpenSockets is the number of operator websockets open, for metrics.
func (s *Server) OpenSockets() int { return int(s.sockets.open.Load()) }

// staticPage serves one of the static pages at another path (/admin,
// /wallboard); the page asks for its token and reads its API.
func staticPage(name string) http.Handler {
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees it exists
	}
	return noCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, page, name)
	}))
}

// javaScript serves the pages' scripts as JavaScript whatever the
// system's MIME table (/etc/mime.types) says: a browser runs an ES module
// only with a JavaScript type, and nosniff forbids it to guess.
func javaScript(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		h.ServeHTTP(w, r)
	})
}

// noCache makes browsers revalidate the page, so an upgraded daemon's
// page replaces the old one at the next reload.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:")
		h.ServeHTTP(w, r)
	})
}

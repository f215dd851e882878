package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop/web"
)

// certCheckEvery is how often the certificate files are looked at for a
// change (a renewal by certbot or an admin's copy).
const certCheckEvery = 2 * time.Second

// listenHTTP listens on http.listen, with TLS when http.tls_cert is set.
// The certificate is reloaded on SIGHUP and when its files change, until
// ctx ends; a bad new certificate is logged and the old one kept.
func listenHTTP(ctx context.Context, cfg Config, log *slog.Logger) (net.Listener, error) {
	ln, err := cfg.httpListener, error(nil)
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.HTTPListen)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on http.listen %s: %w", cfg.HTTPListen, err)
	}
	// Asterisk's outbound websocket comes in here: its events are handed
	// on a read at a time, as the events websocket's are.
	ln = ari.HookListener(ln)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if cfg.TLSCert == "" {
		go func() {
			defer signal.Stop(hup)
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					log.Info("SIGHUP: nothing to reload (it reloads http.tls_cert and http.tls_key; restart for other settings)")
				}
			}
		}()
		return ln, nil
	}
	certs := &certReloader{certFile: cfg.TLSCert, keyFile: cfg.TLSKey}
	if err := certs.load(); err != nil {
		signal.Stop(hup)
		ln.Close()
		return nil, fmt.Errorf("http.tls_cert: %w", err)
	}
	go certs.watch(ctx, hup, log)
	// HTTP/1.1 only: the operator socket's websocket upgrade needs it.
	return tls.NewListener(ln, &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}), nil
}

// certReloader serves the newest good certificate from its files.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	seen              string // the files' sizes and times when last loaded
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cert.Load(), nil }

// stamp names the files' state: a renewal changes it.
func (c *certReloader) stamp() string {
	var b strings.Builder
	for _, f := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

func (c *certReloader) load() error {
	stamp := c.stamp()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cert.Store(&cert)
	c.seen = stamp
	return nil
}

func (c *certReloader) watch(ctx context.Context, hup chan os.Signal, log *slog.Logger) {
	defer signal.Stop(hup)
	tick := time.NewTicker(certCheckEvery)
	defer tick.Stop()
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-tick.C:
			if c.stamp() == c.seen {
				continue
			}
			why = "the files changed"
		}
		if err := c.load(); err != nil {
			log.Error("reload the TLS certificate; still serving the previous one", "why", why, "cert", c.certFile, "err", err)
			c.seen = c.stamp() // do not retry a bad file every tick; the next change or SIGHUP does
			continue
		}
		leaf := c.cert.Load().Leaf
		log.Info("TLS certificate reloaded", "why", why, "cert", c.certFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	}
}

// behindProxies believes the forwarded headers (Forwarded, X-Forwarded-For,
// -Proto, -Host) only of requests from trusted proxies: for those, the
// request's RemoteAddr and Host become the client's and the host the
// client asked for. From anyone else the headers are removed, so nothing
// after can be fooled by them.
func behindProxies(trusted []netip.Prefix, h http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
				r.Header.Del(k)
			}
			h.ServeHTTP(w, r)
			return
		}
		chain, proto, host := forwardedFor(r.Header)
		// The client is the nearest address not itself a trusted proxy:
		// anything further left could have been written by the client.
		for i := len(chain) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(chain[i])
			if err != nil {
				break
			}
			r.RemoteAddr = netip.AddrPortFrom(a.Unmap(), 0).String()
			if !isTrusted(a) {
				break
			}
		}
		if host != "" {
			r.Host = host
		}
		if proto == "https" || proto == "http" {
			r.URL.Scheme = proto
		}
		h.ServeHTTP(w, r)
	})
}

// forwardedFor reads the addresses a request passed through, nearest
// last, and the protocol and host the client used, from Forwarded (RFC
// 7239) or else the X-Forwarded-* headers.
func forwardedFor(hd http.Header) (chain []string, proto, host string) {
	if fw := hd.Values("Forwarded"); len(fw) > 0 {
		for _, elem := range strings.Split(strings.Join(fw, ","), ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				v = strings.Trim(v, `"`)
				switch strings.ToLower(k) {
				case "for":
					if ap, err := netip.ParseAddrPort(v); err == nil {
						v = ap.Addr().String()
					}
					chain = append(chain, strings.Trim(v, "[]"))
				case "proto":
					proto = strings.ToLower(v)
				case "host":
					host = v
				}
			}
		}
		return chain, proto, host
	}
	for _, v := range hd.Values("X-Forwarded-For") {
		for _, a := range strings.Split(v, ",") {
			chain = append(chain, strings.TrimSpace(a))
		}
	}
	return chain, strings.ToLower(strings.TrimSpace(firstOf(hd.Get("X-Forwarded-Proto")))), strings.TrimSpace(firstOf(hd.Get("X-Forwarded-Host")))
}

func firstOf(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return first
}

// logRefused logs each request refused for want of a good key or token
// (401, 403), with the address it came from, so an admin can see who
// knocks.
func logRefused(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		if rw.code == http.StatusUnauthorized || rw.code == http.StatusForbidden {
			log.Info("request refused: no good key or token", "status", rw.code, "method", r.Method, "path", r.URL.Path,
				"remote", r.RemoteAddr, "reason", rw.reason())
		}
	})
}

// statusWriter remembers the status and the start of the body of an
// answer.
type statusWriter struct {
	http.ResponseWriter
	code int
	mu   sync.Mutex
	body bytes.Buffer
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	if s.code >= 400 {
		s.mu.Lock()
		if s.body.Len() < 200 {
			s.body.Write(b[:min(len(b), 200-s.body.Len())])
		}
		s.mu.Unlock()
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(s.body.String())
}

// Unwrap lets http.ResponseController reach the connection (the
// websocket upgrade hijacks it; streaming exports flush).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack hands the connection over for the operators' websocket, whose
// library asks the writer itself.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Flush sends what is buffered, for streamed answers such as exports.
func (s *statusWriter) Flush() { http.NewResponseController(s.ResponseWriter).Flush() }

// httpServer listens on http.listen (see listenHTTP) and returns the
// server for all the daemon's pages: forwarded headers believed from
// http.trusted_proxies only, refused keys logged, and the operator socket
// open to pages from http.public_url.
func httpServer(ctx context.Context, cfg Config, log *slog.Logger, operators *web.Server, h http.Handler) (net.Listener, *http.Server, error) {
	if cfg.PublicURL != nil {
		operators.TrustOrigin(cfg.PublicURL.Scheme + "://" + cfg.PublicURL.Host)
	}
	ln, err := listenHTTP(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           behindProxies(cfg.TrustedProxies, logRefused(log, h)),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug), // TLS handshake noise from scanners
	}
	return ln, srv, nil
}

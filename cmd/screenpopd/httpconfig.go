package main

import (
	"crypto/tls"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/viper"
)

// checkHTTPConfig reads and checks the http.* settings beyond http.listen.
func checkHTTPConfig(c *Config, v *viper.Viper, bad func(key, format string, args ...any)) {
	if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
		bad("http.listen", "want host:port, such as 127.0.0.1:8080 or 0.0.0.0:8443, got %q", c.HTTPListen)
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		bad("http.tls_cert", "set both http.tls_cert and http.tls_key, or neither")
	case c.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			bad("http.tls_cert", "%v", err)
		}
	}
	if raw := strings.TrimRight(strings.TrimSpace(v.GetString("http.public_url")), "/"); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("http.public_url", "want the address users open, such as https://pbx.example.com, got %q", raw)
		case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("http.public_url", "want only a scheme and host (and port), such as https://pbx.example.com, got %q", raw)
		default:
			c.PublicURL = u
		}
	}
	for _, p := range splitList(v.Get("http.trusted_proxies")) {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			bad("http.trusted_proxies", "%q is not an IP address or CIDR (such as 127.0.0.1 or 10.0.0.0/8)", p)
		}
	}
}

// pageBase is where users reach the pages from: http.public_url, or
// http.listen, with https when the daemon serves TLS itself. A wildcard
// listen address is served on every address of the machine: the link then
// names the machine by its hostname.
func pageBase(cfg Config) string {
	if cfg.PublicURL != nil {
		return cfg.PublicURL.String()
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.HTTPListen)
	if err != nil {
		return scheme + "://" + cfg.HTTPListen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		} else {
			host = "127.0.0.1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

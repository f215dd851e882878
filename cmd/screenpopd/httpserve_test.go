package main

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestForwardedHeadersAreBelievedOnlyFromTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name                   string
		peer                   string
		headers                map[string]string
		remote, host, scheme   string
		forwardedHeadersPassed bool
	}{
		{"a client that is no proxy cannot pretend to be another", "203.0.113.9:5000",
			map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
			"203.0.113.9:5000", "pbx:8080", "", false},
		{"a trusted proxy names the client, the host and the scheme", "127.0.0.1:40000",
			map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "pbx.example.com", "X-Forwarded-Proto": "https"},
			"203.0.113.7:0", "pbx.example.com", "https", true},
		{"what the client wrote left of the proxies' addresses is not believed", "127.0.0.1:40000",
			map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.1.2.3"},
			"203.0.113.7:0", "pbx:8080", "", true},
		{"Forwarded (RFC 7239) is read too", "10.0.0.2:40000",
			map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https;host=pbx.example.com`},
			"[2001:db8::7]:0", "pbx.example.com", "https", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			h := behindProxies(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
			r := httptest.NewRequest(http.MethodGet, "/ws", nil) // as a server reads it: no scheme
			r.Host, r.RemoteAddr = "pbx:8080", tt.peer
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got.RemoteAddr != tt.remote || got.Host != tt.host || got.URL.Scheme != tt.scheme {
				t.Errorf("the daemon sees a request from %s for %s (scheme %q), want from %s for %s (scheme %q)",
					got.RemoteAddr, got.Host, got.URL.Scheme, tt.remote, tt.host, tt.scheme)
			}
			if passed := got.Header.Get("X-Forwarded-For") != "" || got.Header.Get("Forwarded") != ""; passed != tt.forwardedHeadersPassed {
				t.Errorf("forwarded headers passed on: %t, want %t", passed, tt.forwardedHeadersPassed)
			}
		})
	}
}

func TestPrintedPageLinksFollowTheListenAddressAndThePublicURL(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"the default listen address", nil, "http://127.0.0.1:8080/#token=K"},
		{"another port", []string{"--http-listen", "127.0.0.1:9000"}, "http://127.0.0.1:9000/#token=K"},
		{"every address: the machine's name", []string{"--http-listen", "0.0.0.0:8080"}, "http://" + host + ":8080/#token=K"},
		{"behind a proxy: the public URL", []string{"--http-listen", "0.0.0.0:8080", "--http-public-url", "https://pbx.example.com/"}, "https://pbx.example.com/#token=K"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := pageURL(cfg, "K"); got != tt.want {
				t.Errorf("page link %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBadHTTPSettingsAreEachNamed(t *testing.T) {
	_, err := load(t, "--http-listen", "8080", "--http-tls-cert", "/nonexistent.pem", "--http-public-url", "pbx.example.com",
		"--http-trusted-proxies", "nginx")
	for _, want := range []string{"http.listen: want host:port", "http.tls_cert: set both", "http.public_url: want the address users open", `http.trusted_proxies: "nginx" is not an IP address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// servedCert is the subject of the certificate addr serves.
func servedCert(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("connect with TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestHTTPSIsServedDirectlyAndTheCertificateReloadedWhenItChangesAndOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "first", "127.0.0.1")
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	d.cfg.TLSCert, d.cfg.TLSKey = certFile, keyFile
	logs := d.startLogged(t, slog.LevelInfo)
	ast.nextConn(t)

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = client.Get("https://" + d.http + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v", d.http, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over HTTPS: %s", resp.Status)
	}

	waitCert := func(want, after string) {
		t.Helper()
		got := ""
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = servedCert(t, d.http); got == want {
				return
			}
		}
		t.Fatalf("after %s the daemon serves certificate %q, want %q", after, got, want)
	}
	// A renewal writes new files over the old ones.
	second, secondKey := selfSigned(t, t.TempDir(), "second", "127.0.0.1")
	replace(t, second, certFile)
	replace(t, secondKey, keyFile)
	waitCert("second", "the files changed")

	// SIGHUP (systemctl reload) reloads at once. A changed stamp is not
	// needed: the files are read again whatever their times.
	third, thirdKey := selfSigned(t, t.TempDir(), "third", "127.0.0.1")
	replace(t, third, certFile)
	replace(t, thirdKey, keyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCert("third", "SIGHUP")

	// A bad new certificate is logged, and the good one kept.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.waitRecord(t, "reload the TLS certificate; still serving the previous one")
	if got := servedCert(t, d.http); got != "third" {
		t.Errorf("after a bad certificate the daemon serves %q, want the previous one, third", got)
	}
}

// replace puts src's content at dst as a renewal would: a new file
// renamed over the old.
func replace(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

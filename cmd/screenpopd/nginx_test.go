package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// selfSigned writes a self-signed certificate for hosts (names or IP
// addresses) and its key into dir, and returns their paths.
func selfSigned(t *testing.T, dir, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startNginx runs nginx as a child process with the README's site
// (packaging/nginx-screenpop.conf) listening on listen with TLS, in front of
// the daemon at upstream, and waits until it answers.
func startNginx(t *testing.T, listen, upstream, serverName, certFile, keyFile string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("this test runs the page through nginx: apt-get install -y nginx (.ci/run installs it)")
	}
	site, err := os.ReadFile("../../packaging/nginx-screenpop.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(site)
	conf = conf[:strings.Index(conf, "server {\n    listen 80;")] // the redirect from port 80 needs root
	for old, new := range map[string]string{
		"listen 443 ssl http2;":                               "listen " + listen + " ssl http2;",
		"listen [::]:443 ssl http2;\n":                        "",
		"server_name pbx.example.com;":                        "server_name " + serverName + ";",
		"/etc/letsencrypt/live/pbx.example.com/fullchain.pem": certFile,
		"/etc/letsencrypt/live/pbx.example.com/privkey.pem":   keyFile,
		"proxy_pass http://127.0.0.1:8080;":                   "proxy_pass http://" + upstream + ";",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("packaging/nginx-screenpop.conf no longer has %q", old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	prefix := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers as nobody could not enter the test's directories
	}
	main := fmt.Sprintf(`%s
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%s
}
`, user, prefix, conf)
	if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"), "-e", filepath.Join(prefix, "error.log"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Fatalf("nginx stopped: %v\n%s%s", err, out, log)
		default:
		}
		c, err := tls.Dial("tcp", listen, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer on %s within a minute: %v\n%s", listen, err, out)
		}
	}
}

func TestBrowserThroughNginxWithTLSIsASecurePageThatMayNotifyAndConnects(t *testing.T) {
	const host = "pbx.test" // not loopback to the browser: only HTTPS makes it a secure context
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	proxy := freePort(t)
	_, port, _ := net.SplitHostPort(proxy)
	public := "https://" + host + ":" + port
	d.cfg.PublicURL, _ = url.Parse(public)
	d.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	keys := seed(t, d.dataDir, ivanPetrov())
	logs := d.startLogged(t, slog.LevelInfo)
	ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	certFile, keyFile := selfSigned(t, t.TempDir(), host, host)
	startNginx(t, proxy, d.http, host, certFile, keyFile)

	ctx := browser(t, chromedp.IgnoreCertErrors, chromedp.Flag("host-resolver-rules", "MAP "+host+" 127.0.0.1"))
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: public,
	}); err != nil {
		t.Fatalf("grant notifications to %s: %v", public, err)
	}

	open, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(open, chromedp.Navigate(public+"/#token="+keys["101"]), chromedp.WaitVisible("#desk"), waitText("#conn", "online")); err != nil {
		t.Fatalf("the operator page through nginx did not connect: %v\n%s", err, pageHTML(ctx))
	}
	secure, err := chromedp.Run(open, chromedp.Evaluate[bool]("window.isSecureContext"))
	if err != nil || !secure {
		t.Errorf("the page through nginx is a secure context: %v, %v; want true", secure, err)
	}
	perm, err := chromedp.Run(open, chromedp.Evaluate[string]("Notification.permission"))
	if err != nil || perm != "granted" {
		t.Errorf("Notification.permission = %q, %v; want granted", perm, err)
	}
	// The daemon saw the page's socket from the client nginx named (port
	// 0: the address came from X-Forwarded-For, not from the connection).
	if r := logs.waitRecord(t, "operator page connected"); r["operator"] != "101" || r["remote"] != "127.0.0.1:0" {
		t.Errorf("the page's connection is logged as %v, want operator 101 from the forwarded address 127.0.0.1:0", r)
	}

	// The same page over plain HTTP from a name that is not loopback is
	// not secure: that is why it needs HTTPS.
	_, daemonPort, _ := net.SplitHostPort(d.http)
	plain, cancelPlain := context.WithTimeout(ctx, time.Minute)
	defer cancelPlain()
	if err := chromedp.Do(plain, chromedp.Navigate("http://"+host+":"+daemonPort+"/"), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("open the page over plain HTTP: %v", err)
	}
	if secure, err := chromedp.Run(plain, chromedp.Evaluate[bool]("window.isSecureContext")); err != nil || secure {
		t.Errorf("the page over plain HTTP from %s is a secure context: %v, %v; want false", host, secure, err)
	}
}

func TestBrowserOverTheDaemonsOwnHTTPSIsASecurePageAndConnects(t *testing.T) {
	const host = "pbx.test"
	ast := newFakeAsterisk(t)
	d := newDaemon(t, ast.srv.URL+"/ari")
	d.cfg.TLSCert, d.cfg.TLSKey = selfSigned(t, t.TempDir(), host, host)
	keys := seed(t, d.dataDir, ivanPetrov())
	d.start(t)
	ast.nextConn(t)

	_, port, _ := net.SplitHostPort(d.http)
	ctx := browser(t, chromedp.IgnoreCertErrors, chromedp.Flag("host-resolver-rules", "MAP "+host+" 127.0.0.1"))
	open, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(open, chromedp.Navigate("https://"+host+":"+port+"/#token="+keys["101"]), chromedp.WaitVisible("#desk"), waitText("#conn", "online")); err != nil {
		t.Fatalf("the operator page over the daemon's HTTPS did not connect: %v\n%s", err, pageHTML(ctx))
	}
	if secure, err := chromedp.Run(open, chromedp.Evaluate[bool]("window.isSecureContext")); err != nil || !secure {
		t.Errorf("the page over the daemon's HTTPS is a secure context: %v, %v; want true", secure, err)
	}
}

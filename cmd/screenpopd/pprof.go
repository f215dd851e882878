package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// checkPprofListen accepts "" (off) or a loopback host:port: a profile
// shows the daemon's memory, personal data included, so it is never
// served beyond the machine.
func checkPprofListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want a loopback host:port such as 127.0.0.1:6060: %w", err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("want a loopback address such as 127.0.0.1:6060, got %q", addr)
	}
	return nil
}

// servePprof serves Go's profiler on addr (loopback, checked by the
// config) until ctx is done; "" serves nothing. It is for measuring the
// daemon (the load harness, an engineer on the PBX), apart from the
// operators' and staff's address.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("the profiler is not served", "addr", addr, "err", err)
		return
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the profiler stopped", "err", err)
		}
	}()
	log.Info("profiler served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
}

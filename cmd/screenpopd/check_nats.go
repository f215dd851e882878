package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/screenpop/screenpop/cluster"
	"github.com/screenpop/screenpop/natsbus"
)

// checkNATS checks the cluster's NATS when cluster.nats_url is set: that
// it answers with the configured credentials and TLS, has JetStream, and
// has the streams and buckets with the configured replication; it lists
// the writers' consumer, each box's lease holder and the replicas alive.
// Warnings (a stream on one server, a box no replica holds) are printed
// as "warning:" and do not fail the check.
func checkNATS(ctx context.Context, cfg Config, out io.Writer, report func(string, *problem, string)) {
	cc := cfg.Cluster
	warn := func(name, what, fix string) {
		line := name + ": warning: " + what
		if fix != "" {
			line += "; fix: " + fix
		}
		fmt.Fprintln(out, line)
	}
	ictx, cancel := context.WithTimeout(ctx, checkTimeout)
	r, err := natsbus.Inspect(ictx, cc.bus(), checkTimeout)
	cancel()
	if err != nil {
		report("nats", natsProblem(cc, err), "")
		return
	}
	servers := fmt.Sprintf("%d server(s) known", len(r.Servers))
	if r.Cluster != "" {
		servers = fmt.Sprintf("cluster %s, %s", r.Cluster, servers)
	}
	report("nats", nil, fmt.Sprintf(" (nats-server %s, %s, JetStream on)", r.Server, servers))

	var missing, kept, fewer []string
	r1 := false
	for _, s := range r.Streams {
		switch {
		case s.Missing:
			missing = append(missing, s.Name)
			continue
		case s.Replicas < cc.Replicas:
			fewer = append(fewer, fmt.Sprintf("%s has R%d, cluster.replicas is %d", s.Name, s.Replicas, cc.Replicas))
		case s.Peers < s.Replicas:
			fewer = append(fewer, fmt.Sprintf("%s has %d of its %d copies current", s.Name, s.Peers, s.Replicas))
		}
		if s.Replicas == 1 {
			r1 = true
		}
		kept = append(kept, fmt.Sprintf("%s R%d %d msgs", s.Name, s.Replicas, s.Messages))
	}
	if len(kept) > 0 {
		report("nats.streams", nil, " ("+strings.Join(kept, ", ")+")")
	}
	if len(missing) > 0 {
		warn("nats.streams", "not made yet: "+strings.Join(missing, ", "), "the first replica to start (screenpopd serve) makes them")
	}
	if len(fewer) > 0 {
		warn("nats.streams", strings.Join(fewer, "; "),
			"a replica started with cluster.replicas set raises a stream's replication; a copy not current catches up once its NATS node is back (nats stream report shows it)")
	}
	if r1 {
		warn("nats.replication", "the streams are kept on one NATS server (R1): if it or its disk is lost, so are the call records waiting for the database and the operators' screens",
			"in production run NATS as a three-node cluster (cluster { routes = [...] } in each nats-server.conf, jetstream enabled), list all three in cluster.nats_url and set cluster.replicas: 3")
	}
	if !streamMissing(r, natsbus.CallsStream) {
		if len(r.Consumers) == 0 {
			warn("nats.consumers", natsbus.CallsStream+" has no consumer: no replica writes call records", "start a replica; it makes the writers' consumer")
		} else {
			report("nats.consumers", nil, " ("+natsbus.CallsStream+": "+strings.Join(r.Consumers, ", ")+")")
		}
	}
	if !streamMissing(r, "KV_"+natsbus.LeasesBucket) {
		held := map[string]bool{}
		var hs []string
		for _, h := range r.Holders {
			held[h.PBX] = true
			hs = append(hs, fmt.Sprintf("box %s held by %s (%s)", cluster.BoxName(h.PBX), h.Replica, cluster.EpochText(h)))
		}
		for _, b := range clusterBoxes(cfg) {
			if !held[b.Name] {
				warn("nats.leases", fmt.Sprintf("no replica holds box %s: nobody reads its Asterisk", cluster.BoxName(b.Name)), "start a replica with this config; it takes the lease within cluster.lease_ttl")
			}
		}
		if len(hs) > 0 {
			report("nats.leases", nil, " ("+strings.Join(hs, "; ")+")")
		}
	}
	if len(r.Replicas) > 0 {
		var rs []string
		for _, ri := range r.Replicas {
			d := ri.Name
			if ri.Addr != "" {
				d += " at " + ri.Addr
			}
			for _, b := range ri.Boxes {
				d += fmt.Sprintf(", holds %s (epoch %d)", cluster.BoxName(b.PBX), b.Epoch)
			}
			d += fmt.Sprintf(", lag %d", ri.Lag)
			rs = append(rs, d)
		}
		report("nats.replicas", nil, fmt.Sprintf(" (%d alive: %s)", len(r.Replicas), strings.Join(rs, "; ")))
	}
}

func streamMissing(r natsbus.Report, name string) bool {
	for _, s := range r.Streams {
		if s.Name == name {
			return s.Missing
		}
	}
	return true
}

// natsProblem says what is wrong with reaching NATS, in words that point
// at the setting to change.
func natsProblem(cc ClusterConfig, err error) *problem {
	where := redactURL(cc.NATSURL)
	var (
		unknownCA x509.UnknownAuthorityError
		badName   x509.HostnameError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return &problem{fmt.Sprintf("NATS at %s refused this client's credentials (%v)", where, err),
			"set cluster.creds_file, or cluster.user with cluster.password, or cluster.token, to a user the NATS server's accounts allow"}
	case errors.Is(err, natsbus.ErrJetStreamOff):
		return &problem{fmt.Sprintf("NATS at %s answers, but JetStream is not enabled (for this account)", where),
			"start nats-server with -js, or put `jetstream { store_dir: /var/lib/nats }` in its config (and `jetstream: enabled` in the account, if you use accounts)"}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, nats.ErrNoServers):
		return &problem{fmt.Sprintf("nothing answers at %s (connection refused), so NATS cannot be reached", where),
			"start nats-server there, or correct the host and port (4222 by default) in cluster.nats_url"}
	case errors.As(err, &unknownCA):
		return &problem{fmt.Sprintf("the TLS certificate of NATS at %s is signed by an unknown authority", where),
			"give the CA that signed the NATS servers' certificates in cluster.ca_file"}
	case errors.As(err, &badName):
		return &problem{fmt.Sprintf("the TLS certificate of NATS at %s is not for %s", where, badName.Host),
			"use a host name in cluster.nats_url that the certificate is for"}
	case strings.Contains(err.Error(), "secure connection") || strings.Contains(err.Error(), "tls"):
		return &problem{err.Error(), "NATS and cluster.nats_url must agree on TLS: set cluster.ca_file (tls:// URL) when the server requires TLS, and cert_file/key_file when it verifies clients"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.As(err, &netErr) && netErr.Timeout():
		return &problem{fmt.Sprintf("NATS at %s did not answer within %s", where, checkTimeout),
			"check the hosts and ports in cluster.nats_url, and that no firewall stops this machine reaching them"}
	}
	return &problem{err.Error(), "check cluster.nats_url and that the NATS servers run"}
}

// redactURL hides passwords in NATS URLs.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Report is what Inspect found of a cluster's NATS: read only, it makes
// nothing.
type Report struct {
	// Server is the version of the server connected to, Servers the
	// servers the client knows of (the cluster's), Cluster its name.
	Server  string
	Servers []string
	Cluster string
	// Streams are the cluster's streams and buckets, by name; a missing
	// one has Missing set.
	Streams []StreamReport
	// Consumers of the calls stream (the writers').
	Consumers []string
	Holders   []LeaseHolder
	Replicas  []ReplicaInfo
}

// StreamReport is one stream (a bucket is a stream named KV_<bucket>).
type StreamReport struct {
	Name     string
	Missing  bool
	Replicas int
	// Peers is how many of its replicas are current; Leader its leader.
	Peers    int
	Leader   string
	Messages uint64
}

// ErrJetStreamOff is returned by Inspect when the server has no
// JetStream (or none for this account).
var ErrJetStreamOff = errors.New("JetStream is not enabled")

// Inspect connects to NATS with cfg's URL, credentials and TLS and reads
// the cluster's streams, buckets, consumers, lease holders and replicas.
// It makes nothing: a cluster no replica has started yet shows its
// streams as missing. Its errors wrap nats.ErrAuthorization,
// nats.ErrNoServers and ErrJetStreamOff where those are the cause.
func Inspect(ctx context.Context, cfg Config, timeout time.Duration) (Report, error) {
	var r Report
	opts := append(dialOptions(cfg, slog.New(slog.DiscardHandler), nil), nats.Timeout(timeout), nats.MaxReconnects(0), nats.NoReconnect())
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return r, fmt.Errorf("connect to NATS at %s: %w", redact(cfg.URL), err)
	}
	defer nc.Close()
	r.Server = nc.ConnectedServerVersion()
	r.Servers = nc.Servers()
	r.Cluster = nc.ConnectedClusterName()
	js, err := jetstream.New(nc)
	if err != nil {
		return r, err
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return r, fmt.Errorf("%w on NATS at %s", ErrJetStreamOff, redact(cfg.URL))
		}
		return r, fmt.Errorf("ask NATS at %s for JetStream: %w", redact(cfg.URL), err)
	}
	for _, name := range []string{EventsStream, ScreensStream, CallsStream, "KV_" + LeasesBucket, "KV_" + ReplicasBucket, "KV_" + BoxesBucket} {
		sr := StreamReport{Name: name}
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			sr.Missing = true
			r.Streams = append(r.Streams, sr)
			continue
		}
		if err != nil {
			return r, fmt.Errorf("read stream %s: %w", name, err)
		}
		si := s.CachedInfo()
		sr.Replicas, sr.Messages = si.Config.Replicas, si.State.Msgs
		if si.Cluster != nil {
			sr.Leader = si.Cluster.Leader
			if sr.Leader != "" {
				sr.Peers = 1
			}
			for _, p := range si.Cluster.Replicas {
				if p.Current && !p.Offline {
					sr.Peers++
				}
			}
		} else {
			sr.Peers = 1
		}
		r.Streams = append(r.Streams, sr)
		switch name {
		case CallsStream:
			for c := range s.ConsumerNames(ctx).Name() {
				r.Consumers = append(r.Consumers, c)
			}
		case "KV_" + LeasesBucket:
			kv, err := js.KeyValue(ctx, LeasesBucket)
			if err != nil {
				return r, fmt.Errorf("open bucket %s: %w", LeasesBucket, err)
			}
			if r.Holders, err = leaseHolders(ctx, js, kv); err != nil {
				return r, err
			}
		case "KV_" + ReplicasBucket:
			kv, err := js.KeyValue(ctx, ReplicasBucket)
			if err != nil {
				return r, fmt.Errorf("open bucket %s: %w", ReplicasBucket, err)
			}
			if r.Replicas, err = listReplicas(ctx, js, kv); err != nil {
				return r, err
			}
		}
	}
	r.Holders = WithEpochs(r.Holders, r.Replicas)
	return r, nil
}

package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReplicasBucket is the key-value bucket where each replica says, every
// heartbeat, that it is alive and what it does; a replica that stops
// beating drops out after ReplicaTTL.
const ReplicasBucket = "SP_REPLICAS"

// Heartbeat timing: a replica beats every ReplicaBeat and is gone from
// the list ReplicaTTL after its last beat.
const (
	ReplicaBeat = 2 * time.Second
	ReplicaTTL  = 10 * time.Second
)

// ReplicaInfo is what one replica says of itself.
type ReplicaInfo struct {
	Name string `json:"name"`
	// Addr is where its pages are served (http.public_url or the listen
	// address).
	Addr string `json:"addr"`
	// Boxes are the boxes it holds the lease of, with their epochs.
	Boxes []HeldBox `json:"boxes"`
	// Lag is how many messages of its box's log its call tracking has yet
	// to read.
	Lag       uint64    `json:"lag"`
	Takeovers uint64    `json:"takeovers"`
	Sockets   int       `json:"sockets"`
	Started   time.Time `json:"started"`
	Seen      time.Time `json:"seen"`
}

// HeldBox is a box whose lease a replica holds.
type HeldBox struct {
	PBX   string `json:"pbx"`
	Epoch uint64 `json:"epoch"`
}

// Replicas keeps this replica's heartbeat in SP_REPLICAS and reads the
// others'.
type Replicas struct {
	b  *Bus
	kv jetstream.KeyValue
	// Errors counts heartbeats that could not be written.
	Errors atomic.Uint64
}

// replicasKV makes (or opens) the replicas' bucket.
func (b *Bus) replicasKV(ctx context.Context) (jetstream.KeyValue, error) {
	return b.keyValue(ctx, jetstream.KeyValueConfig{Bucket: ReplicasBucket, History: 1, TTL: ReplicaTTL, Replicas: b.cfg.Replicas, Storage: jetstream.FileStorage})
}

// Replicas makes the replicas' bucket if it is not there and returns
// this replica's handle on it.
func (b *Bus) Replicas(ctx context.Context) (*Replicas, error) {
	kv, err := b.replicasKV(ctx)
	if err != nil {
		return nil, err
	}
	return &Replicas{b: b, kv: kv}, nil
}

// Name is this replica's name.
func (r *Replicas) Name() string { return r.b.cfg.Replica }

// Beat writes info once.
func (r *Replicas) Beat(ctx context.Context, info ReplicaInfo) error {
	info.Name = r.b.cfg.Replica
	info.Seen = time.Now().UTC()
	v, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := r.kv.Put(ctx, "r."+kvToken(info.Name), v); err != nil {
		r.Errors.Add(1)
		return fmt.Errorf("write the heartbeat of replica %s: %w", info.Name, err)
	}
	return nil
}

// Run beats every ReplicaBeat with what info says until ctx ends, then
// removes this replica from the list (a replica that dies drops out
// after ReplicaTTL).
func (r *Replicas) Run(ctx context.Context, info func() ReplicaInfo) error {
	t := time.NewTicker(ReplicaBeat)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, ReplicaBeat)
		if err := r.Beat(bctx, info()); err != nil && ctx.Err() == nil {
			r.b.log.Warn("replica heartbeat", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r.kv.Delete(dctx, "r."+kvToken(r.b.cfg.Replica))
			cancel()
			return nil
		case <-t.C:
		}
	}
}

// List reads every replica that beat within ReplicaTTL, by name.
func (r *Replicas) List(ctx context.Context) ([]ReplicaInfo, error) {
	return listReplicas(ctx, r.b.js, r.kv)
}

// bucketKeys lists a bucket's keys from its stream's per-subject state,
// which the server reads in one step. The client's ListKeys walks the
// bucket with a consumer instead, and misses a key that is written
// while it walks (its old revision goes, its new one may come after the
// walk's end): about 3 listings in 100 missed one of two keys written
// every millisecond, and a replica whose heartbeat was missed once was
// missing from the admin page, the metrics and the balancer's view.
// A deleted key's marker is still a subject; Get tells it apart.
func bucketKeys(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]string, error) {
	s, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return nil, err
	}
	prefix := "$KV." + kv.Bucket() + "."
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subj, prefix))
	}
	sort.Strings(keys)
	return keys, nil
}

func listReplicas(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]ReplicaInfo, error) {
	keys, err := bucketKeys(ctx, js, kv)
	if err != nil {
		return nil, fmt.Errorf("list the replicas: %w", err)
	}
	var out []ReplicaInfo
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read replica %s: %w", k, err)
		}
		var ri ReplicaInfo
		if err := json.Unmarshal(e.Value(), &ri); err != nil {
			continue // a bad value is not a replica
		}
		out = append(out, ri)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LeaseHolder is who holds a box's lease, as the bucket has it. The
// bucket keeps the key's latest revision (each renewal raises it), not
// the fencing epoch it was taken under: Epoch is the holder's own word,
// from its heartbeat (WithEpochs), 0 while that is not known.
type LeaseHolder struct {
	PBX      string    `json:"pbx"`
	Replica  string    `json:"replica"`
	Epoch    uint64    `json:"epoch"`
	Revision uint64    `json:"revision"`
	Since    time.Time `json:"since"`
}

// Holders reads every box's lease holder.
func (b *Bus) Holders(ctx context.Context) ([]LeaseHolder, error) {
	return leaseHolders(ctx, b.js, b.leases)
}

// WithEpochs fills each holder's epoch from its heartbeat.
func WithEpochs(hs []LeaseHolder, rs []ReplicaInfo) []LeaseHolder {
	for i, h := range hs {
		for _, r := range rs {
			if r.Name != h.Replica {
				continue
			}
			for _, b := range r.Boxes {
				if b.PBX == h.PBX {
					hs[i].Epoch = b.Epoch
				}
			}
		}
	}
	return hs
}

func leaseHolders(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]LeaseHolder, error) {
	keys, err := bucketKeys(ctx, js, kv)
	if err != nil {
		return nil, fmt.Errorf("list the leases: %w", err)
	}
	var out []LeaseHolder
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read lease %s: %w", k, err)
		}
		var v leaseValue
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			continue
		}
		out = append(out, LeaseHolder{PBX: kvUntoken(strings.TrimPrefix(k, "box.")), Replica: v.Replica, Revision: e.Revision(), Since: v.Since})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PBX < out[j].PBX })
	return out, nil
}

// kvUntoken undoes kvToken.
func kvUntoken(s string) string {
	if s == "=" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && i+2 < len(s) {
			if c, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

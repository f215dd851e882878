package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// BoxesBucket binds each box's name to its Asterisk's entity ID, for the
// whole cluster: a box is read by whichever replica holds its lease, so
// the binding cannot live in one replica's data directory, where a
// replica that never read the box would not know it, and two replicas
// could bind one Asterisk under two names at once. Each binding is two
// keys, made with compare-and-set: "eid.<entity ID>" names the box, and
// "box.<pbx>" the entity ID. Nothing expires.
const BoxesBucket = "SP_BOXES"

// Bindings is the cluster's bindings of boxes to entity IDs
// (ari.SharedBindings).
type Bindings struct {
	b *Bus
}

// Bindings returns the cluster's bindings of boxes to entity IDs.
func (b *Bus) Bindings() *Bindings { return &Bindings{b: b} }

func (b *Bus) boxesKV(ctx context.Context) (jetstream.KeyValue, error) {
	return b.keyValue(ctx, jetstream.KeyValueConfig{Bucket: BoxesBucket, History: 1, Replicas: b.cfg.Replicas, Storage: jetstream.FileStorage})
}

// BindBox binds box pbx to entity ID eid, for every replica, unless
// another box has eid (returned as holder) or pbx was bound to another
// entity ID (returned as had); then nothing changes.
func (bs *Bindings) BindBox(ctx context.Context, pbx, eid string) (holder, had string, err error) {
	kv := bs.b.boxes
	boxKey, eidKey := "box."+kvToken(pbx), "eid."+kvToken(eid)
	get := func(key string) (string, error) {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read the binding %s: %w", key, err)
		}
		return string(e.Value()), nil
	}
	if had, err = get(boxKey); err != nil || (had != "" && had != eid) {
		return "", had, err
	}
	had = ""
	// The entity ID first: of two replicas binding one Asterisk under two
	// names at once, one wins.
	rev, err := kv.Create(ctx, eidKey, []byte(pbx))
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		rev = 0
		if holder, err = get(eidKey); err != nil || holder != pbx {
			return holder, "", err
		}
		holder = ""
	case err != nil:
		return "", "", fmt.Errorf("bind box %s to entity ID %s: %w", pbx, eid, err)
	}
	_, err = kv.Create(ctx, boxKey, []byte(eid))
	if errors.Is(err, jetstream.ErrKeyExists) {
		if had, err = get(boxKey); err == nil && had == eid {
			had = ""
		}
	} else if err != nil {
		err = fmt.Errorf("bind box %s to entity ID %s: %w", pbx, eid, err)
	}
	if (err != nil || had != "") && rev != 0 {
		// Bound meanwhile to another Asterisk: the entity ID taken above
		// is given back.
		kv.Delete(context.WithoutCancel(ctx), eidKey, jetstream.LastRevision(rev))
	}
	return "", had, err
}

// Where says where the bindings are kept, for an error that tells how to
// undo one.
func (bs *Bindings) Where() string {
	return fmt.Sprintf("the cluster's NATS bucket %s (nats kv del %s box.<name>, and the eid.<entity ID> key that names it)", BoxesBucket, BoxesBucket)
}

// kvToken makes s one token of a key-value bucket's key, whose
// characters are limited to letters, digits, '-', '_', '/' and '=' (an
// entity ID is a MAC address, 02:fc:...): any other byte, and '=', is
// written =XX, so distinct names stay distinct.
func kvToken(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "=%02X", c)
	}
	if b.Len() == 0 {
		return "="
	}
	return b.String()
}

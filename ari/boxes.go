package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// An Asterisk box is known by a name (its pbx, asterisk.boxes[].name in
// the config) and proves which Asterisk it is by its entity ID (EID,
// asterisk.conf entityid, by default a MAC address): GET /asterisk/info
// says system.entity_id, and every event carries it as asterisk_id.
// Uniqueids, and so call IDs, are unique only within one Asterisk: two
// boxes that are one Asterisk, or a box that became another Asterisk under
// the same name, would mix calls whose IDs collide. Both are refused.

// ErrIdentity is a box refused because of its entity ID.
var ErrIdentity = errors.New("box identity refused")

// Identities binds box names to entity IDs, and remembers the bindings in
// a file so that a box that changed between two runs is noticed too, or,
// in a cluster, in a store all its daemons share (NewSharedIdentities).
// Its methods are safe for concurrent use.
type Identities struct {
	path   string // "" : remembered in memory only
	shared SharedBindings
	log    *slog.Logger

	mu    sync.Mutex
	bound map[string]string // EID by box name
}

// identitiesFile is the file's form: {"boxes": {"pbx1": "02:fc:..."}}.
type identitiesFile struct {
	Boxes map[string]string `json:"boxes"`
}

// OpenIdentities reads the bindings remembered in path (none if it does
// not exist yet). path "" remembers nothing across runs. log may be nil.
func OpenIdentities(path string, log *slog.Logger) (*Identities, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ids := &Identities{path: path, log: log, bound: map[string]string{}}
	if path == "" {
		return ids, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ids, nil
	case err != nil:
		return nil, fmt.Errorf("read the boxes' entity IDs: %w", err)
	}
	var f identitiesFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read the boxes' entity IDs from %s: %w (remove the file to bind every box anew on its next connection)", path, err)
	}
	for name, eid := range f.Boxes {
		ids.bound[name] = eid
	}
	return ids, nil
}

// SharedBindings keeps the bindings where every daemon that may read a
// box sees them: in a cluster, any replica may come to read any box, so
// a binding kept in one replica's data directory would be unknown to the
// others (natsbus.Bindings keeps them in a NATS key-value bucket).
type SharedBindings interface {
	// BindBox binds box pbx to entity ID eid at once for every daemon,
	// unless another box has eid (holder) or pbx has another entity ID
	// (had): then nothing changes.
	BindBox(ctx context.Context, pbx, eid string) (holder, had string, err error)
	// Where says where the bindings are kept, for an error that tells how
	// to undo one.
	Where() string
}

// bindTimeout bounds a binding in a shared store: the client tries its
// connection again after a failure.
const bindTimeout = 10 * time.Second

// NewSharedIdentities binds boxes in s, remembering them in memory too
// (EntityID).
func NewSharedIdentities(s SharedBindings, log *slog.Logger) *Identities {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Identities{shared: s, log: log, bound: map[string]string{}}
}

// boxName is a box's name as an error shows it.
func boxName(pbx string) string {
	if pbx == "" {
		return `the single box (pbx "")`
	}
	return fmt.Sprintf("box %q", pbx)
}

// Bind checks that the Asterisk at where, which says it has entity ID eid,
// may be box pbx, and remembers it. It is refused (ErrIdentity) when
// another box has that entity ID, or when pbx had another one when last
// seen. The single box of a single-box config (pbx "") is never refused
// for a changed ID, which only its log says: nothing else changes for a
// config that names no boxes.
func (ids *Identities) Bind(pbx, where, eid string) error {
	if eid == "" && pbx == "" {
		// The single box of a config that names none connects as it
		// always did; there is nothing to bind.
		return nil
	}
	if eid == "" {
		return fmt.Errorf("%w: the Asterisk at %s gave no entity ID (GET /asterisk/info system.entity_id), so it cannot be told apart from the other boxes", ErrIdentity, where)
	}
	if ids.shared != nil {
		return ids.bindShared(pbx, where, eid)
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	names := make([]string, 0, len(ids.bound))
	for name := range ids.bound {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, other := range names {
		if other != pbx && ids.bound[other] == eid {
			return ids.sameAsterisk(pbx, where, eid, other)
		}
	}
	old, known := ids.bound[pbx]
	switch {
	case known && old == eid:
		return nil
	case known && pbx != "":
		return ids.changed(pbx, where, eid, old)
	case known:
		ids.changedSingle(where, eid, old)
	}
	ids.bound[pbx] = eid
	if err := ids.save(); err != nil {
		// The binding holds for this run; the next one binds again.
		ids.log.Error("cannot remember the boxes' entity IDs", "err", err)
	}
	return nil
}

// bindShared binds in the shared store.
func (ids *Identities) bindShared(pbx, where, eid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), bindTimeout)
	defer cancel()
	holder, had, err := ids.shared.BindBox(ctx, pbx, eid)
	switch {
	case err != nil:
		return fmt.Errorf("check the entity ID of %s: %w", boxName(pbx), err)
	case holder != "":
		return ids.sameAsterisk(pbx, where, eid, holder)
	case had != "" && pbx != "":
		return ids.changed(pbx, where, eid, had)
	case had != "":
		ids.changedSingle(where, eid, had)
	}
	ids.mu.Lock()
	ids.bound[pbx] = eid
	ids.mu.Unlock()
	return nil
}

// sameAsterisk refuses box pbx whose entity ID box other has.
func (ids *Identities) sameAsterisk(pbx, where, eid, other string) error {
	return fmt.Errorf("%w: %s at %s has entity ID %s, which %s already has: they are the same Asterisk. Give each Asterisk its own entityid in asterisk.conf, or, if %s was renamed, remove the old name from %s",
		ErrIdentity, boxName(pbx), where, eid, boxName(other), boxName(pbx), ids.where())
}

// changed refuses box pbx whose entity ID changed from old.
func (ids *Identities) changed(pbx, where, eid, old string) error {
	return fmt.Errorf("%w: %s at %s now has entity ID %s, but had %s when last seen: it is another Asterisk. If it was replaced on purpose, remove %q from %s",
		ErrIdentity, boxName(pbx), where, eid, old, pbx, ids.where())
}

// changedSingle says that the single box's entity ID changed: not
// refused, so that nothing changes for a config that names no boxes.
func (ids *Identities) changedSingle(where, eid, old string) {
	ids.log.Warn("the Asterisk's entity ID changed since it was last seen: it was reinstalled, or this is another Asterisk",
		"url", where, "entity_id", eid, "was", old)
}

// EntityID is the entity ID pbx was last bound to, "" if none.
func (ids *Identities) EntityID(pbx string) string {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	return ids.bound[pbx]
}

func (ids *Identities) where() string {
	if ids.shared != nil {
		return ids.shared.Where()
	}
	if ids.path == "" {
		return "the daemon's memory (restart it)"
	}
	return ids.path
}

// save writes the bindings, whole or not at all; ids.mu is held.
func (ids *Identities) save() error {
	if ids.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(identitiesFile{Boxes: ids.bound}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(ids.path), ".boxes-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), ids.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// boxInfo is what GET /asterisk/info says of the Asterisk's identity;
// the startup time is kept as Asterisk wrote it, to compare.
type boxInfo struct {
	System struct {
		EntityID string `json:"entity_id"`
	} `json:"system"`
	Status struct {
		StartupTime string `json:"startup_time"`
	} `json:"status"`
}

func (c *Client) info(ctx context.Context) (boxInfo, error) {
	var info boxInfo
	if err := c.do(ctx, http.MethodGet, "/asterisk/info", nil, nil, &info); err != nil {
		return boxInfo{}, fmt.Errorf("ask Asterisk its entity ID: %w", err)
	}
	return info, nil
}

// EntityID asks the Asterisk its entity ID (GET /asterisk/info).
func (c *Client) EntityID(ctx context.Context) (string, error) {
	info, err := c.info(ctx)
	return info.System.EntityID, err
}

// checkIdentity binds the Asterisk connected to this client's box; nil
// when the client has no identities to check against.
func (c *Client) checkIdentity(ctx context.Context) error {
	if c.cfg.Identities == nil {
		return nil
	}
	eid, err := c.EntityID(ctx)
	if err != nil && c.cfg.PBX == "" && ctx.Err() == nil {
		// A single box connects as it always did: what fails here is
		// told by the requests that follow, if it matters.
		c.log.Warn("cannot ask Asterisk its entity ID", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	return c.bind(eid)
}

// bind checks eid against the box's identity, if the client has one.
func (c *Client) bind(eid string) error {
	if c.cfg.Identities == nil {
		return nil
	}
	return c.cfg.Identities.Bind(c.cfg.PBX, c.where(), eid)
}

// PBX is the name of the box this client connects to.
func (c *Client) PBX() string { return c.cfg.PBX }

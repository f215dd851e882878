package ari

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// memBindings is a cluster's shared bindings in memory
// (natsbus.Bindings keeps them in NATS).
type memBindings struct {
	mu         sync.Mutex
	eids, pbxs map[string]string // entity ID by box, box by entity ID
	down       bool
}

func (m *memBindings) BindBox(_ context.Context, pbx, eid string) (holder, had string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return "", "", errors.New("nats: timeout")
	}
	if old, ok := m.eids[pbx]; ok && old != eid {
		return "", old, nil
	}
	if other, ok := m.pbxs[eid]; ok && other != pbx {
		return other, "", nil
	}
	m.eids[pbx], m.pbxs[eid] = eid, pbx
	return "", "", nil
}

func (m *memBindings) Where() string { return "the cluster's bucket" }

func TestSharedIdentitiesRefuseWhatAnyDaemonOfTheClusterBound(t *testing.T) {
	shared := &memBindings{eids: map[string]string{}, pbxs: map[string]string{}}
	// Two replicas: each binds through its own Identities, one store.
	a, b := NewSharedIdentities(shared, nil), NewSharedIdentities(shared, nil)
	steps := []struct {
		name          string
		ids           *Identities
		pbx, eid      string
		refused, want string // want: a part of the error
	}{
		{name: "a box is bound on one replica", ids: a, pbx: "pbx1", eid: "02:01"},
		{name: "the same box is bound again on another", ids: b, pbx: "pbx1", eid: "02:01"},
		{name: "another box of that Asterisk is refused on the other, naming both", ids: b, pbx: "pbx2", eid: "02:01",
			want: `box "pbx2" at http://b/ari has entity ID 02:01, which box "pbx1" already has`},
		{name: "the first box become another Asterisk is refused", ids: a, pbx: "pbx1", eid: "02:99",
			want: `box "pbx1" at http://b/ari now has entity ID 02:99, but had 02:01 when last seen: it is another Asterisk. If it was replaced on purpose, remove "pbx1" from the cluster's bucket`},
		{name: "the single box of a config that names none is bound", ids: a, pbx: "", eid: "02:02"},
		{name: "and is not refused for a changed entity ID (its log says it)", ids: a, pbx: "", eid: "02:03"},
	}
	for _, s := range steps {
		err := s.ids.Bind(s.pbx, "http://b/ari", s.eid)
		switch {
		case s.want == "" && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.want != "" && (!errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), s.want)):
			t.Errorf("%s: got %v, want an ErrIdentity saying %q", s.name, err, s.want)
		}
	}
	if got := b.EntityID("pbx1"); got != "02:01" {
		t.Errorf("replica b remembers pbx1 as %q", got)
	}

	// The store unreachable: no binding, an error that is no refusal (the
	// client tries again).
	shared.down = true
	err := a.Bind("pbx3", "http://c/ari", "02:03:03")
	if err == nil || errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), `check the entity ID of box "pbx3": nats: timeout`) {
		t.Errorf("the store down: %v", err)
	}
}

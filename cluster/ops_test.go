package cluster

import (
	"testing"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/natsbus"
)

func TestReadyzTexts(t *testing.T) {
	t.Run("boxes held are listed with their epochs", func(t *testing.T) {
		got := heldText([]natsbus.HeldBox{{PBX: "pbx1", Epoch: 5}, {PBX: "pbx2", Epoch: 9}})
		if want := "pbx1 (epoch 5), pbx2 (epoch 9)"; got != want {
			t.Errorf("heldText = %q, want %q", got, want)
		}
	})
	t.Run("the box of an empty cluster.pbx is named as such", func(t *testing.T) {
		got := heldText([]natsbus.HeldBox{{PBX: "", Epoch: 3}})
		if want := `"" (cluster.pbx empty) (epoch 3)`; got != want {
			t.Errorf("heldText = %q, want %q", got, want)
		}
	})
	for _, tc := range []struct {
		name  string
		epoch uint64
		want  string
	}{
		{"a holder's epoch is said", 7, "epoch 7"},
		{"an epoch not yet in a heartbeat is said to be unknown", 0, "epoch not known yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EpochText(natsbus.LeaseHolder{PBX: "pbx1", Replica: "r1", Epoch: tc.epoch}); got != tc.want {
				t.Errorf("EpochText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdminReader(t *testing.T) {
	o := &clusterOps{readers: map[string]*boxReader{}, boxes: []*clusterBox{{pbx: "pbx1"}, {pbx: "pbx2"}}}
	if c, _ := o.adminReader(); c != nil {
		t.Fatalf("a replica that never read a box shows reader %p, want none", c)
	}
	first, second := &ari.Client{}, &ari.Client{}
	firstIn, secondIn := &ari.Intake{}, &ari.Intake{}
	o.holding("pbx2", second, secondIn)
	if c, in := o.adminReader(); c != second || in != secondIn {
		t.Errorf("reading pbx2 only, the admin page shows another reader")
	}
	o.holding("pbx1", first, firstIn)
	if c, in := o.adminReader(); c != first || in != firstIn {
		t.Errorf("reading both boxes, the admin page does not show the first box's reader")
	}
	o.holding("pbx1", nil, nil)
	if c, _ := o.adminReader(); c != second {
		t.Errorf("having given pbx1 up, the admin page does not show the box still read (pbx2)")
	}
	o.holding("pbx2", nil, nil)
	if c, in := o.adminReader(); c != first || in != firstIn {
		t.Errorf("reading no box, the admin page does not show the last reader of the first box")
	}
}

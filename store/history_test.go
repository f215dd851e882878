package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

type historyStore interface {
	callbackStore
	ClientCalls(ctx context.Context, clientID int64, limit int) ([]screenpop.ClientCall, error)
}

func TestClientCalls(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name+" lists a client's calls on all their numbers, newest first", func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b).(historyStore)
			ctx := t.Context()
			ids, err := s.ImportClients(ctx, []screenpop.ClientHistory{
				{Client: screenpop.Client{LastName: "Петров", FirstName: "Иван", Phones: []string{ivan, "+79167654321"}}},
				{Client: screenpop.Client{LastName: "Смирнова", FirstName: "Мария", Phones: []string{maria}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			calls := []screenpop.Call{
				inbound("h1", ivan, "74951112233", 0, screenpop.StatusMissed),
				outbound("h2", ivan, 5, screenpop.StatusAnswered),
				inbound("h3", "+79167654321", "74957778899", 9, screenpop.StatusAnswered),
				inbound("h4", maria, "74951112233", 7, screenpop.StatusAnswered),
			}
			if err := s.SaveCalls(ctx, calls); err != nil {
				t.Fatal(err)
			}
			got, err := s.ClientCalls(ctx, ids[0], 10)
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, c := range got {
				order = append(order, c.CallID+"/"+string(c.Direction)+"/"+string(c.Status)+"/"+c.Number)
			}
			want := []string{"h3/inbound/answered/+79167654321", "h2/outbound/answered/" + ivan, "h1/inbound/missed/" + ivan}
			if !slices.Equal(order, want) {
				t.Errorf("history %v, want %v", order, want)
			}
			if !got[2].StartedAt.Equal(min_(0)) {
				t.Errorf("h1 started at %v, want %v", got[2].StartedAt, min_(0))
			}
			if few, _ := s.ClientCalls(ctx, ids[0], 1); len(few) != 1 || few[0].CallID != "h3" {
				t.Errorf("limit 1 gave %v", few)
			}
			if none, err := s.ClientCalls(ctx, 999999, 10); err != nil || none == nil || len(none) != 0 {
				t.Errorf("an unknown client gave %v, %v; want an empty list", none, err)
			}
		})
	}
}

// shifted is the call moved to have ended ago before now.
func shifted(c screenpop.Call, ago time.Duration) screenpop.Call {
	d := time.Now().Add(-ago).Sub(c.EndedAt)
	c.StartedAt, c.EndedAt = c.StartedAt.Add(d), c.EndedAt.Add(d)
	if c.AnsweredAt != nil {
		c.AnsweredAt = ptrTime(c.AnsweredAt.Add(d))
	}
	return c
}

// TestAFreshAccessOpensTheClientsTheCallLogSaysTheOperatorServed: after a
// restart the ledger knows nothing; the call log says who was offered,
// answered and talked to which client's call in the last 12 hours.
func TestAFreshAccessOpensTheClientsTheCallLogSaysTheOperatorServed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, b)
			ctx := t.Context()
			ids, err := s.(historyStore).ImportClients(ctx, []screenpop.ClientHistory{
				{Client: screenpop.Client{LastName: "de Vries", FirstName: "Jan", Phones: []string{"+31612345678"}}},
				{Client: screenpop.Client{LastName: "Смирнова", FirstName: "Мария", Phones: []string{maria}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			// Offered to alice, answered by bob, transferred to carol, an
			// hour ago; Мария's call to bob ended 13 hours ago.
			old := answeredCall("served-old")
			old.Caller, old.CallerE164 = maria, ptr(maria)
			save(t, s, shifted(answeredCall("served-1"), time.Hour), shifted(old, 13*time.Hour))

			a := screenpop.NewAccess()
			a.Log = s.(screenpop.ServedLog)
			for _, tt := range []struct {
				op     string
				client int64
				want   bool
			}{
				{"alice", ids[0], true}, {"bob", ids[0], true}, {"carol", ids[0], true},
				{"dave", ids[0], false}, {"bob", ids[1], false}, {"", ids[0], false},
			} {
				ok, err := a.ClientReadable(ctx, tt.op, tt.client)
				if err != nil || ok != tt.want {
					t.Errorf("%q reading client %d: %t, %v; want %t", tt.op, tt.client, ok, err, tt.want)
				}
			}
			s.Close()
			if ok, err := a.ClientReadable(ctx, "bob", ids[0]); err == nil || ok {
				t.Errorf("with the store closed: %t, %v; want an error", ok, err)
			}
		})
	}
}

package store

import (
	"context"
	"slices"
	"testing"

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

package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

// notebook is what the suite asks of a store for operators' notes, leads
// and complaints.
type notebook interface {
	clientBase
	screenpop.Leads
	UpdateLead(ctx context.Context, id int64, u screenpop.LeadUpdate) (screenpop.Client, error)
	SaveNote(ctx context.Context, n screenpop.Note) (screenpop.Note, error)
	CloseComplaint(ctx context.Context, id int64, reason string, by screenpop.Operator, at time.Time) (int64, error)
}

func asNotebook(tb testing.TB, s callStore) notebook {
	tb.Helper()
	nb, ok := s.(notebook)
	if !ok {
		tb.Fatalf("%T keeps no notes", s)
	}
	return nb
}

func openNotebook(tb testing.TB, b backend) notebook {
	tb.Helper()
	return asNotebook(tb, openMigrated(tb, b))
}

// countPhone counts the clients who have the number.
func countPhone(tb testing.TB, s callStore, e164 string) int {
	tb.Helper()
	return len(queryStrings(tb, s,
		fmt.Sprintf(`SELECT client_id::text FROM client_phones WHERE e164 = '%s'`, e164),
		fmt.Sprintf(`SELECT CAST(client_id AS TEXT) FROM client_phones WHERE e164 = '%s'`, e164)))
}

// ensureAll asks for the number's lead from n goroutines at once, spread
// over the stores given, and returns the lead IDs they got.
func ensureAll(t *testing.T, n int, e164 string, stores ...notebook) []int64 {
	t.Helper()
	ids := make([]int64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			rec, ok, err := stores[i%len(stores)].EnsureLead(t.Context(), e164)
			if err == nil && !ok {
				err = errors.New("EnsureLead made no lead of an unknown number")
			}
			ids[i], errs[i] = rec.ID, err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("EnsureLead: %v", err)
	}
	return ids
}

func TestLeads(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testLeads(t, b)
		})
	}
}

func testLeads(t *testing.T, b backend) {
	const unknown = "+79265551234"

	t.Run("an unknown number becomes a lead with that phone, once, however often it calls", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		first, ok, err := s.EnsureLead(t.Context(), unknown)
		if err != nil || !ok {
			t.Fatalf("EnsureLead = %v, %v; want a lead", ok, err)
		}
		want := screenpop.ClientRecord{
			Client:            screenpop.Client{ID: first.ID, Phones: []string{unknown}, Cars: []screenpop.Car{}, Lead: true},
			OpenComplaintList: []screenpop.Complaint{},
		}
		if diff := cmp.Diff(want, first); diff != "" || first.ID == 0 {
			t.Errorf("EnsureLead (-want +got):\n%s", diff)
		}
		again, ok, err := s.EnsureLead(t.Context(), unknown)
		if err != nil || !ok || again.ID != first.ID {
			t.Errorf("EnsureLead again = client %d, %v, %v; want the same lead %d", again.ID, ok, err, first.ID)
		}
		recs, err := s.LookupPhone(t.Context(), unknown)
		if err != nil || len(recs) != 1 || recs[0].ID != first.ID || !recs[0].Lead {
			t.Errorf("LookupPhone(%s) = %+v, %v; want the lead", unknown, recs, err)
		}
		if n := countRows(t, s, "clients", ""); n != 1 {
			t.Errorf("clients has %d rows, want the one lead", n)
		}
	})

	t.Run("twenty goroutines asking at once for a new number make exactly one lead", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		ids := ensureAll(t, 20, unknown, s)
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("EnsureLead gave leads %v, want one", ids)
			}
		}
		if n := countRows(t, s, "clients", ""); n != 1 {
			t.Errorf("clients has %d rows, want one lead", n)
		}
		if n := countPhone(t, s, unknown); n != 1 {
			t.Errorf("%d clients have the number, want one", n)
		}
	})

	t.Run("two daemons on one database asking at once make exactly one lead", func(t *testing.T) {
		t.Parallel()
		open := b.fresh(t)
		first := open()
		if err := first.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		// Each handle is its own connection pool, as each daemon has.
		a, c := asNotebook(t, first), asNotebook(t, open())
		ids := ensureAll(t, 20, unknown, a, c)
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("EnsureLead gave leads %v, want one", ids)
			}
		}
		if n := countRows(t, a, "clients", ""); n != 1 {
			t.Errorf("clients has %d rows, want one lead", n)
		}
		if n := countRows(t, a, "leads", ""); n != 1 {
			t.Errorf("leads has %d rows, want one", n)
		}
	})

	t.Run("a client's number makes no lead", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		ivan, _ := petrovs(time.Now().UTC())
		if _, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan}); err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		rec, ok, err := s.EnsureLead(t.Context(), ivan.Phones[0])
		if err != nil || ok {
			t.Errorf("EnsureLead(Иван's number) = %+v, %v, %v; want no lead and no error", rec, ok, err)
		}
		if n := countRows(t, s, "clients", ""); n != 1 {
			t.Errorf("clients has %d rows, want Иван alone", n)
		}
		if n := countRows(t, s, "leads", ""); n != 0 {
			t.Errorf("leads has %d rows, want none", n)
		}
	})

	t.Run("a number not in E.164 makes no lead", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		if _, _, err := s.EnsureLead(t.Context(), "89265551234"); err == nil {
			t.Error("EnsureLead(89265551234) made a lead of a national number")
		}
	})

	t.Run("an operator names a lead and adds their car; the lead stays a lead", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		lead, _, err := s.EnsureLead(t.Context(), unknown)
		if err != nil {
			t.Fatalf("EnsureLead: %v", err)
		}
		u := screenpop.LeadUpdate{LastName: "Сидоров", FirstName: "Пётр", Patronymic: "Ильич",
			Car: &screenpop.Car{Make: "Kia", Model: "Rio", Plate: "В777ОР77"}}
		if _, err := s.UpdateLead(t.Context(), lead.ID, u); err != nil {
			t.Fatalf("UpdateLead: %v", err)
		}
		// Saved again with the model corrected: the same car, changed.
		u.Car.Model = "Ceed"
		got, err := s.UpdateLead(t.Context(), lead.ID, u)
		if err != nil {
			t.Fatalf("UpdateLead: %v", err)
		}
		want := screenpop.Client{ID: lead.ID, LastName: "Сидоров", FirstName: "Пётр", Patronymic: "Ильич",
			Phones: []string{unknown}, Cars: []screenpop.Car{{Make: "Kia", Model: "Ceed", Plate: "В777ОР77"}}, Lead: true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UpdateLead (-want +got):\n%s", diff)
		}
		recs, err := s.LookupPhone(t.Context(), unknown)
		if err != nil || len(recs) != 1 || recs[0].Greeting() != "Пётр Ильич" || !recs[0].Lead {
			t.Errorf("LookupPhone after naming = %+v, %v; want the lead greeted as Пётр Ильич", recs, err)
		}
	})

	t.Run("only a lead's name can be changed this way", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		ivan, _ := petrovs(time.Now().UTC())
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		u := screenpop.LeadUpdate{LastName: "Подменов"}
		if _, err := s.UpdateLead(t.Context(), ids[0], u); !errors.Is(err, screenpop.ErrNotLead) {
			t.Errorf("UpdateLead(Иван) = %v, want ErrNotLead", err)
		}
		if _, err := s.UpdateLead(t.Context(), ids[0]+100, u); !errors.Is(err, screenpop.ErrUnknownClient) {
			t.Errorf("UpdateLead(no such client) = %v, want ErrUnknownClient", err)
		}
		got, _ := s.Client(t.Context(), ids[0])
		if got.LastName != "Петров" {
			t.Errorf("Иван's last name is now %q", got.LastName)
		}
	})

	t.Run("twenty calls at once from one unknown number pop one lead", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		hub := screenpop.NewHub(0, 0)
		p := screenpop.NewPopper(s, screenpop.DefaultCardRules, hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
		p.Leads = s
		sub := hub.Subscribe("101", 0)
		<-sub.C // the snapshot
		caller := screenpop.ParseNumber("8 926 555-12-34", "RU")
		const calls = 20
		for i := range calls {
			id := fmt.Sprintf("call-%d", i)
			p.Notice(screenpop.Notice{Kind: screenpop.NoticeStarted, CallID: id, Caller: caller, At: time.Now()})
			p.Notice(screenpop.Notice{Kind: screenpop.NoticeRinging, CallID: id, Caller: caller, Operator: "101"})
		}
		p.Wait()
		cards := map[string]screenpop.Card{}
		for len(sub.C) > 0 {
			m := <-sub.C
			cards[m.Call.ID] = m.Call.Card
		}
		if len(cards) != calls {
			t.Fatalf("operator 101 saw %d calls, want %d", len(cards), calls)
		}
		var leadID int64
		for id, card := range cards {
			// The first lookups find nobody and pop the lead they make;
			// later ones may find the lead already there.
			if card.Lookup == screenpop.LookupPending || len(card.Clients) != 1 || !card.Clients[0].Lead {
				t.Fatalf("%s: card %s with %d clients, want the lead", id, card.Lookup, len(card.Clients))
			}
			if leadID == 0 {
				leadID = card.Clients[0].ID
			}
			if card.Clients[0].ID != leadID {
				t.Errorf("%s pops lead %d, another pops %d: want one lead", id, card.Clients[0].ID, leadID)
			}
		}
		if n := countRows(t, s, "clients", ""); n != 1 {
			t.Errorf("clients has %d rows after 20 calls, want one lead", n)
		}
	})
}

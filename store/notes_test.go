package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/screenpop"
)

var (
	anna  = screenpop.Operator{ID: 1, Name: "Анна Смирнова", Extension: "101"}
	boris = screenpop.Operator{ID: 2, Name: "Борис Волков", Extension: "102"}
)

var purposes = screenpop.Purposes{List: []string{"service_booking", "sales", "complaint", "other"}, Complaint: "complaint"}

// note is what the operators' API makes of an operator's note.
func note(t *testing.T, callID string, clientID int64, purpose, text string, op screenpop.Operator, at time.Time) screenpop.Note {
	t.Helper()
	n, err := purposes.NewNote(callID, clientID, purpose, text, op, at)
	if err != nil {
		t.Fatalf("NewNote: %v", err)
	}
	return n
}

// lookupOne looks up a number that one client has.
func lookupOne(t *testing.T, s notebook, e164 string) screenpop.ClientRecord {
	t.Helper()
	recs, err := s.LookupPhone(t.Context(), e164)
	if err != nil || len(recs) != 1 {
		t.Fatalf("LookupPhone(%s) = %d clients, %v; want one", e164, len(recs), err)
	}
	return recs[0]
}

func TestNotes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testNotes(t, b)
		})
	}
}

func testNotes(t *testing.T, b backend) {
	// importIvan imports Иван Петров, whose last contact was three days
	// ago and who has two open complaints, and returns his ID.
	importIvan := func(t *testing.T, s notebook) (int64, screenpop.ClientHistory) {
		t.Helper()
		ivan, _ := petrovs(time.Now().UTC().Truncate(time.Minute))
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{ivan})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		return ids[0], ivan
	}

	t.Run("a note on a call becomes the client's last contact, the next pop shows it", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		id, ivan := importIvan(t, s)
		now := time.Now().UTC().Truncate(time.Millisecond)
		saved, err := s.SaveNote(t.Context(), note(t, "call-1", id, "service_booking", "Записать на ТО в субботу", anna, now))
		if err != nil {
			t.Fatalf("SaveNote: %v", err)
		}
		if saved.ComplaintID != 0 {
			t.Errorf("a service booking opened complaint %d", saved.ComplaintID)
		}
		got := lookupOne(t, s, ivan.Phones[0])
		want := &screenpop.Contact{At: now, Channel: "phone", Employee: "Анна Смирнова", Summary: "Запись на сервис: Записать на ТО в субботу"}
		if diff := cmp.Diff(want, got.LastContact, sameTime); diff != "" {
			t.Errorf("last contact (-want +got):\n%s", diff)
		}
		card := screenpop.DefaultCardRules.NewClientCard(got, now)
		if card.LastContact == nil || card.LastContact.Summary != want.Summary {
			t.Errorf("the card's last contact is %+v", card.LastContact)
		}
	})

	t.Run("noting a call again changes its contact rather than adding one, and records who wrote it last", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		id, ivan := importIvan(t, s)
		before := countRows(t, s, "contacts", "")
		now := time.Now().UTC()
		if _, err := s.SaveNote(t.Context(), note(t, "call-1", id, "sales", "Интересуется Sportage", anna, now)); err != nil {
			t.Fatalf("SaveNote: %v", err)
		}
		if _, err := s.SaveNote(t.Context(), note(t, "call-1", id, "sales", "Интересуется Sorento", boris, now.Add(time.Minute))); err != nil {
			t.Fatalf("SaveNote again: %v", err)
		}
		if n := countRows(t, s, "contacts", ""); n != before+1 {
			t.Errorf("contacts went from %d to %d rows, want one more", before, n)
		}
		if n := countRows(t, s, "call_notes", "call-1"); n != 1 {
			t.Errorf("call-1 has %d notes, want 1", n)
		}
		got := lookupOne(t, s, ivan.Phones[0])
		if got.LastContact == nil || got.LastContact.Summary != "Покупка автомобиля: Интересуется Sorento" || got.LastContact.Employee != "Борис Волков" {
			t.Errorf("last contact %+v, want Борис's corrected note", got.LastContact)
		}
		writer := queryStrings(t, s, `SELECT operator || ' ' || operator_name FROM call_notes`, `SELECT operator || ' ' || operator_name FROM call_notes`)
		if diff := cmp.Diff([]string{"102 Борис Волков"}, writer); diff != "" {
			t.Errorf("the note's writer (-want +got):\n%s", diff)
		}
	})

	t.Run("a complaint purpose opens a complaint that shows until an operator closes it", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		_, annaP := petrovs(time.Now().UTC())
		ids, err := s.ImportClients(t.Context(), []screenpop.ClientHistory{annaP})
		if err != nil {
			t.Fatalf("ImportClients: %v", err)
		}
		number := annaP.Phones[0]
		if got := lookupOne(t, s, number); got.OpenComplaints != 0 {
			t.Fatalf("Анна starts with %d open complaints", got.OpenComplaints)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		saved, err := s.SaveNote(t.Context(), note(t, "call-7", ids[0], "complaint", "Машину вернули грязной", boris, now))
		if err != nil {
			t.Fatalf("SaveNote: %v", err)
		}
		// Saving it again opens no second complaint.
		if again, err := s.SaveNote(t.Context(), note(t, "call-7", ids[0], "complaint", "Машину вернули грязной после ТО", boris, now)); err != nil || again.ComplaintID != saved.ComplaintID {
			t.Fatalf("SaveNote again = complaint %d, %v; want the same complaint %d", again.ComplaintID, err, saved.ComplaintID)
		}
		got := lookupOne(t, s, number)
		want := []screenpop.Complaint{{ID: saved.ComplaintID, OpenedAt: now, Summary: "Жалоба: Машину вернули грязной после ТО"}}
		if diff := cmp.Diff(want, got.OpenComplaintList, sameTime); diff != "" || got.OpenComplaints != 1 || saved.ComplaintID == 0 {
			t.Errorf("after the complaint: %d open, list (-want +got):\n%s", got.OpenComplaints, diff)
		}
		alerts := screenpop.DefaultCardRules.NewClientCard(got, now).Alerts
		if len(alerts) == 0 || alerts[0].Kind != screenpop.AlertOpenComplaint {
			t.Errorf("the card's alerts are %+v, want the open complaint", alerts)
		}

		clientID, err := s.CloseComplaint(t.Context(), saved.ComplaintID, "Помыли, извинились", anna, now.Add(time.Hour))
		if err != nil || clientID != ids[0] {
			t.Fatalf("CloseComplaint = client %d, %v; want Анна's %d", clientID, err, ids[0])
		}
		got = lookupOne(t, s, number)
		if got.OpenComplaints != 0 || len(got.OpenComplaintList) != 0 {
			t.Errorf("after closing: %d open complaints %+v, want none", got.OpenComplaints, got.OpenComplaintList)
		}
		for _, a := range screenpop.DefaultCardRules.NewClientCard(got, now).Alerts {
			if a.Kind == screenpop.AlertOpenComplaint {
				t.Error("the card still shows the open complaint")
			}
		}
		h, err := s.Client(t.Context(), ids[0])
		if err != nil || len(h.Complaints) != 1 || h.Complaints[0].ClosedAt == nil || !h.Complaints[0].ClosedAt.Equal(now.Add(time.Hour)) {
			t.Errorf("Client().Complaints = %+v, %v; want the one complaint closed an hour later", h.Complaints, err)
		}
		closedBy := queryStrings(t, s, `SELECT closed_by || ': ' || close_reason FROM complaints`, `SELECT closed_by || ': ' || close_reason FROM complaints`)
		if diff := cmp.Diff([]string{"Анна Смирнова: Помыли, извинились"}, closedBy); diff != "" {
			t.Errorf("who closed it and why (-want +got):\n%s", diff)
		}

		if _, err := s.CloseComplaint(t.Context(), saved.ComplaintID, "ещё раз", anna, now); !errors.Is(err, screenpop.ErrComplaintClosed) {
			t.Errorf("closing it again: %v, want ErrComplaintClosed", err)
		}
		if _, err := s.CloseComplaint(t.Context(), saved.ComplaintID+100, "нет такой", anna, now); !errors.Is(err, screenpop.ErrUnknownComplaint) {
			t.Errorf("closing no such complaint: %v, want ErrUnknownComplaint", err)
		}
	})

	t.Run("a note without a client stays with the call and touches no client", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		importIvan(t, s)
		before := countRows(t, s, "contacts", "")
		if _, err := s.SaveNote(t.Context(), note(t, "call-anon", 0, "other", "Номер скрыт, спрашивал часы работы", anna, time.Now())); err != nil {
			t.Fatalf("SaveNote: %v", err)
		}
		if n := countRows(t, s, "call_notes", "call-anon"); n != 1 {
			t.Errorf("call-anon has %d notes, want 1", n)
		}
		if n := countRows(t, s, "contacts", ""); n != before {
			t.Errorf("contacts went from %d to %d rows", before, n)
		}
	})

	t.Run("a note about a client who does not exist is refused and leaves nothing", func(t *testing.T) {
		t.Parallel()
		s := openNotebook(t, b)
		id, _ := importIvan(t, s)
		_, err := s.SaveNote(t.Context(), note(t, "call-1", id+100, "complaint", "?", anna, time.Now()))
		if !errors.Is(err, screenpop.ErrUnknownClient) {
			t.Errorf("SaveNote for no such client: %v, want ErrUnknownClient", err)
		}
		for _, table := range []string{"call_notes"} {
			if n := countRows(t, s, table, ""); n != 0 {
				t.Errorf("%s has %d rows", table, n)
			}
		}
	})
}

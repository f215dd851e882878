package screenpop

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewNote(t *testing.T) {
	ps := Purposes{List: []string{"service_booking", "complaint", "trade_in"}, Complaint: "complaint"}
	anna := Operator{ID: 1, Name: "Анна Смирнова", Extension: "101"}
	tests := []struct {
		name     string
		clientID int64
		purpose  string
		text     string
		want     Note
		wantErr  string
	}{
		{"a default purpose is labelled in Russian before the note", 7, "service_booking", "  Записать на ТО  ",
			Note{CallID: "c1", ClientID: 7, Purpose: "service_booking", Text: "Записать на ТО", Operator: anna, At: today,
				Summary: "Запись на сервис: Записать на ТО"}, ""},
		{"a purpose of the dealership's own is its own label, and a note may be empty", 7, "trade_in", "",
			Note{CallID: "c1", ClientID: 7, Purpose: "trade_in", Operator: anna, At: today, Summary: "trade_in"}, ""},
		{"the complaint purpose opens a complaint", 7, "complaint", "Шумит",
			Note{CallID: "c1", ClientID: 7, Purpose: "complaint", Text: "Шумит", Operator: anna, At: today,
				Summary: "Жалоба: Шумит", OpensComplaint: true}, ""},
		{"a call without a client can be noted", 0, "service_booking", "",
			Note{CallID: "c1", Purpose: "service_booking", Operator: anna, At: today, Summary: "Запись на сервис"}, ""},
		{"a purpose not configured is refused, naming those that are", 7, "parts", "", Note{},
			`purpose "parts" is not one of service_booking, complaint, trade_in`},
		{"a complaint needs a client", 0, "complaint", "Шумит", Note{}, "a complaint needs the client"},
		{"a note too long is refused", 7, "service_booking", strings.Repeat("я", 2001), Note{}, "2001 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ps.NewNote("c1", tt.clientID, tt.purpose, tt.text, anna, today)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("NewNote: %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewNote: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewNote (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeadUpdateCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      LeadUpdate
		want    LeadUpdate
		wantErr string
	}{
		{"names are trimmed and the plate written as on the car",
			LeadUpdate{LastName: " Сидоров ", FirstName: "Пётр", Car: &Car{Make: "Kia ", Model: "Rio", Plate: "в 777 ор 77"}},
			LeadUpdate{LastName: "Сидоров", FirstName: "Пётр", Car: &Car{Make: "Kia", Model: "Rio", Plate: "В777ОР77"}}, ""},
		{"an empty car is no car", LeadUpdate{FirstName: "Пётр", Car: &Car{}}, LeadUpdate{FirstName: "Пётр"}, ""},
		{"nothing at all is refused", LeadUpdate{LastName: " ", Car: &Car{}}, LeadUpdate{}, "type the client's name or their car"},
		{"a name too long is refused", LeadUpdate{LastName: strings.Repeat("я", 101)}, LeadUpdate{}, "last name is longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Check()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Check: %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClosingAComplaintTakesAReason(t *testing.T) {
	if _, err := CheckResolution("  "); err == nil {
		t.Error("a blank reason was taken")
	}
	if r, err := CheckResolution(" Извинились, скидка 10% "); err != nil || r != "Извинились, скидка 10%" {
		t.Errorf("CheckResolution = %q, %v", r, err)
	}
}

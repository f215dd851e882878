package screenpop

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// fakeBase is a client base that makes leads: numbers map to clients, and
// a lead it makes is found from then on.
type fakeBase struct {
	mu      sync.Mutex
	clients map[string][]ClientRecord
	failing error // LookupPhone fails with it, if set
	leadErr error // EnsureLead fails with it, if set
	ensured int
}

func (b *fakeBase) LookupPhone(ctx context.Context, e164 string) ([]ClientRecord, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failing != nil {
		return nil, b.failing
	}
	return b.clients[e164], nil
}

func (b *fakeBase) EnsureLead(ctx context.Context, e164 string) (ClientRecord, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ensured++
	if b.leadErr != nil {
		return ClientRecord{}, false, b.leadErr
	}
	if recs := b.clients[e164]; len(recs) > 0 {
		if recs[0].Lead {
			return recs[0], true, nil
		}
		return ClientRecord{}, false, nil
	}
	lead := ClientRecord{Client: Client{ID: 900, Phones: []string{e164}, Lead: true}}
	b.clients[e164] = []ClientRecord{lead}
	return lead, true, nil
}

func (b *fakeBase) set(e164 string, recs ...ClientRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients[e164] = recs
}

// popCard pops a call from caller on operator 101 and returns the card
// once the lookup is done.
func popCard(t *testing.T, p *Popper, sub *Subscription, callID, caller string) Card {
	t.Helper()
	num := ParseNumber(caller, "RU")
	p.Notice(Notice{Kind: NoticeStarted, CallID: callID, Caller: num, At: today})
	p.Wait()
	p.Notice(Notice{Kind: NoticeRinging, CallID: callID, Caller: num, Operator: "101"})
	m := next(t, sub)
	if m.Type != MsgOffered || m.Call.ID != callID {
		t.Fatalf("got %s of %s, want the pop of %s", m.Type, m.Call.ID, callID)
	}
	return m.Call.Card
}

func TestAnUnknownCallerPopsAsANewLead(t *testing.T) {
	tests := []struct {
		name        string
		base        *fakeBase
		wantLookup  string
		wantClients []int64
	}{
		{"an unknown number pops unknown, with the lead made of it",
			&fakeBase{clients: map[string][]ClientRecord{}}, LookupUnknown, []int64{900}},
		{"a lead that cannot be made leaves the pop unknown, without a lead",
			&fakeBase{clients: map[string][]ClientRecord{}, leadErr: errors.New("disk full")}, LookupUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, hub := newPopperTest(tt.base)
			p.Leads = tt.base
			sub := hub.Subscribe("101", 0)
			next(t, sub)
			card := popCard(t, p, sub, "c1", "89265551234")
			var ids []int64
			for _, c := range card.Clients {
				ids = append(ids, c.ID)
				if !c.Lead || c.Segment != SegmentPotential {
					t.Errorf("client %d: lead %v, segment %s; want a potential lead", c.ID, c.Lead, c.Segment)
				}
			}
			if card.Lookup != tt.wantLookup || !equalIDs(ids, tt.wantClients) {
				t.Errorf("card %s with clients %v, want %s with %v", card.Lookup, ids, tt.wantLookup, tt.wantClients)
			}
		})
	}

	t.Run("a known caller and a withheld one make no lead", func(t *testing.T) {
		base := &fakeBase{clients: map[string][]ClientRecord{"+79161234567": {{Client: Client{ID: 7, FirstName: "Иван"}}}}}
		p, hub := newPopperTest(base)
		p.Leads = base
		sub := hub.Subscribe("101", 0)
		next(t, sub)
		if card := popCard(t, p, sub, "c1", "+79161234567"); card.Lookup != LookupFound {
			t.Errorf("Иван's card is %s", card.Lookup)
		}
		if card := popCard(t, p, sub, "c2", "anonymous"); card.Lookup != LookupWithheld {
			t.Errorf("a withheld caller's card is %s", card.Lookup)
		}
		if base.ensured != 0 {
			t.Errorf("EnsureLead was asked %d times", base.ensured)
		}
	})

	t.Run("a number that became a client's meanwhile pops that client", func(t *testing.T) {
		dir := &racingDirectory{after: []ClientRecord{{Client: Client{ID: 8, FirstName: "Олег"}}}}
		p, hub := newPopperTest(dir)
		p.Leads = dir
		sub := hub.Subscribe("101", 0)
		next(t, sub)
		card := popCard(t, p, sub, "c1", "+79265551234")
		if card.Lookup != LookupFound || len(card.Clients) != 1 || card.Clients[0].ID != 8 {
			t.Errorf("card %s %+v, want Олег found", card.Lookup, card.Clients)
		}
	})
}

// racingDirectory finds nobody the first time, then the client an import
// added meanwhile; it makes no lead of a client's number.
type racingDirectory struct {
	after []ClientRecord
	asked int
}

func (d *racingDirectory) LookupPhone(ctx context.Context, e164 string) ([]ClientRecord, error) {
	d.asked++
	if d.asked == 1 {
		return nil, nil
	}
	return d.after, nil
}

func (d *racingDirectory) EnsureLead(ctx context.Context, e164 string) (ClientRecord, bool, error) {
	return ClientRecord{}, false, nil
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRefreshRedrawsThePopsThatShowTheClient(t *testing.T) {
	ivan := ClientRecord{Client: Client{ID: 7, FirstName: "Иван", Patronymic: "Петрович"}}
	anna := ClientRecord{Client: Client{ID: 9, FirstName: "Анна"}}
	base := &fakeBase{clients: map[string][]ClientRecord{"+79161234567": {ivan}, "+79031112233": {anna}}}
	p, hub := newPopperTest(base)
	sub := hub.Subscribe("101", 0)
	next(t, sub)
	popCard(t, p, sub, "ivan", "+79161234567")
	popCard(t, p, sub, "anna", "+79031112233")

	// An operator notes the call: Иван's card now has the contact.
	ivan.LastContact = &Contact{At: today, Channel: "phone", Employee: "Анна Смирнова", Summary: "Жалоба: шумит"}
	ivan.OpenComplaints = 1
	base.set("+79161234567", ivan)
	p.Refresh(7)
	p.Wait()
	m := next(t, sub)
	if m.Type != MsgCard || m.Call.ID != "ivan" {
		t.Fatalf("got %s of %s, want Иван's card redrawn", m.Type, m.Call.ID)
	}
	c := m.Call.Card.Clients[0]
	if c.LastContact == nil || c.LastContact.Summary != "Жалоба: шумит" || len(c.Alerts) == 0 || c.Alerts[0].Kind != AlertOpenComplaint {
		t.Errorf("Иван's redrawn card: last contact %+v, alerts %+v", c.LastContact, c.Alerts)
	}

	// A refresh that fails leaves the card as it was.
	base.failing = errors.New("connection refused")
	p.Refresh(7)
	p.Wait()
	select {
	case m := <-sub.C:
		t.Errorf("a failed refresh sent %s with card %s", m.Type, m.Call.Card.Lookup)
	default:
	}
	card, _ := p.Card(t.Context(), "ivan")
	if card.Lookup != LookupFound || card.Clients[0].LastContact == nil {
		t.Errorf("after a failed refresh the card is %s %+v", card.Lookup, card.Clients)
	}

	// A client on no call redraws nothing.
	base.failing = nil
	p.Refresh(12345)
	p.Wait()
	if len(sub.C) != 0 {
		t.Errorf("refreshing a client on no call sent %d messages", len(sub.C))
	}
}

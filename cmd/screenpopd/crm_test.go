package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

func TestCRMConfigIsCheckedWithTheRest(t *testing.T) {
	const dsn = "postgres://crm_ro:Crm-pw-secret@crm.local/crm"
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a query without a DSN", []string{"--crm-query", "SELECT 1 WHERE $1 = ''"}, "crm.dsn: must be set for crm.query to be used"},
		{"a DSN without a query", []string{"--crm-dsn", dsn}, "crm.query: must be set with crm.dsn"},
		{"a query without the number", []string{"--crm-dsn", dsn, "--crm-query", "SELECT 1"}, "crm.query: must take the caller's number as $1"},
		{"a query with a third parameter", []string{"--crm-dsn", dsn, "--crm-query", "SELECT $1, $3"}, "found $3"},
		{"a DSN that is not PostgreSQL's", []string{"--crm-dsn", "mysql:crm", "--crm-query", "SELECT $1"}, "crm.dsn: want a PostgreSQL URL"},
		{"a timeout that is not positive", []string{"--crm-timeout", "0s"}, "crm.timeout: must be positive"},
	} {
		t.Run(tt.name+" is reported with its key", func(t *testing.T) {
			_, err := load(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("load: %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "Crm-pw-secret") {
				t.Errorf("the error shows the CRM's password: %v", err)
			}
		})
	}
	t.Run("a CRM from the environment loads, and its password never prints", func(t *testing.T) {
		t.Setenv("SCREENPOP_CRM_DSN", dsn)
		t.Setenv("SCREENPOP_CRM_QUERY", "SELECT id AS client_id, name AS full_name FROM clients WHERE phone = $1")
		cfg, err := load(t, "--crm-timeout", "150ms")
		if err != nil {
			t.Fatal(err)
		}
		if string(cfg.CRMDSN) != dsn || cfg.CRMTimeout != 150*time.Millisecond || !strings.HasPrefix(cfg.CRMQuery, "SELECT id") {
			t.Errorf("loaded %q, %v, %q", string(cfg.CRMDSN), cfg.CRMTimeout, cfg.CRMQuery)
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg)
		if s := fmt.Sprintf("%v %+v %s", cfg, cfg, logged.String()); strings.Contains(s, "Crm-pw-secret") {
			t.Errorf("the CRM's password was printed: %s", s)
		}
	})
}

// crmDatabase makes a CRM in a schema of its own and returns its DSN.
func crmDatabase(t *testing.T) string {
	t.Helper()
	dsn := freshSchema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `
		CREATE TABLE klienty (id int PRIMARY KEY, fio text, telefon text, menedzher text);
		CREATE TABLE mashiny (klient int REFERENCES klienty, marka text, model text, nomer text, garantiya date);
		INSERT INTO klienty VALUES (7, 'Орлов Игорь Петрович', '8 916 123 45 67', 'Соколова Анна'),
			(8, 'Медленный Клиент', '+7 999 000 00 01', NULL);
		INSERT INTO mashiny VALUES (7, 'Kia', 'Sportage', 'В777ВВ77', '2027-01-31');`); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// crmTestQuery finds clients by the last ten digits; +79990000001 is a
// client the CRM takes two seconds to find.
const crmTestQuery = `SELECT k.id AS client_id, k.fio AS full_name, k.menedzher AS manager,
	m.marka AS make, m.model, m.nomer AS plate, m.garantiya AS warranty_end
FROM klienty k LEFT JOIN mashiny m ON m.klient = k.id,
	LATERAL (SELECT pg_sleep(CASE WHEN $1 = '+79990000001' THEN 2 ELSE 0 END)) slow
WHERE right(regexp_replace(k.telefon, '\D', '', 'g'), 10) = $2`

// logBuffer is a log the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// popper is the pop as serve wires it, on the directory clientDirectory
// gives: it returns a function that places a call from a number and
// returns its card as the operator sees it, and the log.
func crmPopper(t *testing.T, crmArgs ...string) (call func(raw string) screenpop.Card, log *logBuffer) {
	t.Helper()
	storeArgs := []string{"--store-data-dir", t.TempDir()}
	s := openTestStore(t, storeArgs)
	cfg, err := load(t, append(storeArgs, crmArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	log = &logBuffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	dir, closeDir, err := clientDirectory(t.Context(), cfg, s, logger)
	if err != nil {
		t.Fatalf("clientDirectory: %v", err)
	}
	hub := screenpop.NewHub(0, 0)
	popper := screenpop.NewPopper(dir, cfg.Card, hub, logger)
	popper.Leads = s.(screenpop.Leads)
	t.Cleanup(func() {
		popper.Wait()
		hub.Close()
		closeDir()
	})
	n := 0
	return func(raw string) screenpop.Card {
		n++
		id := fmt.Sprintf("1700000000.%d", n)
		popper.Notice(screenpop.Notice{Kind: screenpop.NoticeStarted, At: time.Now(), CallID: id, Caller: screenpop.ParseNumber(raw, "RU")})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		card, _ := popper.Card(ctx, id)
		return card
	}, log
}

// cardSays is a card as the operator reads it: the lookup, and each
// client's name, lead or not, cars and manager.
func cardSays(c screenpop.Card) []string {
	out := []string{c.Lookup}
	for _, cl := range c.Clients {
		s := cl.FullName
		if cl.Lead {
			s += " (lead)"
		}
		for _, car := range cl.Cars {
			s += fmt.Sprintf(" [%s %s %s %s]", car.Make, car.Model, car.Plate, showDate(car.WarrantyEnd))
		}
		if cl.Manager != nil {
			s += " manager " + cl.Manager.Name
		}
		out = append(out, s)
	}
	return out
}

func TestPopFromTheCRM(t *testing.T) {
	crm := crmDatabase(t)
	call, log := crmPopper(t, "--crm-dsn", crm, "--crm-query", crmTestQuery, "--crm-timeout", "300ms")

	t.Run("a client the CRM knows pops from the CRM", func(t *testing.T) {
		want := []string{"found", "Орлов Игорь Петрович [Kia Sportage В777ВВ77 2027-01-31] manager Соколова Анна"}
		if diff := cmp.Diff(want, cardSays(call("89161234567"))); diff != "" {
			t.Errorf("the card (-want +got):\n%s", diff)
		}
	})

	t.Run("a caller the CRM does not know becomes a lead in screenpop's store, and pops as one next time", func(t *testing.T) {
		if diff := cmp.Diff([]string{"unknown", " (lead)"}, cardSays(call("+7 926 111 22 33"))); diff != "" {
			t.Errorf("the first call's card (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"found", " (lead)"}, cardSays(call("89261112233"))); diff != "" {
			t.Errorf("the second call's card (-want +got):\n%s", diff)
		}
	})

	t.Run("a CRM slower than crm.timeout is given up on: the pop shows the caller unknown in time, and a warning is logged", func(t *testing.T) {
		start := time.Now()
		card := call("+79990000001")
		if took := time.Since(start); took > time.Second {
			t.Errorf("the card took %v, want about the 300ms timeout", took)
		}
		if card.Lookup != screenpop.LookupUnknown {
			t.Errorf("the card says %v, want unknown", cardSays(card))
		}
		got := log.String()
		for _, w := range []string{"level=WARN", "CRM lookup failed", "caller=***0001", "no answer within 300ms"} {
			if !strings.Contains(got, w) {
				t.Errorf("the log lacks %q:\n%s", w, got)
			}
		}
		if strings.Contains(got, "79990000001") {
			t.Errorf("the log shows the whole number:\n%s", got)
		}
		// The next lookup is quick again, and says so.
		if diff := cmp.Diff("found", call("89161234567").Lookup); diff != "" {
			t.Errorf("the next card (-want +got):\n%s", diff)
		}
		if !strings.Contains(log.String(), "the CRM answers lookups again") {
			t.Errorf("the recovery was not logged:\n%s", log.String())
		}
	})
}

func TestCRMDownOrWrongAtStart(t *testing.T) {
	t.Run("a CRM that is down does not stop the daemon: callers pop from the store", func(t *testing.T) {
		addr := freePort(t)
		call, log := crmPopper(t, "--crm-dsn", "postgres://crm:pw@"+addr+"/crm?sslmode=disable", "--crm-query", crmTestQuery)
		if !strings.Contains(log.String(), "the CRM is not reachable; callers are looked up in screenpop's own client base") {
			t.Errorf("the start did not say the CRM is down:\n%s", log.String())
		}
		if diff := cmp.Diff([]string{"unknown", " (lead)"}, cardSays(call("89161234567"))); diff != "" {
			t.Errorf("the card (-want +got):\n%s", diff)
		}
	})

	t.Run("a query whose columns do not fit stops the start, naming them", func(t *testing.T) {
		crm := crmDatabase(t)
		cfg, err := load(t, "--store-data-dir", t.TempDir(), "--crm-dsn", crm,
			"--crm-query", "SELECT id, fio AS fullname FROM klienty WHERE telefon = $1")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = clientDirectory(t.Context(), cfg, nil, discardLogger())
		for _, w := range []string{"crm.query: ", "unknown columns id, fullname", "no client_id column"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("clientDirectory: %v, want it to say %q", err, w)
			}
		}
	})
}

func TestCheckTriesTheCRM(t *testing.T) {
	crm := crmDatabase(t)
	for _, tt := range []struct {
		name, query, timeout string
		want                 []string
	}{
		{"a CRM that answers is ok, with the lookup's time and the columns", crmTestQuery, "300ms",
			[]string{"of the 300ms allowed; columns client_id, full_name, manager, make, model, plate, warranty_end"}},
		{"a query with an unknown column names it", "SELECT id AS client_id, fio AS fio FROM klienty WHERE telefon = $1", "300ms",
			[]string{"unknown columns fio", "crm.query"}},
		{"a query slower than the timeout says to index", "SELECT id AS client_id, fio AS full_name FROM klienty, pg_sleep(0.5) WHERE telefon = $1", "100ms",
			[]string{"no answer within 100ms", "index the CRM's phone column"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, "--crm-dsn", crm, "--crm-query", tt.query, "--crm-timeout", tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			detail, err := checkCRM(t.Context(), cfg)
			got := detail
			if err != nil {
				got = err.Error() + " (" + store.CRMProblem(crmConfig(cfg), err, checkTimeout).Fix + ")"
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("check says %q, want %q", got, w)
				}
			}
		})
	}
}

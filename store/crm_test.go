package store

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/internal/testport"
	"github.com/screenpop/screenpop/screenpop"
)

// freshCRM makes a dealership's CRM for one test: tables of its own
// design, in Russian as many are, in a schema of their own. It returns
// the DSN that reaches it.
func freshCRM(t *testing.T) string {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	schema := "crm_test_" + strings.ToLower(rand.Text()[:12])
	_, err := conn.Exec(context.Background(), `CREATE SCHEMA `+schema+`;
		SET search_path = `+schema+`;
		CREATE TABLE kontragenty (
			id bigint PRIMARY KEY, fio text NOT NULL, tel text NOT NULL, tel_dop text[],
			menedzher text, vnutr text, konflikt smallint, csi numeric(3, 1)
		);
		CREATE TABLE avto (
			id serial PRIMARY KEY, kontragent_id bigint REFERENCES kontragenty, marka text, model text, god int,
			gosnomer text, vin text, garantiya_do date, osago_do date, to_do date
		);
		CREATE TABLE vizity (kontragent_id bigint REFERENCES kontragenty, data timestamptz, vid text, summa numeric(12, 2), master text);
		INSERT INTO kontragenty VALUES
			(501, 'Петров Иван Сергеевич', '8 (916) 123-45-67', '{"+7 495 111-22-33"}', 'Соколова Анна', '201', 2, 6.5),
			(502, 'Петрова Анна', '+7-916-123-45-67', NULL, NULL, NULL, NULL, NULL),
			(503, 'Сидоров Пётр', '89265550011', NULL, NULL, NULL, NULL, NULL);
		INSERT INTO avto (kontragent_id, marka, model, god, gosnomer, vin, garantiya_do, osago_do, to_do) VALUES
			(501, 'Kia', 'Rio', 2019, 'а123вс77', 'Z94CB41AAKR123456', '2026-05-14', '2026-03-01', NULL),
			(501, 'Lada', 'Vesta', NULL, 'М456КР750', NULL, NULL, NULL, '2025-12-01');
		INSERT INTO vizity VALUES
			(501, now() - interval '10 days', 'service', 21450.75, 'Тимофеев Алексей'),
			(501, now() - interval '400 days', 'sale', 1450000, 'Соколова Анна');`)
	if err != nil {
		t.Fatalf("create the CRM: %v", err)
	}
	t.Cleanup(func() {
		conn := adminConn(t)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(testPostgresDSN(), schema)
}

// crmQuery is what an admin writes for the CRM above: the client by the
// last ten digits of their number as typed ($2), one row per car.
const crmQuery = `SELECT k.id AS client_id, k.fio AS full_name, k.tel_dop AS phones,
	k.menedzher AS manager, k.vnutr AS manager_extension, k.konflikt AS conflict_level, k.csi,
	v.visits, v.visits_last_year, v.last_visit_at, v.last_visit_kind,
	a.marka AS make, a.model, a.god AS year, a.gosnomer AS plate, a.vin,
	a.garantiya_do AS warranty_end, a.osago_do AS insurance_end, a.to_do AS next_service_due
FROM kontragenty k
LEFT JOIN avto a ON a.kontragent_id = k.id
LEFT JOIN LATERAL (
	SELECT count(*) AS visits, count(*) FILTER (WHERE data > now() - interval '1 year') AS visits_last_year,
		max(data) AS last_visit_at, (array_agg(vid ORDER BY data DESC))[1] AS last_visit_kind
	FROM vizity WHERE kontragent_id = k.id
) v ON true
WHERE right(regexp_replace(k.tel, '\D', '', 'g'), 10) = $2
ORDER BY k.id, a.id`

func openCRM(t *testing.T, dsn, query string, timeout time.Duration) *CRM {
	t.Helper()
	c, err := OpenCRM(CRMConfig{DSN: dsn, Query: query, Timeout: timeout, Region: "RU"})
	if err != nil {
		t.Fatalf("OpenCRM: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestCRMLookup(t *testing.T) {
	dsn := freshCRM(t)

	t.Run("a caller the CRM knows pops with their cars, manager and visits, and everyone sharing the number", func(t *testing.T) {
		c := openCRM(t, dsn, crmQuery, 20*time.Second)
		if cols, err := c.Check(t.Context()); err != nil || len(cols) != 19 {
			t.Fatalf("Check: %v, %v", cols, err)
		}
		recs, err := c.LookupPhone(t.Context(), "+79161234567")
		if err != nil {
			t.Fatalf("LookupPhone: %v", err)
		}
		want := []screenpop.ClientRecord{
			{
				Client: screenpop.Client{
					LastName: "Петров", FirstName: "Иван", Patronymic: "Сергеевич",
					Phones: []string{"+79161234567", "+74951112233"},
					Cars: []screenpop.Car{
						{Make: "Kia", Model: "Rio", Year: 2019, Plate: "А123ВС77", VIN: "Z94CB41AAKR123456", WarrantyEnd: day(2026, 5, 14), InsuranceEnd: day(2026, 3, 1)},
						{Make: "Lada", Model: "Vesta", Plate: "М456КР750", NextServiceDue: day(2025, 12, 1)},
					},
					ConflictLevel: 2, CSI: csi(6.5),
					Manager: &screenpop.Employee{Name: "Соколова Анна", Extension: "201"},
				},
				LastVisit: &screenpop.Visit{Kind: "service"},
				Visits:    2, VisitsLastYear: 1,
				OpenComplaintList: []screenpop.Complaint{},
			},
			{
				Client:            screenpop.Client{LastName: "Петрова", FirstName: "Анна", Phones: []string{"+79161234567"}, Cars: []screenpop.Car{}},
				OpenComplaintList: []screenpop.Complaint{},
			},
		}
		ignoreVisitDate := cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "LastVisit.Date" }, cmp.Ignore())
		if diff := cmp.Diff(want, recs, sameTime, ignoreVisitDate); diff != "" {
			t.Errorf("LookupPhone (-want +got):\n%s", diff)
		}
		card := screenpop.DefaultCardRules.NewCard(screenpop.ParseNumber("89161234567", "RU"), recs, time.Now())
		if card.Lookup != screenpop.LookupFound || card.Clients[0].Greeting != "Иван Сергеевич" || card.Clients[0].Segment != screenpop.SegmentReal {
			t.Errorf("the card: %+v", card)
		}
	})

	t.Run("a number the CRM does not know finds nobody, and that is no error", func(t *testing.T) {
		c := openCRM(t, dsn, crmQuery, 20*time.Second)
		recs, err := c.LookupPhone(t.Context(), "+79990000000")
		if err != nil || recs == nil || len(recs) != 0 {
			t.Errorf("LookupPhone = %v, %v; want an empty list", recs, err)
		}
	})

	t.Run("a query with the E.164 number alone, one row per client, works", func(t *testing.T) {
		c := openCRM(t, dsn, `SELECT id AS client_id, split_part(fio, ' ', 1) AS last_name, split_part(fio, ' ', 2) AS first_name
			FROM kontragenty WHERE '+7' || right(regexp_replace(tel, '\D', '', 'g'), 10) = $1`, 20*time.Second)
		recs, err := c.LookupPhone(t.Context(), "+79265550011")
		if err != nil || len(recs) != 1 || recs[0].FullName() != "Сидоров Пётр" {
			t.Errorf("LookupPhone = %+v, %v", recs, err)
		}
	})

	t.Run("a query slower than the timeout is cancelled, on the CRM too, and the next lookup works", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		slow := strings.Replace(crmQuery, "FROM kontragenty k", "FROM pg_sleep(60) AS screenpop_slow_test, kontragenty k", 1)
		c := openCRM(t, dsn, slow, timeout)
		start := time.Now()
		_, err := c.LookupPhone(t.Context(), "+79161234567")
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
			t.Errorf("LookupPhone: %v, want no answer within 300ms", err)
		}
		// The query sleeps a minute: coming back well before that is
		// giving up at the timeout, however loaded the machine.
		if took > 30*time.Second {
			t.Errorf("the lookup took %v: it waited for the query instead of giving up after %v", took, timeout)
		}
		// The CRM's server stops the query too: it must not pile up
		// sleeping queries for every call.
		conn := adminConn(t)
		defer conn.Close(context.Background())
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
				WHERE state = 'active' AND query LIKE '%screenpop_slow_test%' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d cancelled lookups still run on the CRM after 30s", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		fast := openCRM(t, dsn, crmQuery, timeout)
		if recs, err := fast.LookupPhone(t.Context(), "+79265550011"); err != nil || len(recs) != 1 {
			t.Errorf("a lookup after the timeout: %v, %v", recs, err)
		}
	})

	t.Run("nothing screenpop runs can change the CRM", func(t *testing.T) {
		c := openCRM(t, dsn, `WITH gone AS (DELETE FROM kontragenty WHERE id = 503 RETURNING id, fio)
			SELECT id AS client_id, fio AS full_name FROM gone WHERE $1 <> ''`, 20*time.Second)
		if _, err := c.LookupPhone(t.Context(), "+79265550011"); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("a deleting query ran: %v", err)
		}
		check := openCRM(t, dsn, crmQuery, 20*time.Second)
		if recs, err := check.LookupPhone(t.Context(), "+79265550011"); err != nil || len(recs) != 1 {
			t.Errorf("the client is gone from the CRM: %v, %v", recs, err)
		}
	})
}

func TestCRMCheckNamesWhatToFix(t *testing.T) {
	dsn := freshCRM(t)
	for _, tt := range []struct {
		name, query string
		want        []string
	}{
		{"unknown and missing columns are named with the ones it may return",
			`SELECT fio AS lastname, tel AS phone FROM kontragenty WHERE tel = $1`,
			[]string{"unknown columns lastname, phone (rename them with AS; the card's columns are client_id, last_name,",
				"no client_id column", "no name column"}},
		{"a column of the wrong type says what it wants",
			`SELECT id AS client_id, fio AS full_name, tel AS visits, konflikt AS last_visit_at FROM kontragenty WHERE tel = $1`,
			[]string{"visits is text, want an integer", "last_visit_at is int2, want a date or timestamp"}},
		{"a query that does not run says why",
			`SELECT id AS client_id, fio AS full_name FROM klienty WHERE tel = $1`,
			[]string{`the CRM query does not run: relation "klienty" does not exist (42P01)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := openCRM(t, dsn, tt.query, 20*time.Second)
			_, err := c.Check(t.Context())
			if !errors.Is(err, ErrBadCRMQuery) {
				t.Fatalf("Check: %v, want an error wrapping ErrBadCRMQuery", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	for _, tt := range []struct{ name, query, want string }{
		{"a query without $1 is refused", `SELECT 1 AS client_id, 'x' AS full_name`, "must take the caller's number as $1"},
		{"a query with $3 is refused", `SELECT 1 AS client_id, 'x' AS full_name WHERE $3 = $1`, "found $3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenCRM(CRMConfig{DSN: dsn, Query: tt.query, Timeout: time.Second})
			if !errors.Is(err, ErrBadCRMQuery) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenCRM: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCRMThatIsDownFailsLookupsInTime(t *testing.T) {
	const password = "Crm-s3cret-pw"
	// A CRM whose address accepts connections and never answers: a
	// server hung, or a firewall that swallows packets.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	// Not a port the kernel handed out and took back: another test
	// package's listener may take that one meanwhile.
	closedAddr := testport.Addr(t)

	for _, tt := range []struct{ name, addr string }{
		{"a CRM that refuses connections", closedAddr},
		{"a CRM that never answers", silent.Addr().String()},
	} {
		t.Run(tt.name+" fails the lookup within the timeout, and Check says it is not reachable", func(t *testing.T) {
			c := openCRM(t, "postgres://crm:"+password+"@"+tt.addr+"/crm?sslmode=disable", crmQuery, 300*time.Millisecond)
			start := time.Now()
			recs, err := c.LookupPhone(t.Context(), "+79161234567")
			if err == nil || recs != nil {
				t.Errorf("LookupPhone = %v, %v; want an error", recs, err)
			}
			// Unbounded, the lookup on a silent CRM would wait until the
			// test's end: coming back within seconds is the timeout working.
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("the lookup took %v, want about 300ms", took)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			_, err = c.Check(ctx)
			if err == nil || errors.Is(err, ErrBadCRMQuery) || !strings.Contains(err.Error(), "connect to the CRM") {
				t.Errorf("Check: %v, want a connection error", err)
			}
			if err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	t.Run("a DSN that cannot be parsed is refused without showing it", func(t *testing.T) {
		_, err := OpenCRM(CRMConfig{DSN: "postgres://crm:" + password + "@host:port/crm", Query: crmQuery, Timeout: time.Second})
		if err == nil || strings.Contains(err.Error(), password) {
			t.Errorf("OpenCRM: %v", err)
		}
	})
}

func TestCRMColumnsListsEveryColumnOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range CRMColumns {
		if _, ok := crmColumns[c]; !ok || seen[c] {
			t.Errorf("CRMColumns has %q, which crmColumns lacks or which it lists twice", c)
		}
		seen[c] = true
	}
	if len(seen) != len(crmColumns) {
		t.Errorf("CRMColumns lists %d columns, the query may return %d", len(seen), len(crmColumns))
	}
}

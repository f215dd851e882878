package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/store"
)

// callLogStores are the stores the calls command and GET /api/calls are
// tested on, as the flags that choose each; each gets a fresh database.
var callLogStores = []struct {
	name  string
	flags func(t *testing.T) []string
}{
	{"SQLite", func(t *testing.T) []string { return []string{"--store-data-dir", t.TempDir()} }},
	{"PostgreSQL", func(t *testing.T) []string {
		return []string{"--store-dsn", freshSchema(t), "--store-data-dir", t.TempDir()}
	}},
}

// marchAt is an instant of March 2026 in the daemon's zone, where the calls
// command and the API read dates.
func marchAt(day, h, m int) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, time.Local) }

// loggedCall is an inbound call from caller to did at t, ending status,
// with one offer per operator (the first answering when answered).
func loggedCall(id, caller, did string, t time.Time, status screenpop.Status, offers ...string) screenpop.Call {
	n := screenpop.ParseNumber(caller, "RU")
	c := screenpop.Call{ID: id, Direction: screenpop.Inbound, Caller: caller, Withheld: n.Withheld, DID: did, Status: status,
		OfferedTo: []string{}, TalkedTo: []string{}, StartedAt: t, EndedAt: t.Add(time.Minute), HangupCause: 16, HangupCauseText: "Normal Clearing"}
	if n.E164 != "" {
		c.CallerE164 = &n.E164
	}
	for i, op := range offers {
		o := screenpop.Offer{Operator: op, Channel: "PJSIP/" + op + "-00000001", DialedAt: t.Add(time.Second),
			RingingAt: timeRef(t.Add(2 * time.Second)), EndedAt: timeRef(t.Add(20 * time.Second)), Outcome: screenpop.OutcomeNoAnswer}
		switch {
		case status == screenpop.StatusBusy:
			o.RingingAt, o.Outcome = nil, screenpop.OutcomeBusy
		case status == screenpop.StatusAnswered && i == 0:
			o.AnsweredAt, o.Outcome = timeRef(t.Add(6*time.Second)), screenpop.OutcomeAnswered
			c.AnsweredBy, c.AnsweredAt, c.TalkedTo = &offers[0], o.AnsweredAt, []string{op}
			c.RingSeconds, c.WaitSeconds, c.TalkSeconds = 4.25, 6.5, 53.5
		case status == screenpop.StatusAnswered:
			o.Outcome = screenpop.OutcomeAnsweredElsewhere
		}
		c.Offers = append(c.Offers, o)
		if o.Rang() {
			c.OfferedTo = append(c.OfferedTo, op)
		}
	}
	return c
}

func timeRef(t time.Time) *time.Time { return &t }

// seedCallLog fills the store the flags choose as a call centre would:
// sources and tokens through the CLI, a client, and a day of calls of
// every kind (March 14th, local time), one the day before, one the day
// after, and one today:
//
//	c9 13th 23:59:59  new            Радио  missed     rang 101
//	c1 09:00  Иван (a client)        Радио  answered   rang 101 102, talked to 101
//	c2 09:10  Мария, new             Сайт   missed     rang 102
//	c3 09:20  Мария again: a lead    Радио  abandoned  rang 101 102
//	c4 09:30  withheld               Радио  answered   rang 102, talked to 102 then 103
//	c5 09:40  extension 105          -      failed
//	c6 09:50  101 called Иван back (outbound), answered
//	c7 10:00  Иван on a direct line (internal): busy, 103's phone
//	c8 15th 00:00  new               Сайт   answered   rang 101
//	today     new                    Сайт   answered   rang 101
//
// It returns an analyst's and an admin's staff token and operator 101's
// key.
func seedCallLog(t *testing.T, flags []string) (analyst, admin, operator string) {
	t.Helper()
	run := func(args ...string) string { return mustCLI(t, append(args, flags...)...) }
	run("source", "add", "--did", "8 (495) 111-22-33", "--source", "Радио «Европа Плюс»", "--campaign", "Весна, 2026", "--from", "2026-03-01")
	run("source", "add", "--did", "84953334455", "--source", "Сайт", "--from", "2026-03-01")
	run("source", "add", "--did", "+74957778899", "--source", "Прямой Иванова", "--from", "2026-03-01", "--internal")
	token := regexp.MustCompile(`(?m)^(?:token|key): (\S+)$`)
	analyst = token.FindStringSubmatch(run("token", "add", "--name", "Маркетинг", "--role", "analyst"))[1]
	admin = token.FindStringSubmatch(run("token", "add", "--name", "Админ", "--role", "admin"))[1]
	operator = token.FindStringSubmatch(run("operator", "add", "--name", "Анна Смирнова", "101"))[1]

	cfg, err := load(t, flags...)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSeeded(t.Context(), storeConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ImportClients(t.Context(), []screenpop.ClientHistory{{Client: screenpop.Client{
		LastName: "Петров", FirstName: "Иван", Phones: []string{"+79161234567"}}}}); err != nil {
		t.Fatal(err)
	}
	const radio, site, direct, ivan, maria = "74951112233", "84953334455", "74957778899", "89161234567", "+79035550101"
	c1 := loggedCall("c1", ivan, radio, marchAt(14, 9, 0), screenpop.StatusAnswered, "101", "102")
	c1.CallerName = `Петров, Иван "Ваня"`
	c4 := loggedCall("c4", "anonymous", radio, marchAt(14, 9, 30), screenpop.StatusAnswered, "102")
	c4.TalkedTo = []string{"102", "103"}
	c4.Gaps = []screenpop.Gap{screenpop.GapAnswer} // answered while the daemon's view was interrupted
	c6 := loggedCall("c6", ivan, "", marchAt(14, 9, 50), screenpop.StatusAnswered)
	c6.Direction, c6.AnsweredBy, c6.TalkedTo = screenpop.Outbound, stringRef("101"), []string{"101"}
	now := time.Now()
	today := now.Add(-time.Second)
	if today.Before(screenpop.StartOfDay(now)) {
		today = screenpop.StartOfDay(now)
	}
	for _, c := range []screenpop.Call{
		loggedCall("c9", "+79990000002", radio, marchAt(14, 0, 0).Add(-time.Second), screenpop.StatusMissed, "101"),
		c1,
		loggedCall("c2", maria, site, marchAt(14, 9, 10), screenpop.StatusMissed, "102"),
		loggedCall("c3", maria, radio, marchAt(14, 9, 20), screenpop.StatusAbandoned, "101", "102"),
		c4,
		loggedCall("c5", "105", "", marchAt(14, 9, 40), screenpop.StatusFailed),
		c6,
		loggedCall("c7", "+79161234567", direct, marchAt(14, 10, 0), screenpop.StatusBusy, "103"),
		loggedCall("c8", "+79990000001", site, marchAt(15, 0, 0), screenpop.StatusAnswered, "101"),
		loggedCall("today", "+79990000003", site, today, screenpop.StatusAnswered, "101"),
	} {
		if err := db.SaveCalls(t.Context(), []screenpop.Call{c}); err != nil { // one at a time, as calls end
			t.Fatal(err)
		}
	}
	return analyst, admin, operator
}

func stringRef(s string) *string { return &s }

// filterCases are the filters the calls command and GET /api/calls are
// both asked, as parameters (the command's flags have their names), and
// the calls each must list. Unless a case gives from or to, it asks for
// March 14th.
var filterCases = []struct {
	name   string
	params [][2]string
	want   string
}{
	{"a day lists its calls, newest first", nil, "c7 c6 c5 c4 c3 c2 c1"},
	{"days are whole days, to's included", [][2]string{{"from", "2026-03-13"}, {"to", "2026-03-15"}}, "c8 c7 c6 c5 c4 c3 c2 c1 c9"},
	{"instants bound the listing exactly", [][2]string{{"from", marchAt(14, 9, 15).Format(time.RFC3339)}, {"to", marchAt(14, 9, 40).Format(time.RFC3339)}}, "c4 c3"},
	{"to alone is that day", [][2]string{{"to", "2026-03-15"}}, "c8"},
	{"outbound calls", [][2]string{{"direction", "outbound"}}, "c6"},
	{"missed and abandoned calls", [][2]string{{"status", "missed,abandoned"}}, "c3 c2"},
	{"answered calls", [][2]string{{"status", "answered"}}, "c6 c4 c1"},
	{"clients' calls, in and out", [][2]string{{"kind", "client"}}, "c6 c1"},
	{"a lead's calls", [][2]string{{"kind", "lead"}}, "c3"},
	{"new callers' calls", [][2]string{{"kind", "new"}}, "c2"},
	{"withheld callers' calls", [][2]string{{"kind", "withheld"}}, "c4"},
	{"internal calls", [][2]string{{"kind", "internal"}}, "c7 c5"},
	{"a source's calls", [][2]string{{"source", "Радио «Европа Плюс»"}}, "c4 c3 c1"},
	{"a campaign's calls", [][2]string{{"campaign", "Весна, 2026"}}, "c4 c3 c1"},
	{"an operator's calls: rang, talked and placed", [][2]string{{"operator", "101"}}, "c6 c3 c1"},
	{"an operator transferred to, and one whose phone was busy", [][2]string{{"operator", "103"}}, "c7 c4"},
	{"a caller's calls, in and out, whatever the number's form", [][2]string{{"caller", "8 (916) 123-45-67"}}, "c7 c6 c1"},
	{"an extension's calls", [][2]string{{"caller", "105"}}, "c5"},
	{"a source's answered inbound calls", [][2]string{{"source", "Радио «Европа Плюс»"}, {"status", "answered"}, {"direction", "inbound"}}, "c4 c1"},
	{"the first calls", [][2]string{{"limit", "2"}}, "c7 c6"},
	{"records whose answer was not seen exactly", [][2]string{{"gap", "answer"}}, "c4"},
	{"records with none of the gaps asked for", [][2]string{{"gap", "start,end"}}, ""},
}

// withDay adds March 14th to params unless they give from or to.
func withDay(params [][2]string) [][2]string {
	for _, p := range params {
		if p[0] == "from" || p[0] == "to" {
			return params
		}
	}
	return append([][2]string{{"from", "2026-03-14"}, {"to", "2026-03-14"}}, params...)
}

// callsCLI runs `screenpopd calls` with params as flags.
func callsCLI(t *testing.T, flags []string, params [][2]string, more ...string) string {
	t.Helper()
	args := append([]string{"calls"}, flags...)
	for _, p := range params {
		args = append(args, "--"+p[0], p[1])
	}
	return mustCLI(t, append(args, more...)...)
}

// jsonlIDs reads the IDs of the calls the calls command printed a line
// each.
func jsonlIDs(t *testing.T, out string) []string {
	t.Helper()
	ids := []string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var c screenpop.Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("calls --format jsonl printed a line that is not a call: %q: %v", sc.Text(), err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

func TestCallsCommandAndAPIListTheCallLog(t *testing.T) {
	for _, st := range callLogStores {
		t.Run(st.name, func(t *testing.T) {
			flags := st.flags(t)
			analyst, admin, operator := seedCallLog(t, flags)
			t.Run("the calls command", func(t *testing.T) { testCallsCommand(t, flags) })
			d := startCallsDaemon(t, flags)
			t.Run("GET /api/calls", func(t *testing.T) { testCallsAPI(t, d, flags, analyst, admin, operator) })
		})
	}
}

func testCallsCommand(t *testing.T, flags []string) {
	for _, tt := range filterCases {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(jsonlIDs(t, callsCLI(t, flags, withDay(tt.params), "--format", "jsonl")), " ")
			if got != tt.want {
				t.Errorf("listed %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("with no dates it lists today's calls", func(t *testing.T) {
		if got := jsonlIDs(t, callsCLI(t, flags, nil, "--format", "jsonl")); !slices.Equal(got, []string{"today"}) {
			t.Errorf("listed %v, want today's one call", got)
		}
	})

	t.Run("--uncertain lists the records that are not exact, with their gaps", func(t *testing.T) {
		out := callsCLI(t, flags, withDay(nil), "--uncertain", "--format", "jsonl")
		if got := jsonlIDs(t, out); !slices.Equal(got, []string{"c4"}) || !strings.Contains(out, `"gaps":["answer"]`) {
			t.Errorf("calls --uncertain printed %s", out)
		}
		exact := callsCLI(t, flags, withDay([][2]string{{"status", "busy"}}), "--format", "jsonl")
		if !strings.Contains(exact, `"gaps":[]`) {
			t.Errorf("an exact record is printed without \"gaps\":[]: %s", exact)
		}
	})

	t.Run("the table shows each call on a line, local times, and a count", func(t *testing.T) {
		out := callsCLI(t, flags, withDay(nil))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 9 || !regexp.MustCompile(`^STARTED\s+DIR\s+CALLER\s+KIND\s+DID\s+SOURCE\s+STATUS\s+OPERATORS\s+RING\s+WAIT\s+TALK\s+GAPS$`).MatchString(lines[0]) ||
			lines[8] != "7 calls" {
			t.Fatalf("the table:\n%s", out)
		}
		for _, want := range []string{
			`^2026-03-14 09:00:00\s+in\s+\+79161234567\s+client\s+74951112233\s+Радио «Европа Плюс»\s+answered\s+101 102 → 101\s+4\.2\s+6\.5\s+53\.5\s+-$`,
			`^2026-03-14 09:30:00\s+in\s+anonymous\s+withheld\s+74951112233\s+Радио «Европа Плюс»\s+answered\s+102 → 102 103\s+`,
			`^2026-03-14 09:50:00\s+out\s+\+79161234567\s+client\s+-\s+-\s+answered\s+101\s+`,
			`^2026-03-14 10:00:00\s+in\s+\+79161234567\s+internal\s+74957778899\s+Прямой Иванова\s+busy\s+-\s+0\.0\s+`,
		} {
			if !slices.ContainsFunc(lines, regexp.MustCompile(want).MatchString) {
				t.Errorf("no line of the table matches %s:\n%s", want, out)
			}
		}
		// Aligned: each line's status begins under STATUS, counting
		// characters, not bytes (Cyrillic sources come before it).
		col := strings.Index(lines[0], "STATUS")
		for _, l := range lines[1:8] {
			r := []rune(l)
			if len(r) < col || !regexp.MustCompile(`^(answered|missed|abandoned|busy|failed) `).MatchString(string(r[col:])) {
				t.Errorf("the status is not under STATUS in %q", l)
			}
		}
		if out := callsCLI(t, flags, withDay(nil), "--limit", "2"); !strings.HasSuffix(out, "2 calls (--limit 2: there may be more)\n") {
			t.Errorf("a table cut by --limit ends:\n%s", out)
		}
	})

	t.Run("json is one array of call records, with offers when asked", func(t *testing.T) {
		var calls []map[string]any
		if err := json.Unmarshal([]byte(callsCLI(t, flags, withDay([][2]string{{"caller", "+79161234567"}, {"direction", "inbound"}}), "--format", "json")), &calls); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 2 || calls[1]["call_id"] != "c1" || calls[1]["source"] != "Радио «Европа Плюс»" || calls[1]["campaign"] != "Весна, 2026" ||
			calls[1]["caller_kind"] != "client" || calls[1]["caller_name"] != `Петров, Иван "Ваня"` {
			t.Fatalf("calls: %v", calls)
		}
		if _, ok := calls[1]["offers"]; ok {
			t.Errorf("offers are listed without --offers: %v", calls[1]["offers"])
		}
		if err := json.Unmarshal([]byte(callsCLI(t, flags, withDay([][2]string{{"caller", "+79161234567"}}), "--format", "json", "--offers")), &calls); err != nil {
			t.Fatal(err)
		}
		if offers, _ := calls[2]["offers"].([]any); len(offers) != 2 || offers[1].(map[string]any)["outcome"] != "answered_elsewhere" {
			t.Errorf("c1's offers with --offers: %v", calls[2]["offers"])
		}
		if out := callsCLI(t, flags, withDay([][2]string{{"operator", "104"}}), "--format", "json"); out != "[]\n" {
			t.Errorf("no calls in json: %q, want an empty array", out)
		}
	})

	t.Run("csv is a file a spreadsheet opens", func(t *testing.T) {
		out := callsCLI(t, flags, withDay(nil), "--format", "csv")
		rows := parseCallsCSV(t, out, ',')
		if len(rows) != 7 || rows[6]["call_id"] != "c1" || rows[6]["date"] != "2026-03-14" || rows[6]["time"] != "09:00:00" ||
			rows[6]["caller_name"] != `Петров, Иван "Ваня"` || rows[6]["source"] != "Радио «Европа Плюс»" || rows[6]["offered_to"] != "101 102" ||
			rows[6]["ring_seconds"] != "4.25" || rows[6]["started_at"] != marchAt(14, 9, 0).Format("2006-01-02T15:04:05.000Z07:00") {
			t.Errorf("the CSV's rows: %v", rows)
		}
		semi := parseCallsCSV(t, callsCLI(t, flags, withDay(nil), "--format", "csv", "--csv-sep", ";"), ';')
		if semi[6]["ring_seconds"] != "4,25" || semi[6]["campaign"] != "Весна, 2026" {
			t.Errorf("with --csv-sep ';' the row is %v, want a decimal comma", semi[6])
		}
	})

	t.Run("bad flags are named, all at once", func(t *testing.T) {
		_, err := cli(t, append([]string{"calls", "--from", "1 March", "--status", "lost", "--kind", "vip", "--direction", "up",
			"--format", "xml", "--csv-sep", "|", "--limit", "-1"}, flags...)...)
		for _, want := range []string{`--from: want a date such as 2026-03-01`, `--status: "lost" is not one of`, `--kind: "vip"`,
			`--direction: "up"`, `--format: "xml"`, "--csv-sep: want comma, semicolon or tab", "--limit: want 0"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want it to say %q", err, want)
			}
		}
		if _, err := cli(t, append([]string{"calls", "--offers"}, flags...)...); err == nil || !strings.Contains(err.Error(), "--offers: the table format") {
			t.Errorf("--offers with a table: %v", err)
		}
	})
}

// parseCallsCSV checks the byte order mark and reads the rows by the
// header's names.
func parseCallsCSV(t *testing.T, out string, sep rune) []map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(out, "\uFEFF")
	if !ok {
		t.Fatalf("the CSV does not begin with a byte order mark: %q", out[:min(len(out), 20)])
	}
	r := csv.NewReader(strings.NewReader(rest))
	r.Comma = sep
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, out)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// startCallsDaemon runs the daemon on the store the flags choose, against
// a fake Asterisk, and waits until it is ready.
func startCallsDaemon(t *testing.T, flags []string) *daemon {
	t.Helper()
	ast := newFakeAsterisk(t)
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addFlags(fs)
	d := &daemon{http: freePort(t), done: make(chan error, 1)}
	if err := fs.Parse(append([]string{"--ari-url", ast.srv.URL + "/ari", "--ari-password", "pw",
		"--http-listen", d.http, "--log-level", "error"}, flags...)); err != nil {
		t.Fatal(err)
	}
	var err error
	if d.cfg, err = loadConfig(fs); err != nil {
		t.Fatal(err)
	}
	d.dataDir = d.cfg.DataDir
	d.start(t)
	ast.nextConn(t)
	d.waitReady(t, http.StatusOK)
	return d
}

// apiGet sends GET path to the daemon with the token (none if empty) and
// the Accept header (none if empty).
func apiGet(t *testing.T, d *daemon, token, accept, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+d.http+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func callsQuery(params [][2]string) string {
	q := url.Values{}
	for _, p := range params {
		q.Add(p[0], p[1])
	}
	return q.Encode()
}

type callsPage struct {
	Calls []screenpop.Call `json:"calls"`
	Next  string           `json:"next"`
	Error string           `json:"error"`
}

func testCallsAPI(t *testing.T, d *daemon, flags []string, analyst, admin, operator string) {
	get := func(t *testing.T, token, accept, q string) (int, http.Header, callsPage, []byte) {
		t.Helper()
		code, h, body := apiGet(t, d, token, accept, "/api/calls?"+q)
		var p callsPage
		if !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("the answer is not JSON: %v\n%s", err, body)
			}
		}
		return code, h, p, body
	}
	ids := func(p callsPage) string {
		var ids []string
		for _, c := range p.Calls {
			ids = append(ids, c.ID)
		}
		return strings.Join(ids, " ")
	}

	t.Run("uncertain=1 lists the records that are not exact", func(t *testing.T) {
		code, _, p, body := get(t, analyst, "", callsQuery(withDay([][2]string{{"uncertain", "1"}})))
		if code != http.StatusOK || ids(p) != "c4" || !bytes.Contains(body, []byte(`"gaps":["answer"]`)) {
			t.Errorf("uncertain=1: %d %s", code, body)
		}
		code, _, _, body = get(t, analyst, "", callsQuery(withDay([][2]string{{"uncertain", "maybe"}})))
		if code != http.StatusBadRequest || !bytes.Contains(body, []byte("uncertain")) {
			t.Errorf("uncertain=maybe: %d %s, want 400 naming it", code, body)
		}
	})

	t.Run("it is for analysts and admins, not operators", func(t *testing.T) {
		for _, tt := range []struct {
			name, token string
			want        int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"an operator's key, valid for the operators' API", operator, http.StatusUnauthorized},
			{"an analyst's token", analyst, http.StatusOK},
			{"an admin's token", admin, http.StatusOK},
		} {
			code, _, p, _ := get(t, tt.token, "", callsQuery(withDay(nil)))
			if code != tt.want || (tt.want == http.StatusOK && ids(p) != "c7 c6 c5 c4 c3 c2 c1") {
				t.Errorf("%s: got %d %s %q, want %d", tt.name, code, ids(p), p.Error, tt.want)
			}
		}
		// The operator's key does open the operators' API.
		if code, _, _ := apiGet(t, d, operator, "", "/api/callbacks"); code != http.StatusOK {
			t.Errorf("the operator's key on the operators' API: %d", code)
		}
	})

	for _, tt := range filterCases {
		t.Run(tt.name, func(t *testing.T) {
			code, _, p, _ := get(t, analyst, "", callsQuery(withDay(tt.params)))
			if code != http.StatusOK || ids(p) != tt.want {
				t.Errorf("got %d %q %s, want %q", code, ids(p), p.Error, tt.want)
			}
		})
	}

	t.Run("with no dates it lists today's calls", func(t *testing.T) {
		if _, _, p, _ := get(t, analyst, "", ""); ids(p) != "today" {
			t.Errorf("listed %q, want today's one call", ids(p))
		}
	})

	t.Run("pages of 2 list the day once each, the last with no next", func(t *testing.T) {
		var all []string
		q := callsQuery(withDay([][2]string{{"limit", "2"}}))
		for n := 0; ; n++ {
			code, _, p, _ := get(t, analyst, "", q)
			if code != http.StatusOK || n > 4 {
				t.Fatalf("page %d: %d %+v", n+1, code, p)
			}
			all = append(all, ids(p))
			if p.Next == "" {
				break
			}
			q = callsQuery(withDay([][2]string{{"limit", "2"}, {"cursor", p.Next}}))
		}
		if got := strings.Join(all, " | "); got != "c7 c6 | c5 c4 | c3 c2 | c1" {
			t.Errorf("pages: %s", got)
		}
	})

	t.Run("a bad parameter is named", func(t *testing.T) {
		code, _, p, _ := get(t, analyst, "", "from=yesterday&status=lost")
		if code != http.StatusBadRequest || !strings.Contains(p.Error, "from: want a date") || !strings.Contains(p.Error, `status: "lost"`) {
			t.Errorf("got %d %q", code, p.Error)
		}
	})

	t.Run("the CSV export is the calls command's CSV", func(t *testing.T) {
		for _, sep := range []struct{ param, flag string }{{",", ","}, {"semicolon", ";"}} {
			code, h, _, body := get(t, analyst, "text/csv", callsQuery(withDay([][2]string{{"sep", sep.param}})))
			cli := callsCLI(t, flags, withDay(nil), "--format", "csv", "--csv-sep", sep.flag)
			if code != http.StatusOK || !bytes.Equal(body, []byte(cli)) {
				t.Errorf("sep %s: GET /api/calls gave %d\n%s\nthe calls command\n%s", sep.param, code, body, cli)
			}
			if cd := h.Get("Content-Disposition"); cd != `attachment; filename="calls-2026-03-14.csv"` {
				t.Errorf("Content-Disposition %q", cd)
			}
		}
		// A download link, as a spreadsheet's "from the web" opens it.
		code, _, _, body := get(t, "", "", callsQuery(withDay([][2]string{{"format", "csv"}, {"token", analyst}})))
		if rows := parseCallsCSV(t, string(body), ','); code != http.StatusOK || len(rows) != 7 {
			t.Errorf("a download link: %d, %d rows", code, len(rows))
		}
	})
}

// TestCallsListsReplayedTracesAsTheyWereRecorded replays the calls
// recorded from a real Asterisk into PostgreSQL, then lists them with the
// calls command: every filter finds the records the tracker wrote.
func TestCallsListsReplayedTracesAsTheyWereRecorded(t *testing.T) {
	dsn := freshSchema(t)
	files, _ := filepath.Glob(filepath.Join(tracesDir(t), "*.jsonl"))
	out := mustCLI(t, append(append([]string{"replay", "--store-dsn", dsn, "--store-data-dir", t.TempDir()}, traceFlags...), files...)...)
	records := map[string]screenpop.Call{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var c screenpop.Call
		if err := json.Unmarshal([]byte(l), &c); err == nil {
			records[c.ID] = c
		}
	}
	if len(records) != 27 {
		t.Fatalf("replay recorded %d calls, want 27", len(records))
	}
	day := []string{"--store-dsn", dsn, "--from", "2026-11-24T00:00:00Z", "--to", "2026-11-26T00:00:00Z"}
	for _, tt := range []struct {
		name  string
		flags []string
		match func(c screenpop.Call) bool
	}{
		{"every call", nil, func(screenpop.Call) bool { return true }},
		{"missed and abandoned", []string{"--status", "missed,abandoned"},
			func(c screenpop.Call) bool { return c.Status == "missed" || c.Status == "abandoned" }},
		{"a caller in national form", []string{"--caller", "89161234567"},
			func(c screenpop.Call) bool { return c.CallerE164 != nil && *c.CallerE164 == "+79161234567" }},
		{"withheld", []string{"--kind", "withheld"}, func(c screenpop.Call) bool { return c.Withheld }},
		{"operator 102", []string{"--operator", "102"}, func(c screenpop.Call) bool {
			return slices.Contains(c.TalkedTo, "102") || slices.ContainsFunc(c.Offers, func(o screenpop.Offer) bool { return o.Operator == "102" })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			listed := jsonlIDs(t, mustCLI(t, append(append([]string{"calls", "--format", "jsonl"}, day...), tt.flags...)...))
			var want []string
			for id, c := range records {
				if tt.match(c) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			got := slices.Sorted(slices.Values(listed))
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("listed %v, want %v", got, want)
			}
			for i := 1; i < len(listed); i++ {
				a, b := records[listed[i-1]], records[listed[i]]
				if a.StartedAt.Before(b.StartedAt) || a.StartedAt.Equal(b.StartedAt) && a.ID < b.ID {
					t.Errorf("%s is listed before %s, which started later", a.ID, b.ID)
				}
			}
		})
	}
}

// Command naive is the baseline the load harness measures screenpop
// against: the simplest pipeline that does the pop's job. On a Dial
// RINGING from Asterisk it looks the caller up with the same SQL as
// screenpop's PostgreSQL store and pushes a JSON pop over gorilla/websocket
// to the page of the extension that rings. No call log, no call tracking,
// no reconnects: what a first version written in an afternoon does.
//
// Pages connect to /ws?ext=1000. It runs until SIGTERM or SIGINT.
//
// With --floor it is no pipeline but the floor under any: it asks
// Asterisk for the events screenpop asks for (the same event filter),
// reads each off the websocket and does nothing with it. Its CPU per call
// is what receiving Asterisk's events costs at that pace, before decoding
// or any work.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/screenpop/screenpop/ari"
)

// lookupSQL is store's pgLookupPhone, copied: the baseline pays for the
// same lookup as the daemon.
const lookupSQL = `SELECT c.client_id, c.last_name, c.first_name, c.patronymic, c.conflict_level, c.csi, c.lead,
	e.employee_id, e.name, e.extension,
	ph.phones, cr.cars,
	lv.date, lv.kind, lv.amount, lv.employee,
	lc.at, lc.channel, lc.employee, lc.summary,
	vs.visits, vs.visits_last_year, cp.open_complaints, c.last_visit_on, c.visit_count
FROM client_phones p
JOIN clients c ON c.client_id = p.client_id
LEFT JOIN employees e ON e.employee_id = c.manager_id
CROSS JOIN LATERAL (
	SELECT array_agg(e164 ORDER BY seq) AS phones FROM client_phones WHERE client_id = c.client_id
) ph
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'make', make, 'model', model, 'year', year, 'plate', plate, 'vin', vin,
		'warranty_end', warranty_end, 'insurance_end', insurance_end, 'next_service_due', next_service_due
	) ORDER BY car_id), '[]') AS cars
	FROM cars WHERE client_id = c.client_id
) cr
LEFT JOIN LATERAL (
	SELECT date, kind, amount, employee FROM visits WHERE client_id = c.client_id ORDER BY date DESC LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
	SELECT at, channel, employee, summary FROM contacts WHERE client_id = c.client_id ORDER BY at DESC LIMIT 1
) lc ON true
CROSS JOIN LATERAL (
	SELECT count(*) AS visits, count(*) FILTER (WHERE date >= $2) AS visits_last_year
	FROM visits WHERE client_id = c.client_id
) vs
CROSS JOIN LATERAL (
	SELECT coalesce(json_agg(json_build_object(
		'complaint_id', complaint_id, 'opened_at', to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'summary', summary
	) ORDER BY opened_at, complaint_id), '[]') AS open_complaints
	FROM complaints WHERE client_id = c.client_id AND closed_at IS NULL
) cp
WHERE p.e164 = $1
ORDER BY c.client_id`

type channel struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Caller struct {
		Number string `json:"number"`
	} `json:"caller"`
	Vars map[string]string `json:"channelvars"`
}

type event struct {
	Type       string  `json:"type"`
	DialStatus string  `json:"dialstatus"`
	Caller     channel `json:"caller"`
	Peer       channel `json:"peer"`
}

type pages struct {
	mu    sync.Mutex
	socks map[string]*websocket.Conn
}

func (p *pages) send(ext string, msg []byte) {
	p.mu.Lock()
	ws := p.socks[ext]
	p.mu.Unlock()
	if ws != nil {
		ws.WriteMessage(websocket.TextMessage, msg) // one writer: the event loop
	}
}

func main() {
	ariURL := flag.String("ari-url", "http://127.0.0.1:8088/ari", "ARI base URL")
	user := flag.String("ari-username", "screenpop", "ARI user")
	password := flag.String("ari-password", "", "ARI password")
	app := flag.String("ari-app", "naive", "ARI application")
	dsn := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "client base")
	listen := flag.String("listen", "127.0.0.1:8090", "pages' websocket address")
	floor := flag.Bool("floor", false, "only read the events screenpop asks for, and do nothing with them")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *floor {
		if err := readOnly(ctx, *ariURL, *user, *password, *app, *listen); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(ctx, *ariURL, *user, *password, *app, *dsn, *listen); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ariURL, user, password, app, dsn, listen string) error {
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ps, closePages := listenPages(listen)
	defer closePages()

	ws, err := dialEvents(ctx, websocket.DefaultDialer, ariURL, user, password, app)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ws.Close() }()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var ev event
		if json.Unmarshal(data, &ev) != nil || ev.Type != "Dial" || ev.DialStatus != "RINGING" {
			continue
		}
		ext, _, _ := strings.Cut(strings.TrimPrefix(ev.Peer.Name, "Local/"), "@")
		callID := ev.Caller.Vars["CHANNEL(linkedid)"]
		if callID == "" {
			callID = ev.Caller.ID
		}
		var clients []map[string]any
		rows, err := db.Query(ctx, lookupSQL, e164(ev.Caller.Caller.Number), time.Now().AddDate(-1, 0, 0))
		if err == nil {
			for rows.Next() {
				vals, _ := rows.Values()
				clients = append(clients, map[string]any{"client": vals})
			}
			rows.Close()
		}
		msg, _ := json.Marshal(map[string]any{"type": "call.offered", "at": time.Now(),
			"call": map[string]any{"call_id": callID, "caller": ev.Caller.Caller.Number, "clients": clients}})
		ps.send(ext, msg)
	}
}

// listenPages serves the pages' websockets on listen.
func listenPages(listen string) (*pages, func() error) {
	ps := &pages{socks: map[string]*websocket.Conn{}}
	up := websocket.Upgrader{}
	srv := &http.Server{Addr: listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ext := r.URL.Query().Get("ext")
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ps.mu.Lock()
		ps.socks[ext] = ws
		ps.mu.Unlock()
		for { // read, so that closes are seen
			if _, _, err := ws.ReadMessage(); err != nil {
				ps.mu.Lock()
				delete(ps.socks, ext)
				ps.mu.Unlock()
				return
			}
		}
	})}
	go srv.ListenAndServe()
	return ps, srv.Close
}

// readOnly is --floor: the events websocket with screenpop's event filter,
// each event read and dropped. The pages connect to it as to the naive pipeline.
func readOnly(ctx context.Context, ariURL, user, password, app, listen string) error {
	_, closePages := listenPages(listen) // the pages connect, and hear nothing
	defer closePages()
	// A large read buffer, as screenpop's: a burst comes in one read.
	ws, err := dialEvents(ctx, &websocket.Dialer{ReadBufferSize: 64 << 10}, ariURL, user, password, app)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ws.Close() }()
	type eventType struct {
		Type string `json:"type"`
	}
	var filter struct {
		Allowed []eventType `json:"allowed"`
	}
	for _, t := range ari.AllowedEvents {
		filter.Allowed = append(filter.Allowed, eventType{t})
	}
	body, _ := json.Marshal(filter)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, ariURL+"/applications/"+url.PathEscape(app)+"/eventFilter", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Basic "+basic(user, password))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("event filter: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("event filter: %s", resp.Status)
	}
	for {
		if _, _, err := ws.NextReader(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// dialEvents opens the events websocket of app, subscribed to all.
func dialEvents(ctx context.Context, d *websocket.Dialer, ariURL, user, password, app string) (*websocket.Conn, error) {
	u, err := url.Parse(ariURL)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path += "/events"
	u.RawQuery = url.Values{"app": {app}, "subscribeAll": {"true"}}.Encode()
	h := http.Header{}
	h.Set("Authorization", "Basic "+basic(user, password))
	ws, _, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		return nil, fmt.Errorf("events websocket: %w", err)
	}
	return ws, nil
}

// e164 makes a Russian national number international, as the daemon's
// region setting does.
func e164(n string) string {
	switch {
	case strings.HasPrefix(n, "+"):
		return n
	case len(n) == 11 && (n[0] == '7' || n[0] == '8'):
		return "+7" + n[1:]
	}
	return "+" + n
}

func basic(user, password string) string {
	return base64Std(user + ":" + password)
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

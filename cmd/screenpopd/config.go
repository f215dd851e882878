package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/screenpop/screenpop/ari"
	"github.com/screenpop/screenpop/screenpop"
)

// setting is one config key: in the file as key, in the environment as
// SCREENPOP_KEY_WITH_UNDERSCORES, on the command line as --key-with-dashes.
type setting struct {
	key   string
	def   any // string, []string, time.Duration, int64 or bool
	usage string
	alias string // a shorter flag name, if any
}

// settings is every config key. config.example.yaml documents each; a test
// keeps the two in step.
var settings = []setting{
	{"ari.url", "http://127.0.0.1:8088/ari", "Asterisk REST interface base URL (https:// for TLS)", ""},
	{"ari.username", "screenpop", "ARI user (ari.conf)", ""},
	{"ari.password", "", "ARI password; prefer ari.password_file or SCREENPOP_ARI_PASSWORD", ""},
	{"ari.password_file", "", "file holding the ARI password", ""},
	{"ari.app", "screenpop", "ARI application name", ""},
	{"ari.mode", "observe", "observe (subscribeAll: every call), stasis (only calls sent to Stasis(app)), or both", ""},
	{"ari.ca_file", "", "PEM CA certificate for https/wss", ""},
	{"ari.ping_interval", 5 * time.Second, "websocket keepalive interval; a dead socket is noticed within two", ""},
	{"ari.reconnect_min", 500 * time.Millisecond, "first reconnect delay", ""},
	{"ari.reconnect_max", 30 * time.Second, "longest reconnect delay", ""},
	{"ari.connect", "inbound", "inbound (screenpopd connects to ARI) or outbound (Asterisk connects to screenpopd's " + ari.OutboundPath + ": ari.conf type = outbound_websocket)", ""},
	{"ari.rest", "websocket", "with connect outbound: websocket (REST over Asterisk's websocket) or http (commands to ari.url)", ""},
	{"asterisk.boxes", []any{}, "Asterisk boxes: a list of {name, url, username, password, password_file, ca_file, connect, rest} (config file only); empty: the one box of ari.*", ""},
	{"asterisk.inbound_contexts", []string{"from-trunk"}, "dialplan contexts whose new channels are inbound calls", "inbound-contexts"},
	{"asterisk.operator_endpoints", []string{"PJSIP/{ext}"}, "channel name prefixes of operators' phones, with {ext}", "operator-endpoints"},
	{"asterisk.did_variable", "FROM_DID", "channel variable (in ari.conf channelvars) holding the dialled number", ""},
	{"asterisk.stasis_deadline", screenpop.DefaultStasisDeadline, "longest a call sent to Stasis(app) waits for the client lookup before it is continued", ""},
	{"asterisk.outbound_contexts", []string{"from-internal"}, "dialplan contexts where operators' outgoing calls start (to close callbacks)", ""},
	{"asterisk.dial_endpoint", "PJSIP/{ext}", "endpoint of an operator's phone for click-to-dial, with {ext}", ""},
	{"asterisk.dial_context", "from-internal", "dialplan context click-to-dial sends the client's number to", ""},
	{"calls.purposes", []string{"service_booking", "sales", "parts", "complaint", "other"}, "call purposes an operator can set on a call", ""},
	{"calls.complaint_purpose", "complaint", "the purpose that opens a complaint on the client", ""},
	{"calls.stale_after", screenpop.DefaultStaleAfter, "close a call with no event for this long (its end was lost)", ""},
	{"calls.sources", []any{}, "sources seeded at start: a list of {did, source, campaign, from, to, internal} (config file only)", ""},
	{"calls.linger", screenpop.DefaultLinger, "wait this long after a call ends for late events before recording it", ""},
	{"reports.service_level", 20 * time.Second, "the reports' service level: the share of inbound calls answered within this long", ""},
	{"phone.default_region", "RU", "country whose national number forms callers use (ISO code)", ""},
	{"phone.keep_withheld_numbers", false, "keep in the call log (for the company's own use) the number of a caller whose presentation is prohibited; it is never shown nor looked up", ""},
	{"card.regular_visits", int64(screenpop.DefaultCardRules.RegularVisits), "a client with more visits than this in the last year is regular", ""},
	{"card.lost_after", screenpop.DefaultCardRules.LostAfter, "a client with no visit for this long is lost", ""},
	{"card.alert_within", screenpop.DefaultCardRules.Horizon, "warranty and insurance ending, and services due, within this long are flagged", ""},
	{"card.conflict_level", int64(screenpop.DefaultCardRules.ConflictLevel), "conflict level (0-3) from which a client is flagged", ""},
	{"card.low_csi", "7", "satisfaction score (1-10) below which a client is flagged", ""},
	{"store.dsn", "", "PostgreSQL DSN; empty: the embedded store in store.data_dir", ""},
	{"store.data_dir", "", "directory for the embedded store and the call log spool; empty: " + systemDataDir + " where screenpop is installed (" + defaultSystemConfig + " exists), else ./data", ""},
	{"store.spool_max_bytes", int64(1 << 30), "most the call log spool may hold while the database is down", ""},
	{"crm.dsn", "", "PostgreSQL DSN of the dealership's CRM to look callers up in; empty: the client base in the store", ""},
	{"crm.query", "", "SQL that finds the CRM's clients with a number: $1 the number in E.164, $2 its national digits; columns named as the card's fields", ""},
	{"crm.timeout", 300 * time.Millisecond, "longest a CRM lookup may take; the pop goes on without it", ""},
	{"wallboard.service_level", 20 * time.Second, "a call answered within this long counts as answered in time (service level)", ""},
	{"wallboard.wait_amber", 20 * time.Second, "a call waiting this long turns its wallboard tile amber", ""},
	{"wallboard.wait_red", 60 * time.Second, "a call waiting this long turns its wallboard tile red", ""},
	{"wallboard.service_level_amber", int64(80), "a service level (percent) below this is amber on the wallboard", ""},
	{"wallboard.service_level_red", int64(60), "a service level (percent) below this is red on the wallboard", ""},
	{"wallboard.callbacks_amber", int64(5), "this many clients on the callback list is amber on the wallboard", ""},
	{"wallboard.callbacks_red", int64(15), "this many clients on the callback list is red on the wallboard", ""},
	{"wallboard.callback_age_amber", 30 * time.Minute, "the oldest callback waiting this long is amber on the wallboard", ""},
	{"wallboard.callback_age_red", 2 * time.Hour, "the oldest callback waiting this long is red on the wallboard", ""},
	{"http.listen", "127.0.0.1:8080", "address (host:port) of the operators' page, the staff's pages and APIs, /healthz, /readyz and /metrics", ""},
	{"http.tls_cert", "", "PEM certificate (chain) to serve HTTPS with; reloaded on SIGHUP and when the file changes", ""},
	{"http.tls_key", "", "PEM private key of http.tls_cert", ""},
	{"http.public_url", "", "the address users open, e.g. https://pbx.example.com (behind a proxy): printed page links and the websocket origin check use it", ""},
	{"http.trusted_proxies", []string{}, "addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto/-Host and Forwarded headers are believed", ""},
	{"cluster.nats_url", "", "NATS URLs (comma-separated) of the cluster's JetStream; empty: a single daemon, no NATS (cluster.go)", ""},
	{"cluster.replica", "", "this daemon's name in the cluster; empty: the host name", ""},
	{"cluster.pbx", "", "the name of the one Asterisk box of ari.url in the cluster's streams; several boxes: asterisk.boxes instead", ""},
	{"cluster.replicas", int64(1), "JetStream replication of the cluster's streams: 3 on a three-node NATS cluster", ""},
	{"cluster.lease_ttl", 3 * time.Second, "a box's lease outlives its holder's last renewal this long: a dead holder is replaced within about it", ""},
	{"cluster.creds_file", "", "NATS credentials file (JWT and seed)", ""},
	{"cluster.user", "", "NATS user (with cluster.password)", ""},
	{"cluster.password", "", "NATS password; prefer SCREENPOP_CLUSTER_PASSWORD", ""},
	{"cluster.token", "", "NATS token; prefer SCREENPOP_CLUSTER_TOKEN", ""},
	{"cluster.ca_file", "", "PEM CA certificate that signed the NATS servers' certificates", ""},
	{"cluster.cert_file", "", "PEM client certificate for NATS servers that ask for one", ""},
	{"cluster.key_file", "", "PEM private key of cluster.cert_file", ""},
	{"log.level", "info", "debug, info, warn or error", ""},
	{"log.format", "text", "text or json", ""},
	{"debug.pprof_listen", "", "loopback address (127.0.0.1:port) to serve Go's profiler (/debug/pprof/) on, for measuring; empty: off", ""},
}

func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// addFlags declares a flag for every setting on fs.
func addFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (YAML)")
	for _, s := range settings {
		name := flagName(s.key)
		switch d := s.def.(type) {
		case string:
			fs.String(name, d, s.usage)
		case []string:
			fs.StringSlice(name, d, s.usage+" (comma-separated)")
		case time.Duration:
			fs.Duration(name, d, s.usage)
		case int64:
			fs.Int64(name, d, s.usage)
		}
		if s.alias != "" {
			// Same type as the long flag, no default: only set if given.
			fs.AddFlag(&pflag.Flag{Name: s.alias, Usage: "same as --" + name, Value: newSliceValue()})
		}
	}
}

// Config is everything the daemon reads from its settings.
type Config struct {
	ARIURL       string
	ARIUsername  string
	ARIPassword  Secret
	ARIApp       string
	ARIMode      string
	ARICAFile    string
	PingInterval time.Duration
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	ARIConnect   string
	ARIREST      string
	// Boxes is asterisk.boxes; empty: the one box of ari.* (see boxes).
	Boxes            []Box
	InboundContexts  []string
	OperatorPattern  []string
	Operators        screenpop.EndpointPatterns
	DIDVariable      string
	StasisDeadline   time.Duration
	OutboundContexts []string
	DialEndpoint     string
	DialContext      string
	Purposes         []string
	ComplaintPurpose string
	StaleAfter       time.Duration
	Linger           time.Duration
	ServiceLevel     time.Duration
	Sources          []screenpop.Source
	Region           string
	KeepWithheld     bool
	Card             screenpop.CardRules
	Wallboard        screenpop.BoardThresholds
	DSN              Secret
	DataDir          string
	SpoolMaxBytes    int64
	CRMDSN           Secret
	CRMQuery         string
	CRMTimeout       time.Duration
	HTTPListen       string
	// httpListener, if set, is HTTPListen bound already (demo --cluster
	// binds its replicas' ports before it starts them).
	httpListener   net.Listener
	TLSCert        string
	TLSKey         string
	PublicURL      *url.URL // nil: not set
	TrustedProxies []netip.Prefix
	LogLevel       slog.Level
	LogFormat      string
	// PprofListen is where the profiler is served; "": not at all.
	PprofListen string
	// File is the config file that was read, "" for none.
	File string
	// Cluster is the clustered mode's settings (cluster.go).
	Cluster ClusterConfig
}

// Secret is a value that never prints.
type Secret string

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// loadConfig reads the config file (if any), then the environment, then
// flags, later ones winning. It reports every problem at once.
func loadConfig(fs *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.SetEnvPrefix("SCREENPOP")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, s := range settings {
		v.SetDefault(s.key, s.def)
		if f := fs.Lookup(flagName(s.key)); f != nil {
			if err := v.BindPFlag(s.key, f); err != nil {
				return Config{}, fmt.Errorf("bind flag --%s: %w", f.Name, err)
			}
		}
		// viper reads the environment only for keys it knows of.
		if err := v.BindEnv(s.key); err != nil {
			return Config{}, fmt.Errorf("bind environment for %s: %w", s.key, err)
		}
	}
	file := ""
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		file = f.Value.String()
	} else if installed() {
		file = systemConfig
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", file, err)
		}
	}
	var problems []error
	bad := func(key, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	duration := func(key string) time.Duration {
		d, err := castDuration(v.Get(key))
		if err != nil {
			bad(key, "%v", err)
		} else if d <= 0 {
			bad(key, "must be positive, got %s", d)
		}
		return d
	}
	list := func(key, alias string) []string {
		if alias != "" {
			if f := fs.Lookup(alias); f != nil && f.Changed {
				return splitList(f.Value.(*sliceValue).vals)
			}
		}
		return splitList(v.Get(key))
	}
	known := knownKeys()
	for _, k := range v.AllKeys() {
		if !known[k] {
			bad(k, "unknown setting (see config.example.yaml)")
		}
	}

	c := Config{
		ARIURL:           strings.TrimRight(v.GetString("ari.url"), "/"),
		ARIUsername:      v.GetString("ari.username"),
		ARIApp:           v.GetString("ari.app"),
		ARIMode:          v.GetString("ari.mode"),
		ARICAFile:        v.GetString("ari.ca_file"),
		PingInterval:     duration("ari.ping_interval"),
		ReconnectMin:     duration("ari.reconnect_min"),
		ReconnectMax:     duration("ari.reconnect_max"),
		ARIConnect:       strings.TrimSpace(v.GetString("ari.connect")),
		ARIREST:          strings.TrimSpace(v.GetString("ari.rest")),
		InboundContexts:  list("asterisk.inbound_contexts", "inbound-contexts"),
		OperatorPattern:  list("asterisk.operator_endpoints", "operator-endpoints"),
		DIDVariable:      v.GetString("asterisk.did_variable"),
		StasisDeadline:   duration("asterisk.stasis_deadline"),
		OutboundContexts: list("asterisk.outbound_contexts", ""),
		DialEndpoint:     v.GetString("asterisk.dial_endpoint"),
		DialContext:      v.GetString("asterisk.dial_context"),
		Purposes:         list("calls.purposes", ""),
		ComplaintPurpose: v.GetString("calls.complaint_purpose"),
		StaleAfter:       duration("calls.stale_after"),
		Linger:           duration("calls.linger"),
		ServiceLevel:     duration("reports.service_level"),
		Region:           strings.ToUpper(v.GetString("phone.default_region")),
		KeepWithheld:     v.GetBool("phone.keep_withheld_numbers"),
		DSN:              Secret(v.GetString("store.dsn")),
		DataDir:          v.GetString("store.data_dir"),
		SpoolMaxBytes:    v.GetInt64("store.spool_max_bytes"),
		CRMDSN:           Secret(strings.TrimSpace(v.GetString("crm.dsn"))),
		CRMQuery:         strings.TrimSpace(v.GetString("crm.query")),
		CRMTimeout:       duration("crm.timeout"),
		HTTPListen:       v.GetString("http.listen"),
		TLSCert:          v.GetString("http.tls_cert"),
		TLSKey:           v.GetString("http.tls_key"),
		LogFormat:        v.GetString("log.format"),
		PprofListen:      strings.TrimSpace(v.GetString("debug.pprof_listen")),
		File:             file,
	}
	c.Cluster = loadCluster(v, bad, duration)

	if u, err := url.Parse(c.ARIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("ari.url", "want http://host:port/ari or https://..., got %q", c.ARIURL)
	} else if u.User != nil {
		bad("ari.url", "put the username and password in ari.username and ari.password, not in the URL")
	}
	if c.ARIUsername == "" {
		bad("ari.username", "must be set")
	}
	pw, pwFile := v.GetString("ari.password"), v.GetString("ari.password_file")
	switch {
	case pw != "" && pwFile != "":
		bad("ari.password", "set either ari.password or ari.password_file, not both")
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			bad("ari.password_file", "%v", err)
		}
		c.ARIPassword = Secret(strings.TrimSpace(string(b)))
	default:
		c.ARIPassword = Secret(pw)
	}
	if c.ARIApp == "" || strings.ContainsAny(c.ARIApp, "/?&# ") {
		bad("ari.app", "must be a plain name such as screenpop, got %q", c.ARIApp)
	}
	switch c.ARIMode {
	case "observe", "stasis", "both":
	default:
		bad("ari.mode", "want observe, stasis or both, got %q", c.ARIMode)
	}
	if c.ARICAFile != "" {
		if _, err := os.Stat(c.ARICAFile); err != nil {
			bad("ari.ca_file", "%v", err)
		}
	}
	if c.ARIConnect != connectInbound && c.ARIConnect != connectOutbound {
		bad("ari.connect", "want inbound or outbound, got %q", c.ARIConnect)
	}
	if c.ARIREST != "websocket" && c.ARIREST != "http" {
		bad("ari.rest", "want websocket or http, got %q", c.ARIREST)
	}
	c.Boxes = configBoxes(v.Get("asterisk.boxes"), c, func(format string, args ...any) { bad("asterisk.boxes", format, args...) })
	if len(c.Boxes) > 0 && c.Cluster.PBX != "" {
		// A cluster's boxes are named by asterisk.boxes, as a single
		// daemon's; cluster.pbx names the one box of ari.url.
		bad("cluster.pbx", "set either cluster.pbx (the one box of ari.url) or asterisk.boxes (several, each named), not both")
	}
	if c.ReconnectMin > 0 && c.ReconnectMax > 0 && c.ReconnectMax < c.ReconnectMin {
		bad("ari.reconnect_max", "is shorter than ari.reconnect_min")
	}
	if len(c.InboundContexts) == 0 {
		bad("asterisk.inbound_contexts", "list at least one dialplan context, such as from-trunk")
	}
	if len(c.OperatorPattern) == 0 {
		bad("asterisk.operator_endpoints", "list at least one pattern, such as PJSIP/{ext}")
	} else if ops, err := screenpop.ParseEndpointPatterns(c.OperatorPattern); err != nil {
		bad("asterisk.operator_endpoints", "%v", err)
	} else {
		c.Operators = ops
	}
	if n := strings.Count(c.DialEndpoint, "{ext}"); n != 1 || !strings.Contains(c.DialEndpoint, "/") {
		bad("asterisk.dial_endpoint", "want a technology and {ext}, such as PJSIP/{ext}, got %q", c.DialEndpoint)
	}
	if c.DialContext == "" {
		bad("asterisk.dial_context", "must be set (from-internal by default)")
	}
	if len(c.Purposes) == 0 {
		bad("calls.purposes", "list at least one purpose, such as other")
	}
	if c.ComplaintPurpose != "" && !slices.Contains(c.Purposes, c.ComplaintPurpose) {
		bad("calls.complaint_purpose", "%q is not one of calls.purposes", c.ComplaintPurpose)
	}
	if c.ServiceLevel <= 0 {
		bad("reports.service_level", "want a positive duration such as 20s, got %v", c.ServiceLevel)
	}
	c.Sources = configSources(v.Get("calls.sources"), func(format string, args ...any) { bad("calls.sources", format, args...) })
	if c.DIDVariable == "" {
		bad("asterisk.did_variable", "must be set (FROM_DID by default)")
	}
	if !screenpop.ValidRegion(c.Region) {
		bad("phone.default_region", "%q is not a country code libphonenumber knows (such as RU)", c.Region)
	}
	c.Card = screenpop.CardRules{
		RegularVisits: int(v.GetInt64("card.regular_visits")),
		LostAfter:     duration("card.lost_after"),
		Horizon:       duration("card.alert_within"),
		ConflictLevel: int(v.GetInt64("card.conflict_level")),
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(v.GetString("card.low_csi")), 64); err != nil {
		bad("card.low_csi", "want a number such as 7, got %q", v.GetString("card.low_csi"))
	} else {
		c.Card.LowCSI = f
	}
	if c.Card.RegularVisits < 0 {
		bad("card.regular_visits", "must be 0 or more")
	}
	if c.Card.ConflictLevel < 0 || c.Card.ConflictLevel > 3 {
		bad("card.conflict_level", "must be 0 (never flag) to 3")
	}
	if c.Card.LowCSI < 0 || c.Card.LowCSI > 10 {
		bad("card.low_csi", "must be 0 (never flag) to 10, got %v", v.Get("card.low_csi"))
	}
	if dsn := string(c.DSN); dsn != "" && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.Contains(dsn, "=") {
		bad("store.dsn", "want a PostgreSQL URL (postgres://user@host/db) or key=value DSN")
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
		if installed() {
			c.DataDir = systemDataDir
		}
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs // errors and printed paths say where, wherever the command ran
	}
	checkHTTPConfig(&c, v, bad)
	checkCRMConfig(c, bad)
	c.Wallboard = wallboardConfig(v, duration, bad)
	if c.SpoolMaxBytes < 1<<20 {
		bad("store.spool_max_bytes", "must be at least 1 MiB, got %d", c.SpoolMaxBytes)
	}
	if err := c.LogLevel.UnmarshalText([]byte(v.GetString("log.level"))); err != nil {
		bad("log.level", "want debug, info, warn or error, got %q", v.GetString("log.level"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log.format", "want text or json, got %q", c.LogFormat)
	}
	if err := checkPprofListen(c.PprofListen); err != nil {
		bad("debug.pprof_listen", "%v", err)
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("invalid config:\n  %w", joinLines(problems))
	}
	return c, nil
}

func knownKeys() map[string]bool {
	m := map[string]bool{}
	for _, s := range settings {
		m[s.key] = true
	}
	return m
}

// joinLines joins errors one a line, for a config report.
func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

func castDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case time.Duration:
		return d, nil
	case string:
		return time.ParseDuration(d)
	case int:
		return time.Duration(d) * time.Second, nil
	case float64:
		return time.Duration(d * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("want a duration such as 5s, got %v", v)
}

// splitList accepts a YAML list, or a comma-separated string from the
// environment or a flag.
func splitList(v any) []string {
	var raw []string
	switch l := v.(type) {
	case []string:
		raw = l
	case []any:
		for _, x := range l {
			raw = append(raw, fmt.Sprint(x))
		}
	case string:
		raw = []string{l}
	}
	var out []string
	for _, r := range raw {
		for _, p := range strings.Split(r, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// sliceValue is a comma-separated list flag with no default of its own.
type sliceValue struct{ vals []string }

func newSliceValue() *sliceValue { return &sliceValue{} }

func (s *sliceValue) String() string { return strings.Join(s.vals, ",") }
func (s *sliceValue) Set(v string) error {
	s.vals = append(s.vals, v)
	return nil
}
func (s *sliceValue) Type() string { return "strings" }

// logger builds the daemon's one logger.
func (c Config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

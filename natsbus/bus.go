package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the streams and buckets, and the subjects' prefixes.
const (
	EventsStream  = "SP_EVENTS"
	ScreensStream = "SP_SCREENS"
	CallsStream   = "SP_CALLS"
	LeasesBucket  = "SP_LEASES"

	eventsSubject  = "sp.ev."   // sp.ev.<pbx>.e (events), .r (a resync's batch), .h (a handover mark)
	screensSubject = "sp.op."   // sp.op.<ext>.<pbx>.<call>
	liveSubject    = "sp.live." // where SP_SCREENS republishes sp.op.>
	callsSubject   = "sp.call." // sp.call.<pbx>

	// writerConsumer is the durable consumer the call log writers of all
	// replicas share.
	writerConsumer = "writer"
)

// Defaults.
const (
	DefaultLeaseTTL = 3 * time.Second
	// eventsMaxAge: a takeover needs the log's last seconds; the rest is
	// for diagnostics and for replicas that join.
	eventsMaxAge = 24 * time.Hour
	// screensMaxAge is how long an operator's session list reaches back.
	screensMaxAge = 12 * time.Hour
	// callsDuplicates is the window in which a record published again (a
	// retry, a takeover) is dropped by the stream; the database's unique
	// key covers the rest.
	callsDuplicates = 2 * time.Minute
	callsMaxBytes   = 1 << 30
	// writerAckWait bounds how late a record is written when the writer
	// that took it dies.
	writerAckWait = 10 * time.Second
)

// Config says how to reach NATS and how to lay the cluster out.
type Config struct {
	// URL is one or more NATS URLs, comma-separated.
	URL string
	// Replica names this daemon in leases and connection names.
	Replica string
	// CredsFile is a NATS credentials file (JWT and NKey seed); User and
	// Password, or Token, are the alternatives.
	CredsFile      string
	User, Password string
	Token          string
	// CAFile verifies the servers; CertFile and KeyFile are this client's
	// certificate for servers that ask for one (mutual TLS).
	CAFile, CertFile, KeyFile string
	// Replicas is the JetStream replication of streams and buckets: 3 on
	// a three-node cluster, 1 on a single server.
	Replicas int
	// LeaseTTL is how long a box's lease outlives its holder's last
	// renewal: a replica killed is replaced within about this long.
	LeaseTTL time.Duration
}

// Bus is a connection to NATS with the cluster's streams in place.
type Bus struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	events  jetstream.Stream
	screens jetstream.Stream
	calls   jetstream.Stream
	leases  jetstream.KeyValue
	boxes   jetstream.KeyValue // BoxesBucket
	// epoch names SP_SCREENS' numbering: pages keep their place across
	// replicas as long as the stream is the same one.
	epoch string
	hooks *connHooks
	// fetchWait bounds a read of the operators' screens waiting for
	// more of them (lastPerSubject).
	fetchWait time.Duration
}

// connHooks are told when the connection to NATS goes and comes back.
type connHooks struct {
	mu sync.Mutex
	fs []func(up bool)
}

func (h *connHooks) call(up bool) {
	h.mu.Lock()
	fs := slices.Clone(h.fs)
	h.mu.Unlock()
	for _, f := range fs {
		f(up)
	}
}

// OnConnection has f told, on the NATS client's goroutine, each time the
// connection to NATS is lost (up false) and each time it is made again
// (up true). f must return at once.
func (b *Bus) OnConnection(f func(up bool)) {
	b.hooks.mu.Lock()
	defer b.hooks.mu.Unlock()
	b.hooks.fs = append(b.hooks.fs, f)
}

// Connect dials NATS and makes (or checks) the streams, the bucket and
// the writers' consumer.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	if cfg.URL == "" {
		return nil, errors.New("connect to NATS: no URL")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Replica == "" {
		cfg.Replica, _ = os.Hostname()
	}
	hooks := &connHooks{}
	opts := dialOptions(cfg, log, hooks)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redact(cfg.URL), err)
	}
	// A screen message published without waiting (Screens.Run) that
	// has no answer in time counts as failed, and is sent again.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(screensAckWait))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	b := &Bus{cfg: cfg, log: log, nc: nc, js: js, hooks: hooks, fetchWait: time.Second}
	// Replicas starting together race to make the streams, and a cluster
	// just formed may be electing leaders: try again until ctx ends.
	if err := retry(ctx, log, "make the cluster's streams", func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return b.ensure(actx)
	}); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// dialOptions are the connection's options: its name, reconnecting for
// ever, and the credentials and TLS of cfg; hooks hear of the
// connection lost and back (nil: nobody listens).
func dialOptions(cfg Config, log *slog.Logger, hooks *connHooks) []nats.Option {
	if hooks == nil {
		hooks = &connHooks{}
	}
	opts := []nats.Option{
		nats.Name("screenpopd " + cfg.Replica),
		// The default gives up after 60 attempts and closes for good.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost; reconnecting", "err", err)
			}
			hooks.call(false)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
			hooks.call(true)
		}),
	}
	switch {
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	return opts
}

// ensure makes the streams, the bucket and the writers' consumer if they
// are not there, and updates them to this configuration if they are.
func (b *Bus) ensure(ctx context.Context) error {
	r := b.cfg.Replicas
	var err error
	if b.events, err = b.stream(ctx, jetstream.StreamConfig{
		Name: EventsStream, Subjects: []string{eventsSubject + ">"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: eventsMaxAge, Duplicates: callsDuplicates, Replicas: r,
	}); err != nil {
		return fmt.Errorf("make stream %s: %w", EventsStream, err)
	}
	if b.screens, err = b.stream(ctx, jetstream.StreamConfig{
		Name: ScreensStream, Subjects: []string{screensSubject + ">"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: screensMaxAge, MaxMsgsPerSubject: 1, Replicas: r,
		RePublish: &jetstream.RePublish{Source: screensSubject + ">", Destination: liveSubject + ">"},
	}); err != nil {
		return fmt.Errorf("make stream %s: %w", ScreensStream, err)
	}
	b.epoch = "c" + fmt.Sprint(b.screens.CachedInfo().Created.UnixMilli())
	if b.calls, err = b.stream(ctx, jetstream.StreamConfig{
		Name: CallsStream, Subjects: []string{callsSubject + ">"}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, MaxBytes: callsMaxBytes, Duplicates: callsDuplicates, Replicas: r,
	}); err != nil {
		return fmt.Errorf("make stream %s: %w", CallsStream, err)
	}
	if _, err = b.calls.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		// A writer that dies with a batch (or a pull still open) leaves it
		// to the others after AckWait; one that lives keeps its batch with
		// InProgress while the database is away.
		Durable: writerConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: writerAckWait,
		MaxAckPending: 5000, Replicas: r,
	}); err != nil {
		return fmt.Errorf("make the call log writers' consumer: %w", err)
	}
	b.leases, err = b.keyValue(ctx, jetstream.KeyValueConfig{Bucket: LeasesBucket, History: 1, TTL: b.cfg.LeaseTTL, Replicas: r, Storage: jetstream.FileStorage})
	if err != nil {
		return err
	}
	b.boxes, err = b.boxesKV(ctx)
	return err
}

// keyValue makes a key-value bucket, or updates it to cfg if it is there.
func (b *Bus) keyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := b.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		kv, err = b.js.UpdateKeyValue(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("make bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// stream makes a stream, or updates it to cfg if it is there. Creating
// first is the quick path on a new cluster, where replicas starting
// together race to make the same streams.
func (b *Bus) stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := b.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return b.js.UpdateStream(ctx, cfg)
	}
	return s, err
}

// Epoch names the screens' numbering (screenpop.NewMirrorHub).
func (b *Bus) Epoch() string { return b.epoch }

// Connected reports whether the connection to NATS is up.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Close closes the connection, after sending what it buffered.
func (b *Bus) Close() {
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
}

// Info is what screenpopd check reports of the cluster's streams.
type Info struct {
	Server   string
	Streams  map[string]int // name -> replicas
	Messages map[string]uint64
}

// Check reports the streams and their replication.
func (b *Bus) Check(ctx context.Context) (Info, error) {
	in := Info{Server: b.nc.ConnectedServerVersion(), Streams: map[string]int{}, Messages: map[string]uint64{}}
	for _, s := range []jetstream.Stream{b.events, b.screens, b.calls} {
		si, err := s.Info(ctx)
		if err != nil {
			return in, fmt.Errorf("read stream %s: %w", s.CachedInfo().Config.Name, err)
		}
		in.Streams[si.Config.Name] = si.Config.Replicas
		in.Messages[si.Config.Name] = si.State.Msgs
	}
	return in, nil
}

// token makes s one token of a subject: '.', '*', '>', '%' and white
// space are escaped as %XX, so distinct names stay distinct.
func token(s string) string {
	if s == "" {
		return "%"
	}
	if !strings.ContainsAny(s, ".*>% \t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '.', '*', '>', '%', ' ', '\t', '\r', '\n':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// redact hides passwords in NATS URLs.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/traces"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of Config.
const (
	DefaultRecords   = 1000
	DefaultOpTimeout = 5 * time.Second
	// DefaultPoolSize bounds each store's connections: enough for the
	// concurrency a closed-loop load puts on one instance, and five stores
	// fit in a default MariaDB's 151 connections.
	DefaultPoolSize = 64
)

// Config says which database to use and what dataset to seed.
type Config struct {
	// Type is the storage service type: redis, mysql or mongodb.
	Type service.Type
	// URL is the database: redis://host:port[/db], mysql://user:pass@host:port/db
	// or mongodb://host:port/db.
	URL string
	// Records is the dataset size (ids 1..Records); 0 means DefaultRecords.
	Records int
	// Seed determines the payloads and the reads' draws.
	Seed int64
	// OpTimeout bounds each read and write (and each dial); 0 means
	// DefaultOpTimeout. A shorter deadline on the request's context wins.
	OpTimeout time.Duration
	// PoolSize is the most connections the store holds; 0 means DefaultPoolSize.
	PoolSize int
	// Logger receives the seeding; nil discards it.
	Logger *slog.Logger
	// Tracer, if set, makes a client span per read and insert, with the
	// database in db.system.
	Tracer trace.Tracer
}

// Store is a connected, seeded database.
type Store interface {
	// Do makes reads random point reads of the seeded dataset, then writes
	// inserts, one after another; the first failure is returned.
	Do(ctx context.Context, reads, writes int) error
	// Close releases the connections.
	Close() error
}

// backend is one database's operations; the shared part (draws, timeouts,
// error wording) lives in store.
type backend interface {
	// seed makes the dataset present, replacing one of another tag.
	seed(ctx context.Context, d dataset) error
	// read fetches record id, which must exist.
	read(ctx context.Context, id int64) error
	// write inserts a new record with payload; n numbers the store's
	// inserts from 1, for backends that name records themselves.
	write(ctx context.Context, n int64, payload string) error
	close() error
}

// Open connects to the database, checks that it answers, and creates the
// seeded dataset unless it is already there. ctx bounds all of it.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // parsed by defaults
	hostport, err := HostPort(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", cfg.Type, err)
	}
	var b backend
	switch cfg.Type {
	case service.TypeRedis:
		b, err = openRedis(ctx, cfg)
	case service.TypeMySQL:
		b, err = openMySQL(ctx, cfg, u, hostport)
	case service.TypeMongoDB:
		b, err = openMongo(ctx, cfg, u)
	}
	if err != nil {
		return nil, fmt.Errorf("storage %s: connect to %s: %w", cfg.Type, hostport, err)
	}
	d := dataset{records: cfg.Records, seed: cfg.Seed}
	begin := time.Now()
	if err := b.seed(ctx, d); err != nil {
		_ = b.close()
		return nil, fmt.Errorf("storage %s: seed %d records at %s: %w", cfg.Type, cfg.Records, hostport, err)
	}
	cfg.Logger.Info("storage dataset ready", "type", cfg.Type, "db", hostport,
		"records", cfg.Records, "seed", cfg.Seed, "took", time.Since(begin))
	return &store{
		kind: cfg.Type, b: b, d: d, timeout: cfg.OpTimeout,
		rng: readRand(cfg.Seed), tracer: cfg.Tracer,
	}, nil
}

func (c *Config) defaults() error {
	if !c.Type.IsStorage() {
		return fmt.Errorf("storage: type %q has no database (want %s, %s or %s)",
			c.Type, service.TypeRedis, service.TypeMySQL, service.TypeMongoDB)
	}
	if c.URL == "" {
		return fmt.Errorf("storage %s: no database URL", c.Type)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("storage %s: parse URL: %w", c.Type, redactErr(err))
	}
	if want := schemes[c.Type]; !strings.Contains(" "+want+" ", " "+u.Scheme+" ") {
		return fmt.Errorf("storage %s: URL %s: scheme %q, want %s", c.Type, redact(u), u.Scheme, strings.ReplaceAll(want, " ", " or "))
	}
	switch {
	case c.Records == 0:
		c.Records = DefaultRecords
	case c.Records < 0:
		return fmt.Errorf("storage %s: records %d: want a positive dataset size", c.Type, c.Records)
	}
	if c.OpTimeout < 0 || c.PoolSize < 0 {
		return fmt.Errorf("storage %s: negative op timeout %v or pool size %d", c.Type, c.OpTimeout, c.PoolSize)
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// readRand draws the ids to read. Its stream (1<<63) is apart from the
// payloads' (which use the record id) so that neither depends on the other.
func readRand(seed int64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(uint64(seed), 1<<63))
}

// store adds to a backend what every database shares.
type store struct {
	kind    service.Type
	b       backend
	d       dataset
	timeout time.Duration
	writes  atomic.Int64
	tracer  trace.Tracer

	mu  sync.Mutex
	rng *mrand.Rand
}

func (s *store) Do(ctx context.Context, reads, writes int) error {
	if reads < 0 || writes < 0 {
		return fmt.Errorf("storage %s: %d reads and %d writes: want counts ≥ 0", s.kind, reads, writes)
	}
	for range reads {
		id := s.pick()
		if err := s.op(ctx, "read", func(ctx context.Context) error { return s.b.read(ctx, id) }); err != nil {
			return fmt.Errorf("storage %s: read record %d: %w", s.kind, id, err)
		}
	}
	for range writes {
		n := s.writes.Add(1)
		if err := s.op(ctx, "insert", func(ctx context.Context) error { return s.b.write(ctx, n, s.d.writePayload(n)) }); err != nil {
			return fmt.Errorf("storage %s: insert: %w", s.kind, err)
		}
	}
	return nil
}

// op runs one operation under the per-operation timeout, in its own span
// when the store traces.
func (s *store) op(ctx context.Context, name string, f func(context.Context) error) error {
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.tracer.Start(ctx, string(s.kind)+" "+name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(traces.AttrDBSystem.String(string(s.kind))))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := f(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Drivers report a deadline as their own I/O error; say which.
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	if span != nil {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	return err
}

func (s *store) pick() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 1 + s.rng.Int64N(int64(s.d.records))
}

func (s *store) Close() error {
	if err := s.b.close(); err != nil {
		return fmt.Errorf("storage %s: close: %w", s.kind, err)
	}
	return nil
}

// dataset is the seeded records: ids 1..records, payloads from seed.
type dataset struct {
	records int
	seed    int64
}

// tag identifies the dataset in the database's metadata, so that Open
// keeps one that is already there and replaces one that differs.
func (d dataset) tag() string {
	return fmt.Sprintf("vecro-dataset/v1 records=%d seed=%d", d.records, d.seed)
}

// payload is record id's content: 64 hex digits drawn from (seed, id).
func (d dataset) payload(id int64) string {
	r := mrand.NewPCG(uint64(d.seed), uint64(id))
	var b [32]byte
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// writePayload is the content of this store's n-th insert: a record beyond
// the seeded ones, the same size as theirs.
func (d dataset) writePayload(n int64) string {
	return d.payload(int64(d.records) + n)
}

// chunks calls f for consecutive id ranges [from, to] of at most size ids.
func (d dataset) chunks(size int, f func(from, to int64) error) error {
	for from := int64(1); from <= int64(d.records); from += int64(size) {
		to := min(from+int64(size)-1, int64(d.records))
		if err := f(from, to); err != nil {
			return err
		}
	}
	return nil
}

// ErrMissingRecord is wrapped by a read of a seeded id that the database
// does not have (the dataset was changed behind the store's back).
var ErrMissingRecord = errors.New("seeded record missing")

// schemes are the URL schemes each type accepts.
var schemes = map[service.Type]string{service.TypeRedis: "redis rediss", service.TypeMySQL: "mysql", service.TypeMongoDB: "mongodb"}

// defaultPorts are the databases' well-known ports, for URLs without one.
var defaultPorts = map[string]string{"redis": "6379", "rediss": "6379", "mysql": "3306", "mongodb": "27017"}

// HostPort returns the host:port a database URL dials (the default port of
// its scheme when it names none). The service fronts that address with the
// fault agent's database proxy.
func HostPort(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", redactErr(err))
	}
	def, ok := defaultPorts[u.Scheme]
	if !ok {
		return "", fmt.Errorf("database URL %s: scheme %q: want redis, rediss, mysql or mongodb", redact(u), u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("database URL %s: no host", redact(u))
	}
	if strings.Contains(u.Host, ",") {
		return "", fmt.Errorf("database URL %s: several hosts; the agent fronts one database address", redact(u))
	}
	port := u.Port()
	if port == "" {
		port = def
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("database URL %s: port %q: %w", redact(u), port, err)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// WithHostPort returns rawURL with its host:port replaced by hostport (the
// agent's proxy), keeping scheme, user, password, database and parameters.
func WithHostPort(rawURL, hostport string) (string, error) {
	if _, err := HostPort(rawURL); err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("database address %q: %w", hostport, err)
	}
	if host == "" {
		return "", fmt.Errorf("database address %q: no host", hostport)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("database address %q: port: %w", hostport, err)
	}
	u, _ := url.Parse(rawURL) // parsed by HostPort above
	u.Host = net.JoinHostPort(host, port)
	return u.String(), nil
}

// redact hides a URL's password in messages.
func redact(u *url.URL) string { return u.Redacted() }

// redactErr keeps a URL parse error from echoing the password: url.Parse
// quotes the whole input.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// randomID names this store's inserts where the database gives no ids
// (redis keys), so that two stores, or one restarted, never collide.
func randomID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random key prefix: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

// EmbeddedOptions configure an Embedded source. Zero values mean the
// defaults given per field.
type EmbeddedOptions struct {
	// Dir holds the TSDB. Default: a new temporary directory, removed by
	// Close. A given Dir is left in place.
	Dir string
	// ScrapeInterval is how often every target is scraped. Default 1s, the
	// step of the datasets.
	ScrapeInterval time.Duration
	// ScrapeTimeout bounds one scrape. Default: ScrapeInterval; it must not
	// exceed it, as in Prometheus.
	ScrapeTimeout time.Duration
	// Retention is how long samples are kept. Default 15 days (Prometheus'
	// default); a run rarely lasts longer than the TSDB head's two hours.
	Retention time.Duration
	// WAL turns on the TSDB's write-ahead log. Default off: the embedded
	// source lives for one run and is never reopened, so the log would only
	// cost CPU and disk writes.
	WAL bool
	// LookbackDelta is how far back an instant selector looks for a sample.
	// Default 5m (Prometheus' default).
	LookbackDelta time.Duration
	// QueryTimeout bounds one query. Default 2m (Prometheus' default).
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory. Default
	// 50,000,000 (Prometheus' default).
	MaxSamples int
	// BodySizeLimit bounds one scrape's response body; a larger body fails
	// the scrape. Default 64 MiB.
	BodySizeLimit int64
	// Compression asks targets for gzip. Default off: targets are on
	// loopback, where compressing costs both sides CPU and saves nothing.
	Compression bool
	// Client performs the scrapes. Default: a client whose transport keeps
	// one idle connection per target (net/http's default total of 100 idle
	// connections would make a large system reconnect on every scrape).
	Client *http.Client
	// Logger receives scrape failures (once per change of a target's
	// error) and query warnings. Default: discard.
	Logger *slog.Logger
	// OnWarnings, if set, receives the warnings of every query; otherwise
	// they are logged at warn level.
	OnWarnings WarningFunc
}

// WarningFunc receives the non-fatal warnings a query produced (for example
// "metric might not be a counter"), with the query they belong to.
type WarningFunc func(query string, warnings []string)

// Defaults of EmbeddedOptions.
const (
	DefaultScrapeInterval = time.Second
	defaultRetention      = 15 * 24 * time.Hour
	defaultLookbackDelta  = 5 * time.Minute
	defaultQueryTimeout   = 2 * time.Minute
	defaultMaxSamples     = 50_000_000
	defaultBodySizeLimit  = 64 << 20
)

func (o EmbeddedOptions) withDefaults() (EmbeddedOptions, error) {
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = DefaultScrapeInterval
	}
	if o.ScrapeTimeout == 0 {
		o.ScrapeTimeout = o.ScrapeInterval
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.LookbackDelta == 0 {
		o.LookbackDelta = defaultLookbackDelta
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = defaultQueryTimeout
	}
	if o.MaxSamples == 0 {
		o.MaxSamples = defaultMaxSamples
	}
	if o.BodySizeLimit == 0 {
		o.BodySizeLimit = defaultBodySizeLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.ScrapeInterval < time.Millisecond:
		return o, fmt.Errorf("embedded metrics: scrape interval %v is shorter than the TSDB's 1ms resolution", o.ScrapeInterval)
	case o.ScrapeTimeout < 0 || o.ScrapeTimeout > o.ScrapeInterval:
		return o, fmt.Errorf("embedded metrics: scrape timeout %v must be positive and at most the scrape interval %v", o.ScrapeTimeout, o.ScrapeInterval)
	case o.Retention < 0:
		return o, fmt.Errorf("embedded metrics: negative retention %v", o.Retention)
	case o.LookbackDelta < 0 || o.QueryTimeout < 0 || o.MaxSamples < 0 || o.BodySizeLimit < 0:
		return o, errors.New("embedded metrics: negative lookback delta, query timeout, max samples or body size limit")
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // targets are local; a proxy from the environment would break them
			DialContext:         (&net.Dialer{Timeout: o.ScrapeTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     max(90*time.Second, 3*o.ScrapeInterval),
			DisableCompression:  !o.Compression,
		}}
	}
	return o, nil
}

// Target is one metrics endpoint to scrape.
type Target struct {
	// URL of the endpoint, e.g. http://127.0.0.1:40123/metrics.
	URL string
	// Labels are added to every series scraped from the target (the runtime
	// passes system, service, instance and job). "job" defaults to
	// DefaultJob and "instance" to the URL's host:port, as in Prometheus.
	Labels map[string]string
}

// DefaultJob is the job label of a target that names none.
const DefaultJob = "vecro"

// TargetHealth is the state of one target's scraping, for diagnostics.
type TargetHealth struct {
	Target Target
	// Health is "up", "down" or "unknown" (not scraped yet), as Prometheus
	// reports it.
	Health string
	// LastError is the last scrape's error, empty when it succeeded.
	LastError string
	// LastScrape is the timestamp of the last scrape; LastDuration how long
	// it took.
	LastScrape   time.Time
	LastDuration time.Duration
	// Samples is the number of samples the last scrape stored.
	Samples int
}

// Embedded is a Source that scrapes targets itself, stores the samples in a
// Prometheus TSDB and answers with the Prometheus PromQL engine, all in
// this process. Its Handler serves the same data over the Prometheus HTTP
// API.
type Embedded struct {
	opts    EmbeddedOptions
	db      *tsdb.DB
	engine  *promql.Engine
	parser  parser.Parser
	tempDir string
	seed    uint64

	// ctx ends every scrape loop on Close; loops also end on their own
	// cancel when their target is removed.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex // guards loops and closed; queries hold it for reading
	loops   map[string]*scrapeLoop
	closed  bool
	closeMu sync.Mutex // serialises Close
}

var _ Source = (*Embedded)(nil)

// NewEmbedded opens a TSDB and a PromQL engine. It scrapes nothing until
// SetTargets.
func NewEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Embedded{opts: opts, loops: map[string]*scrapeLoop{}}
	dir := opts.Dir
	if dir == "" {
		dir, err = os.MkdirTemp("", "vecro-tsdb-")
		if err != nil {
			return nil, fmt.Errorf("embedded metrics: create TSDB directory: %w", err)
		}
		e.tempDir = dir
	}
	tOpts := tsdb.DefaultOptions()
	tOpts.RetentionDuration = opts.Retention.Milliseconds()
	if !opts.WAL {
		tOpts.WALSegmentSize = -1
	}
	db, err := tsdb.Open(dir, opts.Logger.With("component", "tsdb"), nil, tOpts, nil)
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("embedded metrics: open TSDB in %s: %w", dir, err)
	}
	e.db = db
	e.parser = parser.NewParser(parser.Options{})
	e.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger.With("component", "promql"),
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               e.parser,
		// The default step of subqueries without one, as Prometheus sets
		// it: the global evaluation interval, here the scrape interval.
		NoStepSubqueryIntervalFn: func(int64) int64 { return opts.ScrapeInterval.Milliseconds() },
	})
	e.seed = offsetSeed()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// offsetSeed spreads the scrape phases of different hosts, as Prometheus
// seeds its offsets with the host name.
func offsetSeed() uint64 {
	h := fnv.New64a()
	host, _ := os.Hostname()
	h.Write([]byte(host))
	return h.Sum64()
}

func (e *Embedded) removeTemp() {
	if e.tempDir != "" {
		if err := os.RemoveAll(e.tempDir); err != nil {
			e.opts.Logger.Warn("remove TSDB directory", "dir", e.tempDir, "err", err)
		}
	}
}

// labelNameRE is Prometheus' classic label name syntax; target labels are
// written into queries by the families, so nothing wider is accepted.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// targetKey identifies a target by URL and labels, so that a target whose
// labels change is a new target, as in Prometheus.
func targetKey(t Target) string {
	var b strings.Builder
	b.WriteString(t.URL)
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		b.WriteByte(0xff)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(t.Labels[k])
	}
	return b.String()
}

// normalizeTarget checks t and fills in the job and instance defaults.
func normalizeTarget(i int, t Target) (Target, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return t, fmt.Errorf("target %d: URL %q: %w", i, t.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t, fmt.Errorf("target %d: URL %q is not an absolute http(s) URL", i, t.URL)
	}
	lbls := make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") {
			return t, fmt.Errorf("target %d (%s): invalid label name %q (want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", i, t.URL, k)
		}
		if v == "" {
			// An empty value is no label in Prometheus' data model.
			continue
		}
		lbls[k] = v
	}
	if lbls["job"] == "" {
		lbls["job"] = DefaultJob
	}
	if lbls["instance"] == "" {
		lbls["instance"] = u.Host
	}
	return Target{URL: t.URL, Labels: lbls}, nil
}

// SetTargets replaces the set of scraped targets. New targets start
// scraping at their own phase of the interval; removed targets stop, and
// their series are marked stale shortly after, as Prometheus does. Targets
// that stay keep scraping undisturbed.
func (e *Embedded) SetTargets(targets []Target) error {
	want := make(map[string]Target, len(targets))
	for i, t := range targets {
		nt, err := normalizeTarget(i, t)
		if err != nil {
			return fmt.Errorf("embedded metrics: set targets: %w", err)
		}
		k := targetKey(nt)
		if _, dup := want[k]; dup {
			return fmt.Errorf("embedded metrics: set targets: target %d (%s) is listed twice with the same labels", i, t.URL)
		}
		want[k] = nt
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("embedded metrics: set targets: source is closed")
	}
	for k, l := range e.loops {
		if _, keep := want[k]; !keep {
			l.stop()
			delete(e.loops, k)
		}
	}
	for k, t := range want {
		if _, running := e.loops[k]; running {
			continue
		}
		l := newScrapeLoop(e, t)
		e.loops[k] = l
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			l.run()
		}()
	}
	return nil
}

// Targets reports the health of every target, sorted by URL.
func (e *Embedded) Targets() []TargetHealth {
	e.mu.RLock()
	out := make([]TargetHealth, 0, len(e.loops))
	for _, l := range e.loops {
		out = append(out, l.health())
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b TargetHealth) int {
		return strings.Compare(targetKey(a.Target), targetKey(b.Target))
	})
	return out
}

// Close stops every scrape loop and closes the TSDB. Queries fail after it.
// It is safe to call twice.
func (e *Embedded) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.loops = nil
	e.mu.Unlock()
	// No end-of-run staleness here: the data ends with the source, as
	// Prometheus writes none on shutdown.
	e.cancel()
	e.wg.Wait()
	err := e.db.Close()
	e.removeTemp()
	if err != nil {
		return fmt.Errorf("embedded metrics: close TSDB: %w", err)
	}
	return nil
}

// Query evaluates an instant query at t.
func (e *Embedded) Query(ctx context.Context, query string, t time.Time) ([]Series, error) {
	t = t.Truncate(time.Millisecond)
	res, warnings, err := e.exec(ctx, query, func() (promql.Query, error) {
		return e.engine.NewInstantQuery(ctx, e.db, nil, query, t)
	})
	if err != nil {
		return nil, fmt.Errorf("embedded query %q at %s: %w", query, t.Format(time.RFC3339Nano), err)
	}
	e.warn(query, warnings)
	return res, nil
}

// QueryRange evaluates query at every step of r.
func (e *Embedded) QueryRange(ctx context.Context, query string, r Range) ([]Series, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("embedded query %q: %w", query, err)
	}
	r = r.Truncate()
	res, warnings, err := e.exec(ctx, query, func() (promql.Query, error) {
		return e.engine.NewRangeQuery(ctx, e.db, nil, query, r.Start, r.End, r.Step)
	})
	if err != nil {
		return nil, fmt.Errorf("embedded range query %q over %s..%s step %v: %w", query, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Step, err)
	}
	e.warn(query, warnings)
	return res, nil
}

// exec runs a query built by newQuery and converts its result.
func (e *Embedded) exec(ctx context.Context, query string, newQuery func() (promql.Query, error)) ([]Series, []string, error) {
	var (
		series   []Series
		warnings []string
	)
	err := e.execRaw(ctx, newQuery, func(res *promql.Result) error {
		var err error
		series, err = seriesOf(res.Value)
		warnings, _ = res.Warnings.AsStrings(query, 0, 0)
		return err
	})
	return series, warnings, err
}

// execRaw runs a query built by newQuery and hands its result to consume,
// holding the source open meanwhile. The result is only valid inside
// consume: closing the query returns its memory to the engine's pools.
func (e *Embedded) execRaw(ctx context.Context, newQuery func() (promql.Query, error), consume func(*promql.Result) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return errClosed
	}
	q, err := newQuery()
	if err != nil {
		return err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return res.Err
	}
	return consume(res)
}

func (e *Embedded) warn(query string, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	if e.opts.OnWarnings != nil {
		e.opts.OnWarnings(query, warnings)
		return
	}
	e.opts.Logger.Warn("query warnings", "query", query, "warnings", warnings)
}

// errClosed is the error of a query after Close.
var errClosed = errors.New("source is closed")

package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// acceptHeader prefers the protobuf exposition, the only format of
// client_golang that carries native histograms, as Prometheus 3 does with
// scrape_native_histograms (its DefaultProtoFirstScrapeProtocols); targets
// that serve only text get the text format, parsed by the same library.
const acceptHeader = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,` +
	`text/plain;version=0.0.4;q=0.3,application/openmetrics-text;version=1.0.0;q=0.2,*/*;q=0.1`

// parserOptions are Prometheus' own parser's settings for a scrape with
// scrape_native_histograms and always_scrape_classic_histograms: a
// histogram exposed both ways is stored both ways, so that the families'
// classic fallback, the _sum/_count series and queries over _bucket keep
// working beside the native series.
var parserOptions = textparse.ParserOptions{
	KeepClassicOnClassicAndNativeHistograms: true,
	FallbackContentType:                     "text/plain",
}

const userAgent = "vecro-embedded-scraper"

// The series every scrape adds about itself, as Prometheus names them.
var reportNames = [...]string{
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling",
	"scrape_series_added",
}

// staleNaN is the value Prometheus writes to end a series.
var staleNaN = math.Float64frombits(value.StaleNaN)

// noIter marks a cache entry created by the current scrape.
const noIter = ^uint64(0)

// timestampTolerance is how far a scrape may start late and still be
// stored at its exact slot on the interval grid, like Prometheus'
// scrape.timestamp-tolerance (2ms, at most 1% of the interval): exact
// spacing compresses far better in the TSDB.
const timestampTolerance = 2 * time.Millisecond

// scrapeOffset is the wait before a target's first scrape. Every target
// gets a fixed phase within the interval from its hash, pinned to absolute
// time, so a set of targets is spread evenly over the interval and a target
// keeps its phase across restarts (Prometheus' Target.offset).
func scrapeOffset(now time.Time, interval time.Duration, hash uint64) time.Duration {
	iv := int64(interval)
	base := iv - now.UnixNano()%iv
	next := base + int64(hash%uint64(iv))
	if next > iv {
		next -= iv
	}
	return time.Duration(next)
}

// alignScrapeTime returns the timestamp to store for a scrape started at
// now, and the grid slot to compare the next scrape with. aligned is the
// previous grid slot; a scrape within the tolerance after its slot is
// stored at the slot itself.
func alignScrapeTime(now, aligned time.Time, interval time.Duration) (ts, slot time.Time) {
	tolerance := min(interval/100, timestampTolerance)
	for now.Sub(aligned) >= interval {
		aligned = aligned.Add(interval)
	}
	if now.Sub(aligned) <= tolerance {
		return aligned, aligned
	}
	return now, aligned
}

// cacheEntry remembers a scraped series between scrapes, by its raw text,
// so that a steady target costs no label parsing and no series lookup.
type cacheEntry struct {
	ref      storage.SeriesRef
	lset     labels.Labels
	iter     uint64 // the last scrape that saw the series
	prev     uint64 // iter before this scrape touched it; noIter if new
	explicit bool   // the target gave its own timestamp: no staleness
}

type reportEntry struct {
	ref  storage.SeriesRef
	lset labels.Labels
}

// scrapeLoop scrapes one target at the interval until its context ends.
// Everything but the health is owned by the run goroutine.
type scrapeLoop struct {
	e        *Embedded
	target   Target
	tlabels  labels.Labels
	hash     uint64
	interval time.Duration
	timeout  time.Duration
	ctx      context.Context
	cancel   context.CancelFunc

	req     *http.Request
	buf     bytes.Buffer
	symbols *labels.SymbolTable
	lb      *labels.Builder
	cache   map[string]*cacheEntry
	iter    uint64 // numbers scrape attempts
	lastOK  uint64 // the last attempt whose samples were stored; 0: none
	report  [len(reportNames)]reportEntry
	last    time.Time // timestamp of the last scrape

	mu sync.Mutex
	h  TargetHealth
}

func newScrapeLoop(e *Embedded, t Target) *scrapeLoop {
	lb := labels.NewBuilder(labels.EmptyLabels())
	for k, v := range t.Labels {
		lb.Set(k, v)
	}
	tl := lb.Labels()
	h := fnv.New64a()
	h.Write([]byte(targetKey(t)))
	l := &scrapeLoop{
		e:        e,
		target:   t,
		tlabels:  tl,
		hash:     h.Sum64() ^ e.seed,
		interval: e.opts.ScrapeInterval,
		timeout:  e.opts.ScrapeTimeout,
		symbols:  labels.NewSymbolTable(),
		lb:       labels.NewBuilder(labels.EmptyLabels()),
		cache:    map[string]*cacheEntry{},
		h:        TargetHealth{Target: t, Health: "unknown"},
	}
	l.ctx, l.cancel = context.WithCancel(e.ctx)
	for i, name := range reportNames {
		lb.Reset(tl)
		lb.Set(model.MetricNameLabel, name)
		l.report[i].lset = lb.Labels()
	}
	// The request is built once; normalizeTarget checked the URL.
	l.req, _ = http.NewRequest(http.MethodGet, t.URL, nil)
	l.req.Header.Set("Accept", acceptHeader)
	l.req.Header.Set("User-Agent", userAgent)
	l.req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(l.timeout.Seconds(), 'f', -1, 64))
	return l
}

// stop ends the loop because its target was removed; the loop then marks
// its series stale.
func (l *scrapeLoop) stop() { l.cancel() }

func (l *scrapeLoop) health() TargetHealth {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h
}

func (l *scrapeLoop) run() {
	defer func() {
		// Removed while the source lives on: end the target's series the
		// way Prometheus does. On Close, the data ends with the source.
		if l.e.ctx.Err() == nil {
			l.endOfRunStaleness()
		}
	}()
	select {
	case <-time.After(scrapeOffset(time.Now(), l.interval, l.hash)):
	case <-l.ctx.Done():
		return
	}
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	// Round(0) strips the monotonic reading, so that timestamps are wall
	// clock, as stored.
	slot := time.Now().Round(0)
	for {
		var ts time.Time
		ts, slot = alignScrapeTime(time.Now().Round(0), slot, l.interval)
		l.scrapeAndReport(ts)
		select {
		case <-l.ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// appendStats are the counts reported after a scrape.
type appendStats struct {
	scraped, added, seriesAdded int
}

// scrapeAndReport scrapes once and commits the samples, the staleness
// markers of vanished series and the report series in one transaction.
func (l *scrapeLoop) scrapeAndReport(ts time.Time) {
	start := time.Now()
	app := l.e.db.AppenderV2(context.Background())
	var stats appendStats
	body, ctype, err := l.fetch()
	if err == nil {
		stats, err = l.append(app, body, ctype, ts)
		if err != nil {
			_ = app.Rollback()
			app = l.e.db.AppenderV2(context.Background())
			l.forgetAttempt()
		}
	}
	if err != nil {
		// A failed scrape ends every series of the previous one, as in
		// Prometheus: a dead target must not look alive for five minutes.
		stats = appendStats{}
		l.iter++
		l.markStale(app, ts.UnixMilli())
		l.lastOK = 0
	}
	dur := time.Since(start)
	repErr := l.appendReport(app, ts.UnixMilli(), dur, stats, err)
	if repErr != nil {
		_ = app.Rollback()
	} else {
		repErr = app.Commit()
	}
	if repErr != nil {
		l.e.opts.Logger.Error("commit scrape", "target", l.target.URL, "err", repErr)
	}
	l.last = ts
	l.setHealth(ts, dur, stats.added, err)
}

func (l *scrapeLoop) setHealth(ts time.Time, dur time.Duration, samples int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.h.LastError
	l.h.LastScrape, l.h.LastDuration, l.h.Samples = ts, dur, samples
	if err != nil {
		l.h.Health, l.h.LastError = "down", err.Error()
		if l.h.LastError != prev {
			l.e.opts.Logger.Warn("scrape failed", "target", l.target.URL, "labels", l.target.Labels, "err", err)
		}
		return
	}
	if prev != "" {
		l.e.opts.Logger.Info("scrape recovered", "target", l.target.URL, "labels", l.target.Labels)
	}
	l.h.Health, l.h.LastError = "up", ""
}

// fetch GETs the target. The body is valid until the next fetch.
func (l *scrapeLoop) fetch() ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	defer cancel()
	resp, err := l.e.opts.Client.Do(l.req.WithContext(ctx))
	if err != nil {
		return nil, "", fmt.Errorf("scrape %s: %w", l.target.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		return nil, "", fmt.Errorf("scrape %s: server returned HTTP status %s", l.target.URL, resp.Status)
	}
	l.buf.Reset()
	limit := l.e.opts.BodySizeLimit
	n, err := l.buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("scrape %s: read body: %w", l.target.URL, err)
	}
	if n > limit {
		return nil, "", fmt.Errorf("scrape %s: body exceeds the limit of %d bytes", l.target.URL, limit)
	}
	return l.buf.Bytes(), resp.Header.Get("Content-Type"), nil
}

// isRejection tells the errors that reject one sample, not the scrape.
func isRejection(err error) bool {
	return errors.Is(err, storage.ErrOutOfOrderSample) || errors.Is(err, storage.ErrOutOfBounds) ||
		errors.Is(err, storage.ErrTooOldSample) || errors.Is(err, storage.ErrDuplicateSampleForTimestamp)
}

// append parses body and appends its samples at ts, then staleness
// markers for the series of the previous scrape that are gone.
func (l *scrapeLoop) append(app storage.AppenderV2, body []byte, ctype string, ts time.Time) (appendStats, error) {
	var st appendStats
	p, err := textparse.New(body, ctype, l.symbols, parserOptions)
	if p == nil {
		return st, fmt.Errorf("scrape %s: %w", l.target.URL, err)
	}
	l.iter++
	tms := ts.UnixMilli()
	seen, rejected := 0, 0
	var lset labels.Labels
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("scrape %s: parse: %w", l.target.URL, err)
		}
		var (
			met []byte
			tp  *int64
			v   float64
			h   *histogram.Histogram
			fh  *histogram.FloatHistogram
		)
		switch entry {
		case textparse.EntrySeries:
			met, tp, v = p.Series()
		case textparse.EntryHistogram:
			met, tp, h, fh = p.Histogram()
			if h == nil && fh == nil {
				return st, fmt.Errorf("scrape %s: parser returned a histogram entry without a histogram", l.target.URL)
			}
		default:
			// Help, type, unit and comments carry no samples.
			continue
		}
		st.scraped++
		t := tms
		if tp != nil {
			t = *tp
		}
		ce := l.cache[string(met)]
		switch {
		case ce == nil:
			p.Labels(&lset)
			ce = &cacheEntry{lset: l.withTargetLabels(lset), prev: noIter}
			l.cache[string(met)] = ce
			st.seriesAdded++
		case ce.iter == l.iter:
			// The same series twice in one exposition: keep the first.
			rejected++
			continue
		default:
			ce.prev = ce.iter
		}
		ref, err := app.Append(ce.ref, ce.lset, 0, t, v, h, fh, storage.AOptions{})
		ce.iter, ce.explicit = l.iter, tp != nil
		seen++
		if err != nil {
			if isRejection(err) {
				rejected++
				continue
			}
			return st, fmt.Errorf("scrape %s: append %s: %w", l.target.URL, ce.lset, err)
		}
		ce.ref = ref
		st.added++
	}
	if rejected > 0 {
		l.e.opts.Logger.Debug("samples rejected", "target", l.target.URL, "count", rejected)
	}
	if seen < len(l.cache) {
		l.markStale(app, tms)
	}
	l.lastOK = l.iter
	return st, nil
}

// forgetAttempt undoes what a failed, rolled-back append did to the cache:
// series it created are dropped, series it touched get their previous
// scrape back.
func (l *scrapeLoop) forgetAttempt() {
	for k, ce := range l.cache {
		switch {
		case ce.iter != l.iter:
		case ce.prev == noIter:
			delete(l.cache, k)
		default:
			ce.iter = ce.prev
		}
	}
}

// markStale appends staleness markers at t for the series the last stored
// scrape saw and the current attempt did not, and forgets them.
func (l *scrapeLoop) markStale(app storage.AppenderV2, t int64) {
	for k, ce := range l.cache {
		if ce.iter == l.iter {
			continue
		}
		if l.lastOK != 0 && ce.iter == l.lastOK && !ce.explicit {
			if _, err := app.Append(ce.ref, ce.lset, 0, t, staleNaN, nil, nil, storage.AOptions{}); err != nil && !isRejection(err) {
				l.e.opts.Logger.Warn("append staleness marker", "series", ce.lset, "err", err)
			}
		}
		delete(l.cache, k)
	}
}

// withTargetLabels adds the target's labels to a scraped series. A target
// label wins; a scraped label of the same name is kept as exported_<name>,
// as Prometheus does without honor_labels. The service's own constant
// labels (vecro_system, vecro_service, vecro_instance) never clash with
// the target's (system, service, instance, job), so both survive.
func (l *scrapeLoop) withTargetLabels(scraped labels.Labels) labels.Labels {
	l.lb.Reset(scraped)
	var clashes []labels.Label
	l.tlabels.Range(func(t labels.Label) {
		if v := scraped.Get(t.Name); v != "" {
			clashes = append(clashes, labels.Label{Name: t.Name, Value: v})
		}
		l.lb.Set(t.Name, t.Value)
	})
	for _, c := range clashes {
		name := c.Name
		for {
			name = model.ExportedLabelPrefix + name
			if l.lb.Get(name) == "" {
				l.lb.Set(name, c.Value)
				break
			}
		}
	}
	return l.lb.Labels()
}

func (l *scrapeLoop) appendReport(app storage.AppenderV2, t int64, dur time.Duration, st appendStats, scrapeErr error) error {
	up := 1.0
	if scrapeErr != nil {
		up = 0
	}
	vals := [len(reportNames)]float64{up, dur.Seconds(), float64(st.scraped), float64(st.added), float64(st.seriesAdded)}
	for i := range l.report {
		if err := l.appendReportSample(app, i, t, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (l *scrapeLoop) appendReportSample(app storage.AppenderV2, i int, t int64, v float64) error {
	r := &l.report[i]
	ref, err := app.Append(r.ref, r.lset, 0, t, v, nil, nil, storage.AOptions{})
	switch {
	case err == nil:
		r.ref = ref
	case isRejection(err):
		// e.g. a re-added target's first report landing before the stale
		// marker of its previous run: harmless, as in Prometheus.
	default:
		return fmt.Errorf("append %s: %w", r.lset, err)
	}
	return nil
}

// endOfRunStaleness ends the series of a removed target. Like Prometheus,
// it waits until the next-but-one scrape would have been (a target that
// reappears in the meantime has then written newer samples, and the
// markers are rejected as out of order) and stamps the markers with the
// time of the first missed scrape.
func (l *scrapeLoop) endOfRunStaleness() {
	if l.last.IsZero() {
		return
	}
	staleTime := l.last.Add(l.interval)
	wait := time.Until(staleTime) + l.interval + l.interval/10
	select {
	case <-l.e.ctx.Done():
		return
	case <-time.After(wait):
	}
	app := l.e.db.AppenderV2(context.Background())
	t := staleTime.UnixMilli()
	l.iter++
	l.markStale(app, t)
	for i := range l.report {
		if err := l.appendReportSample(app, i, t, staleNaN); err != nil {
			l.e.opts.Logger.Warn("append staleness marker", "target", l.target.URL, "err", err)
		}
	}
	if err := app.Commit(); err != nil {
		l.e.opts.Logger.Warn("commit staleness markers", "target", l.target.URL, "err", err)
	}
}

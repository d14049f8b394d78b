package load

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Second is one second of a run as the client saw it: row N of load.csv.
// Requests count in the second they were sent; answers and failures in the
// second they ended (as a server-side counter would see them), so a second
// is final as soon as it is over.
type Second struct {
	// Time is the second's start: the run's start plus Index seconds.
	Time time.Time `json:"time"`
	// Index is the number of whole seconds since the run's start.
	Index int `json:"index"`
	// Sent is how many requests started in this second.
	Sent uint64 `json:"sent"`
	// OK is how many answers with a status below 400 arrived.
	OK uint64 `json:"ok"`
	// Errors is how many requests failed (the sum of ByKind).
	Errors uint64 `json:"errors"`
	// ByKind counts Errors by kind; kinds with no failures are absent.
	ByKind map[ErrorKind]uint64 `json:"by_kind,omitempty"`
	// Late is how many sends started more than Spec.LateAfter after their
	// planned time (open loop), or how many of a user's ticks came due while
	// its previous request was still in flight (closed loop).
	Late uint64 `json:"late"`
	// Skipped is how many planned sends never happened: a closed-loop user's
	// ticks that passed during a slow answer (they are not queued).
	Skipped uint64 `json:"skipped"`
	// BytesIn is the response body bytes received.
	BytesIn uint64 `json:"bytes_in"`
	// Latency quantiles of the answers (any status) that arrived in this
	// second, measured from the planned send time; zero when none arrived.
	P50 time.Duration `json:"-"`
	P90 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
}

type secondAlias Second

// secondJSON is Second with its latencies in milliseconds.
type secondJSON struct {
	*secondAlias
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// MarshalJSON writes the latencies in milliseconds.
func (s Second) MarshalJSON() ([]byte, error) {
	return json.Marshal(secondJSON{(*secondAlias)(&s), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Second) UnmarshalJSON(b []byte) error {
	j := secondJSON{secondAlias: (*secondAlias)(s)}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode load second: %w", err)
	}
	s.P50, s.P90, s.P99, s.Max = fromMs(j.P50), fromMs(j.P90), fromMs(j.P99), fromMs(j.Max)
	return nil
}

// Totals are a run's counters so far.
type Totals struct {
	Sent     uint64               `json:"sent"`
	OK       uint64               `json:"ok"`
	Errors   uint64               `json:"errors"`
	ByKind   map[ErrorKind]uint64 `json:"by_kind,omitempty"`
	Late     uint64               `json:"late"`
	Skipped  uint64               `json:"skipped"`
	BytesIn  uint64               `json:"bytes_in"`
	BytesOut uint64               `json:"bytes_out"`
}

// Snapshot is a live view of a run, for guardrails and progress lines.
type Snapshot struct {
	// Start is the run's t0: when the first request was due.
	Start time.Time `json:"start"`
	// Elapsed is the time since Start.
	Elapsed time.Duration `json:"elapsed"`
	// Current is the second in progress, counted so far.
	Current Second `json:"current"`
	// Last is the last complete second; valid when Completed > 0.
	Last Second `json:"last"`
	// Completed is the number of complete seconds.
	Completed int `json:"completed"`
	// Total counts everything since Start.
	Total Totals `json:"total"`
	// InFlight is the number of requests sent and not yet answered.
	InFlight int64 `json:"in_flight"`
	// P50, P99 and Max are the latency quantiles over the whole run so far.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Histograms record microseconds from 1 µs to an hour with 3 significant
// digits; longer values are clamped to an hour (a request timeout is far
// shorter).
const histMax = int64(time.Hour / time.Microsecond)

func newHist() *hdr.Histogram { return hdr.New(1, histMax, 3) }

func recordDur(h *hdr.Histogram, d time.Duration) {
	us := min(max(d.Microseconds(), 0), histMax)
	_ = h.RecordValue(us) // cannot fail: us is within [0, histMax]
}

func histDur(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// maxSamples bounds the distinct error texts a report keeps.
const maxSamples = 10

// recorder aggregates results. One mutex guards all: at the rates one
// client core reaches it is uncontended and costs far less than a request.
type recorder struct {
	mu sync.Mutex
	t0 time.Time

	cur     Second
	curHist *hdr.Histogram
	seconds []Second

	tot     Totals
	latency *hdr.Histogram // from the planned send time
	service *hdr.Histogram // from the actual send time
	lag     *hdr.Histogram // actual minus planned send time
	status  map[int]uint64
	samples []string
}

func newRecorder(t0 time.Time) *recorder {
	return &recorder{
		t0:      t0,
		cur:     Second{Time: t0},
		curHist: newHist(),
		latency: newHist(),
		service: newHist(),
		lag:     newHist(),
		status:  map[int]uint64{},
	}
}

// roll closes every second that ended before now. Callers hold mu.
func (r *recorder) roll(now time.Time) {
	idx := int(now.Sub(r.t0) / time.Second)
	for r.cur.Index < idx {
		r.closeSecond()
	}
}

func (r *recorder) closeSecond() {
	r.fillQuantiles(&r.cur)
	r.seconds = append(r.seconds, r.cur)
	r.curHist.Reset()
	next := r.cur.Index + 1
	r.cur = Second{Index: next, Time: r.t0.Add(time.Duration(next) * time.Second)}
}

func (r *recorder) fillQuantiles(s *Second) {
	if r.curHist.TotalCount() == 0 {
		return
	}
	q := r.curHist.ValueAtPercentilesSlice([]float64{50, 90, 99})
	s.P50, s.P90, s.P99 = histDur(q[0]), histDur(q[1]), histDur(q[2])
	s.Max = histDur(r.curHist.Max())
}

// sent counts a request that started at now, planned for planned.
func (r *recorder) sent(now, planned time.Time, late bool, bytesOut int) {
	r.mu.Lock()
	r.roll(now)
	r.cur.Sent++
	r.tot.Sent++
	r.tot.BytesOut += uint64(bytesOut)
	if late {
		r.cur.Late++
		r.tot.Late++
	}
	recordDur(r.lag, now.Sub(planned))
	r.mu.Unlock()
}

// skipped counts planned sends that never happened.
func (r *recorder) skipped(now time.Time, n uint64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	r.roll(now)
	r.cur.Skipped += n
	r.tot.Skipped += n
	r.mu.Unlock()
}

// result is one finished request.
type result struct {
	planned, sent, done time.Time
	status              int // 0 when the request failed in transport
	kind                ErrorKind
	bytesIn             int64
	err                 error
}

func (r *recorder) done(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(res.done)
	r.cur.BytesIn += uint64(res.bytesIn)
	r.tot.BytesIn += uint64(res.bytesIn)
	if res.status > 0 {
		r.status[res.status]++
		lat := res.done.Sub(res.planned)
		recordDur(r.curHist, lat)
		recordDur(r.latency, lat)
		recordDur(r.service, res.done.Sub(res.sent))
	}
	if res.kind == "" {
		r.cur.OK++
		r.tot.OK++
		return
	}
	r.cur.Errors++
	r.tot.Errors++
	if r.cur.ByKind == nil {
		r.cur.ByKind = map[ErrorKind]uint64{}
	}
	r.cur.ByKind[res.kind]++
	if r.tot.ByKind == nil {
		r.tot.ByKind = map[ErrorKind]uint64{}
	}
	r.tot.ByKind[res.kind]++
	if res.err != nil && len(r.samples) < maxSamples {
		msg := res.err.Error()
		for _, s := range r.samples {
			if s == msg {
				return
			}
		}
		r.samples = append(r.samples, msg)
	}
}

func (r *recorder) snapshot(now time.Time, inFlight int64) Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(now)
	s := Snapshot{
		Start:     r.t0,
		Elapsed:   now.Sub(r.t0),
		Current:   r.cur,
		Completed: len(r.seconds),
		Total:     r.tot,
		InFlight:  inFlight,
	}
	s.Current.ByKind = maps.Clone(r.cur.ByKind)
	s.Total.ByKind = maps.Clone(r.tot.ByKind)
	r.fillQuantiles(&s.Current)
	if n := len(r.seconds); n > 0 {
		s.Last = r.seconds[n-1]
		s.Last.ByKind = maps.Clone(s.Last.ByKind)
	}
	if r.latency.TotalCount() > 0 {
		q := r.latency.ValueAtPercentilesSlice([]float64{50, 99})
		s.P50, s.P99, s.Max = histDur(q[0]), histDur(q[1]), histDur(r.latency.Max())
	}
	return s
}

func (r *recorder) since(now time.Time, from int) []Second {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(now)
	if from < 0 || from >= len(r.seconds) {
		return nil
	}
	out := slices.Clone(r.seconds[from:])
	for i := range out {
		out[i].ByKind = maps.Clone(out[i].ByKind)
	}
	return out
}

// finish closes the last, partial second (if anything happened in it) and
// returns every second.
func (r *recorder) finish(end time.Time) []Second {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(end)
	c := r.cur
	if c.Sent+c.OK+c.Errors+c.Late+c.Skipped > 0 {
		r.closeSecond()
	}
	return r.seconds
}

package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of a run: what wrk2 and vegeta print, plus the
// per-second rows of load.csv. It marshals to JSON with durations in
// milliseconds.
type Report struct {
	// Mode is "closed" or "open".
	Mode string `json:"mode"`
	// Targets are the URLs requests went to, in turn.
	Targets []Target `json:"targets"`
	Method  string   `json:"method"`
	// Users and Delay describe a closed loop; Rate, Arrivals and Seed an
	// open loop.
	Users    int           `json:"users,omitempty"`
	Delay    time.Duration `json:"-"`
	Rate     string        `json:"rate,omitempty"`
	Arrivals Arrivals      `json:"arrivals,omitempty"`
	Seed     int64         `json:"seed"`
	// Connections is how many connections the open loop opened: one per
	// request it had in flight at once, at most Spec.Connections.
	Connections int `json:"connections,omitempty"`
	// EveryTarget: each closed-loop tick sent one request to every target.
	EveryTarget bool `json:"every_target,omitempty"`

	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Duration is End − Start: the span in which requests were sent.
	Duration time.Duration `json:"-"`

	// Planned is how many requests the plan called for in that span
	// (Sent + Skipped).
	Planned uint64 `json:"planned"`
	Totals
	// Rate achieved: Sent / Duration; Throughput: OK / Duration.
	Achieved   float64 `json:"achieved_per_second"`
	Throughput float64 `json:"throughput_per_second"`

	// Latency is measured from each request's planned send time, so time a
	// request waited in the generator counts (no coordinated omission).
	Latency Latencies `json:"latency"`
	// ServiceTime is measured from the actual send: what a generator that
	// ignores its own lateness would report.
	ServiceTime Latencies `json:"service_time"`
	// SendLag is how late sends started after their planned time.
	SendLag Latencies `json:"send_lag"`

	// Status counts answers by HTTP status code.
	Status map[int]uint64 `json:"status,omitempty"`
	// ErrorSamples are the first distinct transport error texts.
	ErrorSamples []string `json:"error_samples,omitempty"`

	Seconds []Second `json:"seconds,omitempty"`
}

// Latencies summarise one HDR histogram.
type Latencies struct {
	Count                                        uint64
	Min, Mean, StdDev                            time.Duration
	P50, P75, P90, P99, P999, P9999, P99999, Max time.Duration
}

// quantiles are the percentiles Latencies and the text report show, wrk2's
// list up to 99.999%.
var quantiles = []float64{50, 75, 90, 99, 99.9, 99.99, 99.999}

func summarise(h *hdr.Histogram) Latencies {
	if h.TotalCount() == 0 {
		return Latencies{}
	}
	q := h.ValueAtPercentilesSlice(quantiles)
	return Latencies{
		Count:  uint64(h.TotalCount()),
		Min:    histDur(h.Min()),
		Mean:   time.Duration(h.Mean() * float64(time.Microsecond)),
		StdDev: time.Duration(h.StdDev() * float64(time.Microsecond)),
		P50:    histDur(q[0]), P75: histDur(q[1]), P90: histDur(q[2]), P99: histDur(q[3]),
		P999: histDur(q[4]), P9999: histDur(q[5]), P99999: histDur(q[6]),
		Max: histDur(h.Max()),
	}
}

// latenciesJSON is Latencies with milliseconds, the unit people read.
type latenciesJSON struct {
	Count  uint64  `json:"count"`
	Min    float64 `json:"min_ms"`
	Mean   float64 `json:"mean_ms"`
	StdDev float64 `json:"stddev_ms"`
	P50    float64 `json:"p50_ms"`
	P75    float64 `json:"p75_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	P9999  float64 `json:"p99_99_ms"`
	P99999 float64 `json:"p99_999_ms"`
	Max    float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMs(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Millisecond))) }

// MarshalJSON writes the durations in milliseconds.
func (l Latencies) MarshalJSON() ([]byte, error) {
	return json.Marshal(latenciesJSON{l.Count, ms(l.Min), ms(l.Mean), ms(l.StdDev), ms(l.P50), ms(l.P75),
		ms(l.P90), ms(l.P99), ms(l.P999), ms(l.P9999), ms(l.P99999), ms(l.Max)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Latencies) UnmarshalJSON(b []byte) error {
	var j latenciesJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode latencies: %w", err)
	}
	*l = Latencies{j.Count, fromMs(j.Min), fromMs(j.Mean), fromMs(j.StdDev), fromMs(j.P50), fromMs(j.P75),
		fromMs(j.P90), fromMs(j.P99), fromMs(j.P999), fromMs(j.P9999), fromMs(j.P99999), fromMs(j.Max)}
	return nil
}

// reportJSON adds the millisecond fields that Report's durations hide.
type reportJSON struct {
	*reportAlias
	DelayMs    float64 `json:"delay_ms,omitempty"`
	DurationMs float64 `json:"duration_ms"`
}

type reportAlias Report

// MarshalJSON writes Delay and Duration in milliseconds.
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{(*reportAlias)(r), ms(r.Delay), ms(r.Duration)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	j := reportJSON{reportAlias: (*reportAlias)(r)}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode load report: %w", err)
	}
	r.Delay, r.Duration = fromMs(j.DelayMs), fromMs(j.DurationMs)
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write load report JSON: %w", err)
	}
	return nil
}

// WriteText writes the report as people read it, after wrk2 and vegeta.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	urls := make([]string, len(r.Targets))
	for i, t := range r.Targets {
		urls[i] = t.String()
	}
	switch r.Mode {
	case "open":
		fmt.Fprintf(&b, "Open loop %v @ %s req/s (%s arrivals, seed %d), %d connections used\n",
			r.Duration.Round(time.Millisecond), r.Rate, r.Arrivals, r.Seed, r.Connections)
	default:
		pace := "full speed"
		switch {
		case r.Delay > 0 && r.EveryTarget && len(r.Targets) > 1:
			pace = fmt.Sprintf("one request to each of the %d URLs per %s", len(r.Targets), r.Delay)
		case r.Delay > 0:
			pace = "one request per " + r.Delay.String()
		}
		fmt.Fprintf(&b, "Closed loop %v, %d users, %s each\n", r.Duration.Round(time.Millisecond), r.Users, pace)
	}
	fmt.Fprintf(&b, "  %s %s\n", r.Method, strings.Join(urls, " "))
	b.WriteString("  Latency from planned send (no coordinated omission):\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	l := r.Latency
	for i, d := range []time.Duration{l.P50, l.P75, l.P90, l.P99, l.P999, l.P9999, l.P99999, l.Max} {
		name := "100.000%"
		if i < len(quantiles) {
			name = fmt.Sprintf("%.3f%%", quantiles[i])
		}
		fmt.Fprintf(tw, "\t%s\t%s\t\n", name, fmtDur(d))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	fmt.Fprintf(&b, "  mean %s, stdev %s, min %s over %d answers\n", fmtDur(l.Mean), fmtDur(l.StdDev), fmtDur(l.Min), l.Count)
	s := r.ServiceTime
	fmt.Fprintf(&b, "  Service time from actual send: p50 %s, p99 %s, max %s\n", fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max))
	fmt.Fprintf(&b, "  Send lag behind plan: p50 %s, p99 %s, max %s\n", fmtDur(r.SendLag.P50), fmtDur(r.SendLag.P99), fmtDur(r.SendLag.Max))
	fmt.Fprintf(&b, "  Requests: %d planned, %d sent, %d late, %d skipped; %d ok, %d errors\n",
		r.Planned, r.Sent, r.Late, r.Skipped, r.OK, r.Errors)
	fmt.Fprintf(&b, "  Rate: %.1f req/s sent, %.1f ok/s\n", r.Achieved, r.Throughput)
	fmt.Fprintf(&b, "  Bytes: %s in, %s out\n", fmtBytes(r.BytesIn), fmtBytes(r.BytesOut))
	if r.Errors > 0 {
		var parts []string
		for _, k := range Kinds {
			if n := r.ByKind[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		fmt.Fprintf(&b, "  Errors: %s\n", strings.Join(parts, ", "))
	}
	if len(r.Status) > 0 {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(r.Status)) {
			parts = append(parts, fmt.Sprintf("%d × %d", c, r.Status[c]))
		}
		fmt.Fprintf(&b, "  Status: %s\n", strings.Join(parts, ", "))
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write load report: %w", err)
	}
	return nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", ms(d))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

package load_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
)

const (
	ms = time.Millisecond
	us = time.Microsecond
)

func mustPacer(t *testing.T, s load.Schedule, arr load.Arrivals, seed int64, end time.Duration) load.Pacer {
	t.Helper()
	p, err := load.NewPacer(s, arr, seed, end)
	if err != nil {
		t.Fatalf("NewPacer(%v, %q): %v", s, arr, err)
	}
	return p
}

func TestUniformPacerDue(t *testing.T) {
	type hit struct {
		n    uint64
		at   time.Duration
		stop bool
	}
	for _, tc := range []struct {
		name  string
		sched load.Schedule
		end   time.Duration
		hits  []hit
	}{
		{"constant 2000/s for 10s", load.Constant{PerSecond: 2000}, 10 * time.Second, []hit{
			{n: 0, at: 0}, {n: 1, at: 500 * us}, {n: 2000, at: time.Second},
			{n: 19999, at: 9*time.Second + 999500*us}, {n: 20000, stop: true},
		}},
		{"constant without end", load.Constant{PerSecond: 3}, 0, []hit{
			{n: 1, at: 333333333}, {n: 3, at: time.Second}, {n: 3_000_000, at: 1_000_000 * time.Second},
		}},
		// rate 10·t: Hits(t) = 5t², so hit h is due at √(h/5) s; then 100/s.
		{"ramp up 0..100 over 10s", load.Linear{From: 0, To: 100, Over: 10 * time.Second}, 0, []hit{
			{n: 0, at: 0}, {n: 5, at: time.Second}, {n: 20, at: 2 * time.Second},
			{n: 500, at: 10 * time.Second}, {n: 600, at: 11 * time.Second},
		}},
		// rate 100 − 10·t: Hits(t) = 100t − 5t²; 95 hits at 1 s, 500 at 10 s, then none.
		{"ramp down 100..0 over 10s", load.Linear{From: 100, To: 0, Over: 10 * time.Second}, 0, []hit{
			{n: 95, at: time.Second}, {n: 500, at: 10 * time.Second}, {n: 501, stop: true},
		}},
		{"flat ramp is constant", load.Linear{From: 50, To: 50, Over: time.Minute}, 0, []hit{
			{n: 50, at: time.Second}, {n: 3050, at: 61 * time.Second},
		}},
		{"steps with a pause", load.Steps{{At: 0, PerSecond: 100}, {At: time.Second, PerSecond: 200}, {At: 2 * time.Second, PerSecond: 0}, {At: 3 * time.Second, PerSecond: 50}}, 0, []hit{
			{n: 1, at: 10 * ms}, {n: 100, at: time.Second}, {n: 150, at: 1250 * ms},
			{n: 300, at: 2 * time.Second}, {n: 301, at: 3020 * ms}, {n: 350, at: 4 * time.Second},
		}},
		{"steps ending at zero stop", load.Steps{{At: 0, PerSecond: 10}, {At: time.Second, PerSecond: 0}}, 0, []hit{
			{n: 10, at: time.Second}, {n: 11, stop: true},
		}},
		{"end cuts the plan", load.Constant{PerSecond: 10}, 950 * ms, []hit{
			{n: 9, at: 900 * ms}, {n: 10, stop: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPacer(t, tc.sched, load.Uniform, 0, tc.end)
			for _, h := range tc.hits {
				at, ok := p.Due(h.n)
				if ok == h.stop || (ok && !near(at, h.at)) {
					t.Errorf("Due(%d) = %v, %v; want %v, %v", h.n, at, ok, h.at, !h.stop)
				}
				// Pace agrees with Due from either side of the due time.
				for _, el := range []time.Duration{0, h.at / 2, h.at, h.at + time.Second} {
					wait, stop := p.Pace(el, h.n)
					want := max(h.at-el, 0)
					if stop != h.stop || (!stop && !near(wait, want)) {
						t.Errorf("Pace(%v, %d) = %v, %v; want %v, %v", el, h.n, wait, stop, want, h.stop)
					}
				}
			}
		})
	}
}

// near allows a nanosecond per second of float rounding in the inverse of
// the quadratic ramp.
func near(a, b time.Duration) bool {
	d := a - b
	return d.Abs() <= 1+time.Duration(b.Seconds())
}

func TestPoissonPacer(t *testing.T) {
	const n = 100_000
	p := mustPacer(t, load.Constant{PerSecond: 1000}, load.Poisson, 42, 0)
	gaps := make([]float64, n)
	var prev time.Duration
	for i := range uint64(n) {
		at, ok := p.Due(i)
		if !ok || at < prev {
			t.Fatalf("Due(%d) = %v, %v after %v: want a non-decreasing time", i, at, ok, prev)
		}
		gaps[i] = (at - prev).Seconds()
		prev = at
	}
	// Deterministic for the seed, so the bounds need no slack for luck: the
	// sum of n unit exponentials is n ± √n (1σ = 0.3% here); a coefficient
	// of variation of 1 marks exponential gaps (uniform spacing has 0).
	if got := prev.Seconds(); math.Abs(got-100) > 2 {
		t.Errorf("hit %d due at %.3fs; want about 100 s at 1000/s", n-1, got)
	}
	mean, sd := meanSD(gaps)
	if cv := sd / mean; cv < 0.95 || cv > 1.05 {
		t.Errorf("gap coefficient of variation = %.3f; want about 1 (exponential)", cv)
	}

	// Same seed, same plan, asked in any order; another seed, another plan.
	q := mustPacer(t, load.Constant{PerSecond: 1000}, load.Poisson, 42, 0)
	r := mustPacer(t, load.Constant{PerSecond: 1000}, load.Poisson, 43, 0)
	for _, i := range []uint64{77, 5, 99_999, 0, 5} {
		a, _ := p.Due(i)
		b, _ := q.Due(i)
		c, _ := r.Due(i)
		if a != b {
			t.Errorf("seed 42: Due(%d) = %v then %v; want the same", i, a, b)
		}
		if a == c {
			t.Errorf("Due(%d) = %v for seeds 42 and 43; want different plans", i, a)
		}
	}
}

func TestPoissonPacerFollowsRamp(t *testing.T) {
	// 0..200/s over 100 s: 10,000 hits, a quarter of them in the first half.
	p := mustPacer(t, load.Linear{From: 0, To: 200, Over: 100 * time.Second}, load.Poisson, 7, 100*time.Second)
	var first, all int
	for i := uint64(0); ; i++ {
		at, ok := p.Due(i)
		if !ok {
			break
		}
		all++
		if at < 50*time.Second {
			first++
		}
	}
	if all < 9600 || all > 10400 {
		t.Errorf("ramp 0..200/s over 100 s planned %d hits; want about 10000", all)
	}
	if f := float64(first) / float64(all); f < 0.23 || f > 0.27 {
		t.Errorf("%.3f of the hits in the first half; want about 0.25", f)
	}
}

func meanSD(x []float64) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)))
}

func TestNewPacerRejects(t *testing.T) {
	for _, tc := range []struct {
		sched load.Schedule
		arr   load.Arrivals
		want  string
	}{
		{nil, load.Uniform, "no rate schedule"},
		{load.Constant{PerSecond: 0}, load.Uniform, "must be finite and > 0"},
		{load.Constant{PerSecond: math.Inf(1)}, load.Uniform, "finite"},
		{load.Linear{From: -1, To: 5}, load.Uniform, "≥ 0"},
		{load.Steps{}, load.Uniform, "none given"},
		{load.Steps{{At: time.Second, PerSecond: 1}}, load.Uniform, "not 0"},
		{load.Steps{{PerSecond: 1}, {At: 0, PerSecond: 2}}, load.Uniform, "not after step 1"},
		{load.Constant{PerSecond: 1}, "bursty", `arrivals "bursty"`},
	} {
		_, err := load.NewPacer(tc.sched, tc.arr, 0, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPacer(%#v, %q) error = %v; want one containing %q", tc.sched, tc.arr, err, tc.want)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want load.Schedule
	}{
		{"500", load.Constant{PerSecond: 500}},
		{" 12.5/s ", load.Constant{PerSecond: 12.5}},
		{"10..500", load.Linear{From: 10, To: 500}},
		{"0..500/1m", load.Linear{From: 0, To: 500, Over: time.Minute}},
		{"500..0/30s", load.Linear{From: 500, To: 0, Over: 30 * time.Second}},
		{"100,200@30s,0@1m", load.Steps{{PerSecond: 100}, {At: 30 * time.Second, PerSecond: 200}, {At: time.Minute}}},
		{"100@0s,5@1s", load.Steps{{PerSecond: 100}, {At: time.Second, PerSecond: 5}}},
	} {
		got, err := load.ParseSchedule(tc.in)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want.String() {
			t.Errorf("ParseSchedule(%q) = %v; want %v", tc.in, got, tc.want)
		}
		// String is in the parser's syntax.
		again, err := load.ParseSchedule(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("ParseSchedule(%q.String() = %q) = %v, %v; want the same schedule", tc.in, got, again, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"fast", `rate "fast" is not a number`},
		{"-5", "≥ 0"},
		{"0", "must be > 0"},
		{"10..x", "ramp end"},
		{"10..20/0s", "not a positive duration"},
		{"0..0", "sends nothing"},
		{"100,200", "step 2 needs a start time"},
		{"100@5s,200@10s", "first step starts at 0"},
		{"100,200@30s,300@10s", "not after the step before"},
		{"0,0@1s", "every step has rate 0"},
	} {
		_, err := load.ParseSchedule(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSchedule(%q) error = %v; want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestScheduleRates(t *testing.T) {
	for _, tc := range []struct {
		s    load.Schedule
		at   time.Duration
		rate float64
		hits float64
	}{
		{load.Constant{PerSecond: 40}, 2 * time.Second, 40, 80},
		{load.Linear{From: 10, To: 30, Over: 10 * time.Second}, 5 * time.Second, 20, 75},
		{load.Linear{From: 10, To: 30, Over: 10 * time.Second}, 12 * time.Second, 30, 260},
		{load.Steps{{PerSecond: 10}, {At: time.Second, PerSecond: 30}}, 1500 * ms, 30, 25},
	} {
		if got := tc.s.Rate(tc.at); got != tc.rate {
			t.Errorf("%v.Rate(%v) = %v; want %v", tc.s, tc.at, got, tc.rate)
		}
		if got := tc.s.Hits(tc.at); math.Abs(got-tc.hits) > 1e-9 {
			t.Errorf("%v.Hits(%v) = %v; want %v", tc.s, tc.at, got, tc.hits)
		}
	}
}

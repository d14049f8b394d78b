package load

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schedule is an open-loop request rate over time, given as its integral so
// that the planned send time of every hit is a pure function of the hit's
// number: Hits(t) is how many hits are due in [0, t), and Time inverts it.
type Schedule interface {
	// Hits is the expected number of hits in [0, t): the integral of the
	// rate from 0 to t. It is non-decreasing.
	Hits(t time.Duration) float64
	// Time is the earliest t with Hits(t) >= h; ok is false when the
	// schedule never reaches h (its rate fell to zero for good).
	Time(h float64) (t time.Duration, ok bool)
	// Rate is the instantaneous rate at t, in hits per second.
	Rate(t time.Duration) float64
	// String is the schedule in ParseSchedule's syntax.
	String() string
}

// Constant is a fixed rate in hits per second.
type Constant struct {
	PerSecond float64 `json:"per_second"`
}

// Linear ramps the rate from From to To (hits per second) over Over, then
// holds To. Over zero means "over the run's duration"; Start fills it in.
type Linear struct {
	From float64       `json:"from"`
	To   float64       `json:"to"`
	Over time.Duration `json:"over"`
}

// Steps is a piecewise constant rate: each step's rate holds from its At
// until the next step's At. The first step starts at 0.
type Steps []Step

// Step is one level of a Steps schedule.
type Step struct {
	At        time.Duration `json:"at"`
	PerSecond float64       `json:"per_second"`
}

var (
	_ Schedule = Constant{}
	_ Schedule = Linear{}
	_ Schedule = Steps{}
)

// Hits implements Schedule.
func (c Constant) Hits(t time.Duration) float64 { return c.PerSecond * sec(t) }

// Time implements Schedule.
func (c Constant) Time(h float64) (time.Duration, bool) {
	if h <= 0 {
		return 0, true
	}
	if c.PerSecond <= 0 {
		return 0, false
	}
	return dur(h / c.PerSecond), true
}

// Rate implements Schedule.
func (c Constant) Rate(time.Duration) float64 { return c.PerSecond }

func (c Constant) String() string { return fmtRate(c.PerSecond) }

// Hits implements Schedule.
func (l Linear) Hits(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	if t >= l.Over {
		return l.rampHits() + l.To*sec(t-l.Over)
	}
	s := sec(t)
	return l.From*s + l.slope()*s*s/2
}

// Time implements Schedule.
func (l Linear) Time(h float64) (time.Duration, bool) {
	if h <= 0 {
		return 0, true
	}
	if ramp := l.rampHits(); h > ramp {
		if l.To <= 0 {
			return 0, false
		}
		return l.Over + dur((h-ramp)/l.To), true
	}
	// Solve From·s + a·s²/2 = h for s. This form of the quadratic root stays
	// exact when the slope is zero or tiny and for ramps down, where the
	// usual (-b + √(b²+2ah))/a cancels badly.
	a := l.slope()
	disc := l.From*l.From + 2*a*h
	if disc < 0 {
		disc = 0
	}
	den := l.From + math.Sqrt(disc)
	if den <= 0 {
		return 0, false
	}
	return dur(2 * h / den), true
}

// Rate implements Schedule.
func (l Linear) Rate(t time.Duration) float64 {
	switch {
	case t <= 0:
		return l.From
	case t >= l.Over:
		return l.To
	}
	return l.From + l.slope()*sec(t)
}

func (l Linear) slope() float64 {
	if l.Over <= 0 {
		return 0
	}
	return (l.To - l.From) / sec(l.Over)
}

func (l Linear) rampHits() float64 { return (l.From + l.To) / 2 * sec(l.Over) }

func (l Linear) String() string {
	s := fmtRate(l.From) + ".." + fmtRate(l.To)
	if l.Over > 0 {
		s += "/" + l.Over.String()
	}
	return s
}

// Hits implements Schedule.
func (s Steps) Hits(t time.Duration) float64 {
	var h float64
	for i, st := range s {
		if t <= st.At {
			break
		}
		end := t
		if i+1 < len(s) && s[i+1].At < t {
			end = s[i+1].At
		}
		h += st.PerSecond * sec(end-st.At)
	}
	return h
}

// Time implements Schedule.
func (s Steps) Time(h float64) (time.Duration, bool) {
	if h <= 0 {
		return 0, true
	}
	var done float64
	for i, st := range s {
		if i+1 < len(s) {
			in := st.PerSecond * sec(s[i+1].At-st.At)
			if done+in >= h && st.PerSecond > 0 {
				return st.At + dur((h-done)/st.PerSecond), true
			}
			done += in
			continue
		}
		if st.PerSecond <= 0 {
			return 0, false
		}
		return st.At + dur((h-done)/st.PerSecond), true
	}
	return 0, false
}

// Rate implements Schedule.
func (s Steps) Rate(t time.Duration) float64 {
	r := 0.0
	for _, st := range s {
		if t < st.At {
			break
		}
		r = st.PerSecond
	}
	return r
}

func (s Steps) String() string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = fmtRate(st.PerSecond)
		if i > 0 {
			parts[i] += "@" + st.At.String()
		}
	}
	return strings.Join(parts, ",")
}

// ParseSchedule reads a rate schedule:
//
//	"500"                constant 500 requests/s
//	"10..500"            linear ramp from 10/s to 500/s over the whole run
//	"10..500/1m"         linear ramp over 1 minute, then 500/s
//	"100,200@30s,50@1m"  steps: 100/s from the start, 200/s from 30 s, 50/s from 1 min
//
// Rates are requests per second and must be finite and ≥ 0; a constant rate
// must be > 0.
func ParseSchedule(s string) (Schedule, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return nil, fmt.Errorf("parse rate schedule: empty")
	}
	switch {
	case strings.Contains(in, ".."):
		from, rest, _ := strings.Cut(in, "..")
		to, over, hasOver := strings.Cut(rest, "/")
		l := Linear{}
		var err error
		if l.From, err = parseRate(from); err != nil {
			return nil, fmt.Errorf("parse rate schedule %q: ramp start: %w", s, err)
		}
		if l.To, err = parseRate(to); err != nil {
			return nil, fmt.Errorf("parse rate schedule %q: ramp end: %w", s, err)
		}
		if hasOver {
			if l.Over, err = time.ParseDuration(strings.TrimSpace(over)); err != nil || l.Over <= 0 {
				return nil, fmt.Errorf("parse rate schedule %q: ramp length %q is not a positive duration", s, over)
			}
		}
		if l.From == 0 && l.To == 0 {
			return nil, fmt.Errorf("parse rate schedule %q: a ramp from 0 to 0 sends nothing", s)
		}
		return l, nil
	case strings.Contains(in, ","):
		var st Steps
		for i, part := range strings.Split(in, ",") {
			rate, at, hasAt := strings.Cut(part, "@")
			r, err := parseRate(rate)
			if err != nil {
				return nil, fmt.Errorf("parse rate schedule %q: step %d: %w", s, i+1, err)
			}
			step := Step{PerSecond: r}
			switch {
			case i == 0 && hasAt:
				if d, err := time.ParseDuration(strings.TrimSpace(at)); err != nil || d != 0 {
					return nil, fmt.Errorf("parse rate schedule %q: the first step starts at 0, not %q", s, at)
				}
			case i > 0 && !hasAt:
				return nil, fmt.Errorf("parse rate schedule %q: step %d needs a start time (RATE@DURATION)", s, i+1)
			case i > 0:
				d, err := time.ParseDuration(strings.TrimSpace(at))
				if err != nil {
					return nil, fmt.Errorf("parse rate schedule %q: step %d start: %w", s, i+1, err)
				}
				if d <= st[i-1].At {
					return nil, fmt.Errorf("parse rate schedule %q: step %d starts at %v, not after the step before (%v)", s, i+1, d, st[i-1].At)
				}
				step.At = d
			}
			st = append(st, step)
		}
		if !slices.ContainsFunc(st, func(x Step) bool { return x.PerSecond > 0 }) {
			return nil, fmt.Errorf("parse rate schedule %q: every step has rate 0", s)
		}
		return st, nil
	default:
		r, err := parseRate(in)
		if err != nil {
			return nil, fmt.Errorf("parse rate schedule %q: %w", s, err)
		}
		if r == 0 {
			return nil, fmt.Errorf("parse rate schedule %q: a constant rate must be > 0", s)
		}
		return Constant{PerSecond: r}, nil
	}
}

// validSchedule checks a schedule built in Go rather than parsed.
func validSchedule(s Schedule) error {
	bad := func(r float64) bool { return r < 0 || math.IsNaN(r) || math.IsInf(r, 0) }
	switch v := s.(type) {
	case Constant:
		if bad(v.PerSecond) || v.PerSecond == 0 {
			return fmt.Errorf("constant rate %v: must be finite and > 0", v.PerSecond)
		}
	case Linear:
		if bad(v.From) || bad(v.To) || (v.From == 0 && v.To == 0) {
			return fmt.Errorf("ramp %v..%v: rates must be finite, ≥ 0 and not both 0", v.From, v.To)
		}
		if v.Over < 0 {
			return fmt.Errorf("ramp length %v: must be ≥ 0", v.Over)
		}
	case Steps:
		if len(v) == 0 {
			return fmt.Errorf("steps: none given")
		}
		if v[0].At != 0 {
			return fmt.Errorf("steps: the first step starts at %v, not 0", v[0].At)
		}
		for i, st := range v {
			if bad(st.PerSecond) {
				return fmt.Errorf("step %d: rate %v must be finite and ≥ 0", i+1, st.PerSecond)
			}
			if i > 0 && st.At <= v[i-1].At {
				return fmt.Errorf("step %d: starts at %v, not after step %d (%v)", i+1, st.At, i, v[i-1].At)
			}
		}
	}
	return nil
}

func parseRate(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("rate %q is not a number of requests per second ≥ 0", s)
	}
	return r, nil
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

func sec(d time.Duration) float64 { return d.Seconds() }

// dur converts seconds to a Duration, rounding to the nanosecond so that
// exact plans (hit n of 2000/s at n × 500 µs) stay exact.
func dur(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/1e9 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * 1e9))
}

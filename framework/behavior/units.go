package behavior

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that also reads the seed's "2min" spelling.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MilliCPU is CPU in thousandths of a core, as Kubernetes' "700m".
type MilliCPU int64

// Size is a number of bytes; YAML accepts "16MiB", "1GiB", "250Mi" and a bare
// number of MiB.
type Size int64

// Rate is a bandwidth in bytes per second; YAML accepts tc(8) units
// ("100kbit", "1mbit" are bits/s; "kbps", "mbps" are bytes/s).
type Rate float64

// Percent is a number from 0 to 100.
type Percent float64

// splitNumber splits s into a leading unsigned decimal number and the rest.
// It accepts only plain decimals ("12", "1.5", ".5"): strconv.ParseFloat
// would also take "inf", "nan", hex and exponents, none of which a
// definition file should contain.
func splitNumber(s string) (num float64, unit string, ok bool) {
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, s, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, s, false
	}
	return f, s[i:], true
}

// isBareNumber reports whether s is a decimal number without a unit.
func isBareNumber(s string) bool {
	_, rest, ok := splitNumber(strings.TrimPrefix(s, "-"))
	return ok && rest == ""
}

// durationUnits maps the unit spellings a Duration accepts to Go's.
var durationUnits = map[string]string{
	"ns": "ns", "us": "us", "µs": "µs", "μs": "μs", "ms": "ms",
	"s": "s", "sec": "s", "secs": "s",
	"m": "m", "min": "m", "mins": "m",
	"h": "h", "hr": "h", "hrs": "h",
}

// ParseDuration reads a duration in Go syntax ("1m30s", "300ms") or the
// seed's spellings ("2min", "30s", "1h", "10sec"). A bare number other than 0
// is an error: the seed's files mixed seconds and milliseconds, so a missing
// unit is more likely a mistake than a choice.
func ParseDuration(s string) (Duration, error) {
	return ParseDurationIn(s, 0)
}

// ParseDurationIn is ParseDuration, except that a nonzero bare reads a bare
// number in that unit (the original's workload delay was in milliseconds).
func ParseDurationIn(s string, bare time.Duration) (Duration, error) {
	in := s
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if isBareNumber(s) {
		f, _ := strconv.ParseFloat(s, 64)
		switch {
		case f == 0:
			return 0, nil
		case bare != 0:
			v := f * float64(bare)
			if math.Abs(v) > math.MaxInt64 {
				return 0, fmt.Errorf("duration %q is out of range", in)
			}
			return Duration(math.Round(v)), nil
		}
		return 0, fmt.Errorf("duration %q has no unit: write e.g. \"%ss\", \"%sms\" or \"%smin\"", in, s, s, s)
	}
	var b strings.Builder
	rest := s
	if rest[0] == '-' || rest[0] == '+' {
		b.WriteByte(rest[0])
		rest = rest[1:]
	}
	for rest != "" {
		_, after, ok := splitNumber(rest)
		if !ok {
			return 0, fmt.Errorf("bad duration %q: want a number followed by a unit, as in \"300ms\", \"30s\", \"2min\", \"1h30m\"", in)
		}
		num := rest[:len(rest)-len(after)]
		b.WriteString(num)
		j := 0
		for j < len(after) && (after[j] < '0' || after[j] > '9') && after[j] != '.' {
			j++
		}
		unit := after[:j]
		if unit == "" {
			return 0, fmt.Errorf("bad duration %q: %q has no unit", in, num)
		}
		gu, known := durationUnits[unit]
		if !known {
			return 0, fmt.Errorf("bad duration %q: unknown unit %q (use ns, us, ms, s, m or min, h)", in, unit)
		}
		b.WriteString(gu)
		rest = after[j:]
	}
	d, err := time.ParseDuration(b.String())
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: %w", in, err)
	}
	return Duration(d), nil
}

// String formats the duration in Go syntax ("5m0s"), which ParseDuration reads back.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a Go duration string ("300ms").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string (as ParseDuration) or, as
// encoding/json does for time.Duration, a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string such as \"300ms\" or integer nanoseconds, got %s", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalYAML writes the duration as a string ParseDuration reads back. YAML
// encoders find it by its name, so this package needs none of them.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// sizeUnits are the suffixes a Size accepts, lower-cased: IEC (Ki, KiB …)
// and SI (k, kB …) as in Kubernetes quantities, plus B.
var sizeUnits = map[string]float64{
	"b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseSize reads a size: "16MiB", "1GiB", "250Mi", "512KiB", "1.5GB",
// "4096B". A bare number is MiB, as in the seed's "memory: 16".
func ParseSize(s string) (Size, error) {
	in := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("size %q is negative", in)
	}
	f, unit, ok := splitNumber(s)
	if !ok {
		return 0, fmt.Errorf("bad size %q: want a number and a unit, as in \"16MiB\", \"1GiB\", \"250Mi\" (a bare number is MiB)", in)
	}
	mul := float64(1 << 20)
	if u := strings.TrimSpace(unit); u != "" {
		m, known := sizeUnits[strings.ToLower(u)]
		if !known {
			return 0, fmt.Errorf("bad size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB or Ki, Mi, Gi, or kB, MB, GB)", in, u)
		}
		mul = m
	}
	v := math.Round(f * mul)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is out of range", in)
	}
	return Size(v), nil
}

// String formats the size with the largest IEC unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Bytes returns the size as a plain number of bytes.
func (s Size) Bytes() int64 { return int64(s) }

// MarshalJSON writes the size as a number of bytes.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(int64(s)) }

// UnmarshalJSON reads a number of bytes or a string as ParseSize reads it.
func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := ParseSize(str)
		if err != nil {
			return err
		}
		*s = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("size: want integer bytes or a string such as \"16MiB\", got %s", b)
	}
	if n < 0 {
		return fmt.Errorf("size %d is negative", n)
	}
	*s = Size(n)
	return nil
}

// MarshalYAML writes the size with a unit, so it never reads back as MiB.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// rateUnits are tc(8)'s rate units, lower-cased, in bytes per second.
var rateUnits = map[string]float64{
	"bit": 1.0 / 8, "kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8, "tbit": 1e12 / 8,
	"kibit": 1024.0 / 8, "mibit": (1 << 20) / 8.0, "gibit": (1 << 30) / 8.0, "tibit": (1 << 40) / 8.0,
	"bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12,
	"kibps": 1 << 10, "mibps": 1 << 20, "gibps": 1 << 30, "tibps": 1 << 40,
}

// rateHelp explains tc's rate units; every rate error ends with it because
// tc's "mbps" (megabytes/s) is the classic trap.
const rateHelp = "rates use tc(8) units: bit, kbit, mbit, gbit, tbit are bits/s; " +
	"bps, kbps, mbps, gbps, tbps are BYTES/s (IEC: kibit, mibit, kibps, mibps …)"

// ParseRate reads a bandwidth in tc(8) syntax, case-insensitively:
// "100kbit", "1mbit", "1gbit" are bits per second; "bps", "kbps", "mbps" are
// bytes per second, as in tc. The result is in bytes per second. tc reads a
// bare number as bits/s; here it is an error, since the original handed the
// value to tc and few readers of a YAML file expect that.
func ParseRate(s string) (Rate, error) {
	in := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("rate %q is negative", in)
	}
	f, unit, ok := splitNumber(s)
	if !ok {
		return 0, fmt.Errorf("bad rate %q: %s", in, rateHelp)
	}
	unit = strings.TrimSpace(unit)
	if unit == "" {
		return 0, fmt.Errorf("rate %q has no unit: %s", in, rateHelp)
	}
	mul, known := rateUnits[strings.ToLower(unit)]
	if !known {
		return 0, fmt.Errorf("bad rate %q: unknown unit %q: %s", in, unit, rateHelp)
	}
	return Rate(f * mul), nil
}

// BytesPerSecond returns the rate as a plain number.
func (r Rate) BytesPerSecond() float64 { return float64(r) }

// String formats the rate in tc syntax: the largest of gbit, mbit, kbit, bit
// that gives a whole number, else bytes/s ("bps").
func (r Rate) String() string {
	bits := float64(r) * 8
	if bits == math.Trunc(bits) && bits > 0 {
		for _, u := range []struct {
			name string
			n    float64
		}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
			if q := bits / u.n; q == math.Trunc(q) && q >= 1 {
				return strconv.FormatFloat(q, 'f', -1, 64) + u.name
			}
		}
	}
	return strconv.FormatFloat(float64(r), 'f', -1, 64) + "bps"
}

// MarshalJSON writes the rate as a number of bytes per second.
func (r Rate) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return nil, fmt.Errorf("rate %v cannot be written as JSON", float64(r))
	}
	return json.Marshal(float64(r))
}

// UnmarshalJSON reads a number of bytes per second or a tc-style string.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := ParseRate(str)
		if err != nil {
			return err
		}
		*r = v
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("rate: want bytes/s as a number or a string such as \"1mbit\", got %s", b)
	}
	if f < 0 {
		return fmt.Errorf("rate %v is negative", f)
	}
	*r = Rate(f)
	return nil
}

// MarshalYAML writes the rate in tc syntax.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// ParseMilliCPU reads CPU as Kubernetes writes it: "700m" (millicores),
// "0.5" or "2" (cores).
func ParseMilliCPU(s string) (MilliCPU, error) {
	in := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("cpu %q is negative", in)
	}
	f, unit, ok := splitNumber(s)
	if !ok || (unit != "" && unit != "m") {
		return 0, fmt.Errorf("bad cpu %q: want millicores (\"700m\") or cores (\"0.5\", \"2\")", in)
	}
	if unit == "" {
		f *= 1000
	}
	if f >= math.MaxInt64 {
		return 0, fmt.Errorf("cpu %q is out of range", in)
	}
	return MilliCPU(math.Round(f)), nil
}

// String formats the value as Kubernetes does ("700m", "2").
func (c MilliCPU) String() string {
	if c%1000 == 0 {
		return strconv.FormatInt(int64(c/1000), 10)
	}
	return strconv.FormatInt(int64(c), 10) + "m"
}

// Cores returns the value in cores.
func (c MilliCPU) Cores() float64 { return float64(c) / 1000 }

// MarshalYAML writes the value as Kubernetes does.
func (c MilliCPU) MarshalYAML() (any, error) { return c.String(), nil }

// ParsePercent reads "50", "12.5" or "50%". The range (0–100) is checked by
// validation, which knows the field.
func ParsePercent(s string) (Percent, error) {
	in := s
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	f, unit, ok := splitNumber(strings.TrimPrefix(s, "-"))
	if !ok || (unit != "" && unit != "%") {
		return 0, fmt.Errorf("bad percent %q: want a number from 0 to 100, e.g. 50 or \"50%%\"", in)
	}
	if neg {
		f = -f
	}
	return Percent(f), nil
}

// Fraction returns the percentage as a fraction in [0, 1].
func (p Percent) Fraction() float64 { return float64(p) / 100 }

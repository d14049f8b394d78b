package behavior

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string // substring of the error; "" = no error
	}{
		{in: "300ms", want: 300 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "2min", want: 2 * time.Minute},
		{in: "2 min", want: 2 * time.Minute},
		{in: "0.5min", want: 30 * time.Second},
		{in: "1h", want: time.Hour},
		{in: "1h30min", want: 90 * time.Minute},
		{in: "10sec", want: 10 * time.Second},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "-5s", want: -5 * time.Second},
		{in: "250us", want: 250 * time.Microsecond},
		{in: "0", want: 0},
		{in: "0.0", want: 0},
		{in: "30", err: `duration "30" has no unit: write e.g. "30s"`},
		{in: "1.5", err: "has no unit"},
		{in: "", err: "empty duration"},
		{in: "5 minutes", err: `unknown unit "minutes"`},
		{in: "5d", err: `unknown unit "d"`},
		{in: "ms", err: "want a number followed by a unit"},
		{in: "1h30", err: `bad duration "1h30": "30" has no unit`},
		{in: "inf", err: "want a number"},
		{in: "1e3s", err: `unknown unit "e"`},
		{in: "99999999999h", err: "bad duration"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.D() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got.D(), err, tc.want)
		}
	}
}

func TestParseDurationBareMilliseconds(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"100": 100 * time.Millisecond, "1.5": 1500 * time.Microsecond, "0": 0, "2s": 2 * time.Second,
	} {
		got, err := ParseDurationIn(in, time.Millisecond)
		if err != nil || got.D() != want {
			t.Errorf("ParseDurationIn(%q, ms) = %v, %v; want %v", in, got.D(), err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		err  string
	}{
		{in: "16", want: 16 << 20},
		{in: "0.5", want: 512 << 10},
		{in: "16MiB", want: 16 << 20},
		{in: "250Mi", want: 250 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "512KiB", want: 512 << 10},
		{in: "512 KiB", want: 512 << 10},
		{in: "1.5GiB", want: 3 << 29},
		{in: "4096B", want: 4096},
		{in: "1MB", want: 1e6},
		{in: "2k", want: 2000},
		{in: "0", want: 0},
		{in: "-1MiB", err: "negative"},
		{in: "16XB", err: `unknown unit "XB"`},
		{in: "MiB", err: "want a number and a unit"},
		{in: "99999999999TiB", err: "out of range"},
	} {
		got, err := ParseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSize(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate // bytes/s
		err  string
	}{
		{in: "100kbit", want: 12500},
		{in: "1mbit", want: 125000},
		{in: "1Mbit", want: 125000},
		{in: "1gbit", want: 125e6},
		{in: "8bit", want: 1},
		{in: "1kibit", want: 128},
		{in: "100bps", want: 100},
		{in: "1kbps", want: 1000},
		{in: "1mbps", want: 1e6},
		{in: "1mibps", want: 1 << 20},
		{in: "2.5mbit", want: 312500},
		{in: "100", err: `rate "100" has no unit: rates use tc(8) units`},
		{in: "10MB", err: `unknown unit "MB": rates use tc(8) units: bit, kbit, mbit, gbit, tbit are bits/s; bps, kbps, mbps, gbps, tbps are BYTES/s`},
		{in: "1mb/s", err: "BYTES/s"},
		{in: "-1mbit", err: "negative"},
		{in: "fast", err: "tc(8)"},
	} {
		got, err := ParseRate(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRate(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, float64(got), err, float64(tc.want))
		}
	}
}

func TestParseMilliCPUAndPercent(t *testing.T) {
	for in, want := range map[string]MilliCPU{"700m": 700, "0.5": 500, "2": 2000, "1.25": 1250, "0": 0} {
		if got, err := ParseMilliCPU(in); err != nil || got != want {
			t.Errorf("ParseMilliCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"2cores", "-1", "m", "700M", "1e3"} {
		if _, err := ParseMilliCPU(in); err == nil {
			t.Errorf("ParseMilliCPU(%q) accepted", in)
		}
	}
	for in, want := range map[string]Percent{"50": 50, "50%": 50, "12.5": 12.5, "0": 0, "-3": -3, "150": 150} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"half", "50%%", "nan", "5 0"} {
		if _, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) accepted", in)
		}
	}
}

func TestUnitStringsReadBack(t *testing.T) {
	for _, d := range []Duration{0, Duration(300 * time.Millisecond), Duration(2 * time.Minute), Duration(-time.Second)} {
		if got, err := ParseDuration(d.String()); err != nil || got != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	for s, str := range map[Size]string{16 << 20: "16MiB", 1 << 30: "1GiB", 1000: "1000B", 3 << 10: "3KiB", 0: "0B"} {
		if s.String() != str {
			t.Errorf("Size(%d).String() = %q, want %q", s, s.String(), str)
		}
		if got, err := ParseSize(s.String()); err != nil || got != s {
			t.Errorf("ParseSize(%q) = %v, %v", s.String(), got, err)
		}
	}
	for r, str := range map[Rate]string{12500: "100kbit", 125000: "1mbit", 125e6: "1gbit", 1: "8bit", 0.1: "0.1bps", 0: "0bps"} {
		if r.String() != str {
			t.Errorf("Rate(%v).String() = %q, want %q", float64(r), r.String(), str)
		}
		if r == 0 {
			continue
		}
		if got, err := ParseRate(r.String()); err != nil || got != r {
			t.Errorf("ParseRate(%q) = %v, %v", r.String(), got, err)
		}
	}
	for c, str := range map[MilliCPU]string{700: "700m", 2000: "2", 1500: "1500m"} {
		if c.String() != str {
			t.Errorf("MilliCPU(%d).String() = %q, want %q", c, c.String(), str)
		}
	}
}

// TestUnitJSON pins the agent's wire format: a Go duration string, bytes
// and bytes/s as numbers.
func TestUnitJSON(t *testing.T) {
	type wire struct {
		D Duration `json:"d"`
		S Size     `json:"s"`
		R Rate     `json:"r"`
	}
	in := wire{D: Duration(300 * time.Millisecond), S: 16 << 20, R: 12500}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"d":"300ms","s":16777216,"r":12500}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var out wire
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v; want %+v", out, err, in)
	}
	// Lenient inputs: strings in YAML units, nanoseconds as time.Duration writes them.
	if err := json.Unmarshal([]byte(`{"d":"2min","s":"1GiB","r":"1mbit"}`), &out); err != nil {
		t.Fatal(err)
	}
	if out != (wire{D: Duration(2 * time.Minute), S: 1 << 30, R: 125000}) {
		t.Fatalf("string forms read as %+v", out)
	}
	if err := json.Unmarshal([]byte(`{"d":1000000}`), &out); err != nil || out.D.D() != time.Millisecond {
		t.Fatalf("nanoseconds read as %v, %v", out.D, err)
	}
	for _, bad := range []string{`{"d":"30"}`, `{"d":true}`, `{"s":-1}`, `{"s":"lots"}`, `{"r":"100"}`, `{"r":-5}`, `{"r":[]}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("json.Unmarshal(%s) accepted", bad)
		}
	}
}

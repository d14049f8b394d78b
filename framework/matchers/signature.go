package matchers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"
)

// Trend is how a metric moved during a fault against its baseline.
type Trend string

// Trends. Unknown is the dead zone between flat and a rise or fall: a value
// there is neither asserted nor compared, so run-to-run noise near a
// threshold cannot flip a signature.
const (
	Rise    Trend = "rise"
	Fall    Trend = "fall"
	Flat    Trend = "flat"
	Unknown Trend = "unknown"
)

// Thresholds classify a Comparison. A rise needs both a ratio of at least
// Rise and a robust z-score of at least Z; a fall the mirror image; flat
// needs the ratio within [1/(1+Flat), 1+Flat]. Anything else is Unknown.
type Thresholds struct {
	Rise, Flat, Z float64
	// Floor is the smallest meaningful value per family (see Compare);
	// families not listed use 1e-9.
	Floor map[string]float64
}

// DefaultThresholds leave a wide dead zone: flat within [1/1.5, 1.5], a
// trend only at 3× with z ≥ 3. Signatures are meant to be stable across runs
// on a noisy machine, not sensitive. Quantiles come from histogram buckets
// (… .01 .025 .05 .1 .25 …), whose neighbours are 2–2.5× apart: a service
// with a few requests a second whose p95 crosses one bucket edge moves by up
// to 2.5× without any fault, and that must land in the dead zone.
func DefaultThresholds() Thresholds {
	return Thresholds{Rise: 3, Flat: 0.5, Z: 3, Floor: map[string]float64{
		"latency_avg": 1e-3, "latency_p95": 1e-3, "latency_p99": 1e-3,
		"error_rate": 0.01, "request_rate": 0.5, "throughput": 100,
		"cpu_usage": 0.005, "memory_usage": 1 << 20, "net_rx": 100, "net_tx": 100,
	}}
}

// Classify turns a comparison into a trend.
func (th Thresholds) Classify(c Comparison) Trend {
	switch {
	case !c.Valid():
		return Unknown
	case c.Ratio >= th.Rise && c.Z >= th.Z:
		return Rise
	case c.Ratio <= 1/th.Rise && c.Z <= -th.Z:
		return Fall
	case c.Ratio >= 1/(1+th.Flat) && c.Ratio <= 1+th.Flat:
		return Flat
	}
	return Unknown
}

func (th Thresholds) floor(family string) float64 {
	if f, ok := th.Floor[family]; ok {
		return f
	}
	return 1e-9
}

// Cell is one (service, family) of a signature with the numbers behind it.
type Cell struct {
	Trend      Trend `json:"trend"`
	Comparison `json:"-"`
}

// Signature is how every (service, family) of a run moved during one fault.
type Signature struct {
	Fault string
	// Cells by service, then family.
	Cells map[string]map[string]Cell
}

// ComputeSignature classifies every series during w against its baseline.
// settle is skipped at the start of w (see Settle).
func ComputeSignature(series []Series, w Window, th Thresholds) Signature {
	sig := Signature{Fault: w.Name, Cells: map[string]map[string]Cell{}}
	for _, s := range series {
		c := Compare(s, w, th.floor(s.Family))
		if sig.Cells[s.Service] == nil {
			sig.Cells[s.Service] = map[string]Cell{}
		}
		sig.Cells[s.Service][s.Family] = Cell{Trend: th.Classify(c), Comparison: c}
	}
	return sig
}

// Golden is a signature file: trends only, so that diffs are readable.
type Golden struct {
	Fault  string                      `json:"fault"`
	Trends map[string]map[string]Trend `json:"trends"`
}

// Golden returns the trends of s, as a golden file holds them.
func (s Signature) Golden() Golden {
	g := Golden{Fault: s.Fault, Trends: map[string]map[string]Trend{}}
	for svc, fams := range s.Cells {
		g.Trends[svc] = map[string]Trend{}
		for f, c := range fams {
			g.Trends[svc][f] = c.Trend
		}
	}
	return g
}

// UpdateEnv names the environment variable that makes MatchSignatureFile
// write the golden file instead of comparing with it. It is an environment
// variable, not a test flag, because a flag breaks `go test ./...` in every
// package that does not define it.
const UpdateEnv = "VECRO_UPDATE_SIGNATURES"

// MatchSignatureFile compares a Signature with the golden file at path:
// every (service, family) that is rise, fall or flat in both must agree;
// Unknown on either side is ignored, and so is a cell missing on one side.
// With VECRO_UPDATE_SIGNATURES=1 it writes the file and succeeds.
func MatchSignatureFile(path string) types.GomegaMatcher {
	rep := &report{}
	return gcustom.MakeMatcher(func(sig Signature) (bool, error) {
		if os.Getenv(UpdateEnv) == "1" {
			if err := WriteSignature(path, sig); err != nil {
				return false, err
			}
			rep.text = "signature written to " + path
			return true, nil
		}
		want, err := ReadSignature(path)
		if err != nil {
			return false, fmt.Errorf("%w (write it with %s=1)", err, UpdateEnv)
		}
		diffs, compared := diff(want, sig)
		if compared == 0 {
			return false, fmt.Errorf("signature %s: no (service, family) is decided in both the golden file and this run", path)
		}
		if len(diffs) > 0 {
			rep.text = fmt.Sprintf("signature of %s differs from %s in %d of %d decided cells:\n%s\n(rerun with %s=1 to accept the new signature)",
				sig.Fault, path, len(diffs), compared, strings.Join(diffs, "\n"), UpdateEnv)
			return false, nil
		}
		rep.text = fmt.Sprintf("expected signature of %s to differ from %s, but all %d decided cells agree", sig.Fault, path, compared)
		return true, nil
	}).WithTemplate(messageTemplate, rep)
}

func diff(want Golden, got Signature) (diffs []string, compared int) {
	svcs := make([]string, 0, len(want.Trends))
	for s := range want.Trends {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	for _, svc := range svcs {
		fams := make([]string, 0, len(want.Trends[svc]))
		for f := range want.Trends[svc] {
			fams = append(fams, f)
		}
		sort.Strings(fams)
		for _, f := range fams {
			w := want.Trends[svc][f]
			c, ok := got.Cells[svc][f]
			if !ok || w == Unknown || c.Trend == Unknown {
				continue
			}
			compared++
			if w != c.Trend {
				diffs = append(diffs, fmt.Sprintf("  %s %s: golden %s, got %s (ratio %.3g, z %.3g; during %s, baseline %s)",
					svc, f, w, c.Trend, c.Ratio, c.Z, c.During, c.Base))
			}
		}
	}
	return diffs, compared
}

// WriteSignature writes sig's trends as a golden file.
func WriteSignature(path string, sig Signature) error {
	b, err := json.MarshalIndent(sig.Golden(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode signature %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write signature %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write signature %s: %w", path, err)
	}
	return nil
}

// ReadSignature reads a golden file.
func ReadSignature(path string) (Golden, error) {
	var g Golden
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return g, fmt.Errorf("golden signature %s does not exist", path)
	}
	if err != nil {
		return g, fmt.Errorf("read signature %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("read signature %s: %w", path, err)
	}
	for svc, fams := range g.Trends {
		for f, t := range fams {
			if !slices.Contains([]Trend{Rise, Fall, Flat, Unknown}, t) {
				return g, fmt.Errorf("read signature %s: %s %s: unknown trend %q", path, svc, f, t)
			}
		}
	}
	return g, nil
}

// Count returns how many cells have each trend: a quick summary for reports.
func (s Signature) Count() map[Trend]int {
	out := map[Trend]int{}
	for _, fams := range s.Cells {
		for _, c := range fams {
			out[c.Trend]++
		}
	}
	return out
}

package matchers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/matchers"
	"github.com/vecrosim/vecro/internal/testexp"
)

// Two chains with nothing in common, so that a delay on the wrong one has a
// signature of its own: a → b → c and d → e.
const twoChains = `name: two-chains
namespace: two-chains
services:
  - {name: a, type: base, workload: {cpu: 1, net: 256}, calls: [b]}
  - {name: b, type: base, workload: {cpu: 1, net: 256}, calls: [c]}
  - {name: c, type: base, workload: {cpu: 1, net: 256}}
  - {name: d, type: base, workload: {cpu: 1, net: 256}, calls: [e]}
  - {name: e, type: base, workload: {cpu: 1, net: 256}}
`

// Five ingress delays one after another, 12 s apart so that the 5 s
// windows of the metrics forget each before the next: three at full
// strength on c (two to learn from, one to check), one at a quarter of it
// on c, and one at full strength on e, the wrong target. One run shares one
// deployment and one baseline among them: its timeline is 158 s, where five
// runs would spend over four minutes on timelines and deploy five times.
const fiveDelays = `name: five-delays
namespace: two-chains
faults:
  - {name: full-1, target: c, start: 20s, duration: 15s, behaviors: {net-delay: {time: 200ms, jitter: 20ms}}}
  - {name: quarter, target: c, start: 47s, duration: 15s, behaviors: {net-delay: {time: 50ms, jitter: 5ms}}}
  - {name: full-2, target: c, start: 74s, duration: 15s, behaviors: {net-delay: {time: 200ms, jitter: 20ms}}}
  - {name: wrong-target, target: e, start: 101s, duration: 15s, behaviors: {net-delay: {time: 200ms, jitter: 20ms}}}
  - {name: full-3, target: c, start: 128s, duration: 15s, behaviors: {net-delay: {time: 200ms, jitter: 20ms}}}
`

// TestRealRunCatchesAWeakerFaultAndTheWrongTarget learns a golden from two
// real delays on the embedded runtime and checks that a third passes while
// a quarter-strength delay and a delay on the wrong target fail.
func TestRealRunCatchesAWeakerFaultAndTheWrongTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("a real experiment of about three minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, dir := testexp.New(ctx, t, twoChains, fiveDelays, 12)
	e.Families = []string{"latency_p95", "error_rate"}
	// Open loop, as in the scenarios: unrelated services keep their load.
	e.Load = experiment.Load{Rate: "20", Arrivals: "poisson"}
	e.Phases = experiment.Phases{WarmUp: 10 * time.Second, Recovery: 5 * time.Second}
	e.Windows.Rate, e.Windows.Quantile, e.Windows.Resource = 5*time.Second, 5*time.Second, 5*time.Second
	var progress strings.Builder
	e.Progress = &progress
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatalf("experiment: %v\n%s", err, progress.String())
	}

	sig := func(fault string) analysis.Signature {
		s := res.Signature(fault, e.Windows.Quantile, "latency_p95", "error_rate")
		// One golden, as if every window were a run of the same fault.
		s.Fault = "c-delay"
		return s
	}
	golden := filepath.Join(dir, "c-delay.json")
	learn(t, golden, sig("full-1"), sig("full-2"))
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("golden learned from full-1 and full-2:\n%s", b)

	m := matchers.MatchSignatureFile(golden)
	if ok, err := m.Match(sig("full-3")); err != nil || !ok {
		t.Errorf("full-3 does not match the golden of full-1 and full-2 (%v): %s", err, m.FailureMessage(nil))
	}
	for _, fault := range []string{"quarter", "wrong-target"} {
		t.Run(fault, func(t *testing.T) {
			msg := mismatch(t, golden, sig(fault))
			if !strings.Contains(msg, "a latency_p95") {
				t.Errorf("the mismatch does not name a, the caller that rises in the golden:\n%s", msg)
			}
		})
	}
	if t.Failed() {
		t.Logf("dataset: %s\n%s", res.Dir, progress.String())
	}
}

package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/experiment/ginkgorun"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

// deadline is go test's -timeout, if any: an experiment that cannot finish
// before it fails at once with what to do, instead of being killed midway
// by the test binary's panic.
var deadline time.Time

func TestScenarios(t *testing.T) {
	if d, ok := t.Deadline(); ok {
		deadline = d
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scenarios")
}

const (
	socialSystem = "../fixtures/systems/social.yaml"
	faultsDir    = "../fixtures/faults/"
	signatures   = "../fixtures/signatures/"
)

// long is VECRO_LONG=1: dataset-length runs like the published Social9
// recordings, with the original collector's query windows.
var long = os.Getenv("VECRO_LONG") == "1"

// settle is skipped at the start of a fault before comparing: the quantile
// window needs that long to show the change in full.
func settle() time.Duration {
	if long {
		return metrics.DefaultWindows.Quantile
	}
	return experiment.ShortWindows.Quantile
}

// An experiment's time beyond its timeline: usually about a minute
// (starting 25 services and their databases, querying and writing the
// dataset), at worst runOverhead (building the service binary on a cold
// cache takes ~2 min on 2 busy cores).
const (
	typicalOverhead = time.Minute
	runOverhead     = 6 * time.Minute
)

// runExperiment registers, in the enclosing Ordered container, the BeforeAll
// that runs e, and returns the result its specs read once it has run. The
// BeforeAll's NodeTimeout is e's timeline plus runOverhead, so a run that
// hangs fails on its own instead of eating the suite's deadline; a run that
// cannot finish before go test's deadline even in typical time fails at
// once.
func runExperiment(e *experiment.Experiment) *experiment.Result {
	res := new(experiment.Result)
	var timeline time.Duration
	if tl, err := experiment.NewTimeline(time.Time{}, e.Phases, e.Faults, 0); err == nil {
		timeline = tl.Duration()
	}
	BeforeAll(func(ctx SpecContext) {
		Expect(e.Err()).NotTo(HaveOccurred())
		if need := timeline + typicalOverhead; !deadline.IsZero() && time.Until(deadline) < need {
			Fail(fmt.Sprintf("this experiment needs about %v, but go test's -timeout ends in %v: raise -timeout (make test-long runs with -timeout 0)",
				need, time.Until(deadline).Round(time.Second)))
		}
		// The suite's runtime is known only once BeforeSuite ran, after
		// the spec tree (and this experiment) was built.
		if e.Runtime == nil {
			e.Runtime = suiteRuntime
		}
		if suiteRuntime != nil && socialExperiments[e] {
			e.Load.Rate = clusterSocialRate
		}
		*res = *ginkgorun.MustRun(ctx, e)
	}, NodeTimeout(timeline+runOverhead))
	return res
}

// Every dataset the suite wrote, listed at its end (and in
// $ARTIFACTS_DIR/junit/datasets.txt when that directory exists) so that a
// CI job can keep them with the JUnit report.
var _ = ReportAfterSuite("datasets", func(r Report) {
	var dirs []string
	for _, sr := range r.SpecReports {
		for _, e := range sr.ReportEntries {
			if e.Name == "dataset" {
				dirs = append(dirs, fmt.Sprintf("%s\t%s\t%s", e.StringRepresentation(), sr.State, strings.Join(sr.ContainerHierarchyTexts, " ")))
			}
		}
	}
	fmt.Printf("datasets written by this suite: %d\n", len(dirs))
	for _, d := range dirs {
		fmt.Println("  " + d)
	}
	if a := os.Getenv("ARTIFACTS_DIR"); a != "" {
		if _, err := os.Stat(filepath.Join(a, "junit")); err == nil {
			body := strings.Join(dirs, "\n")
			if body != "" {
				body += "\n"
			}
			Expect(os.WriteFile(filepath.Join(a, "junit", "datasets.txt"), []byte(body), 0o644)).To(Succeed())
		}
	}
})

// clusterSocialRate is the social experiments' rate on a cluster, where
// runExperiment puts it in place of the embedded runtime's 40 requests/s.
// The offline node's two cores also run its control plane, kubelet,
// containerd, kube-proxy and Prometheus beside the 30 pods: at 40/s the
// delay scenario's baseline p95 of posts-storage was 0.42 s (MAD 0.19 s),
// the node saturated before any fault, where `vecro run` at 20/s on the
// same node minutes earlier measured 0.031 s.
const clusterSocialRate = "20"

// socialExperiments are the experiments social built.
var socialExperiments = map[*experiment.Experiment]bool{}

// social builds the experiment of one fault file on the social system, with
// a load that gives every entry service a few requests per second. A file
// that does not load shows as the experiment's error in its BeforeAll.
func social(faultFile string) *experiment.Experiment {
	e := experiment.FromFiles(socialSystem, faultsDir+faultFile)
	if e.Err() != nil {
		return e
	}
	s := seed
	e.Seed = &s
	// An open loop: the arrival rate does not drop when a fault slows the
	// system, so services the fault does not reach see the same load
	// throughout (a closed loop would starve them and make them look faster).
	e.Load = experiment.Load{Rate: "40", Arrivals: "poisson"}
	socialExperiments[e] = true
	// The first seconds of a run are slow (connections set up through every
	// proxy, the databases' first queries), and a quantile over a window
	// remembers them for as long as the window: warm up for longer than the
	// window, and move the faults so the baseline keeps 20 s.
	e.Phases = experiment.Phases{WarmUp: 15 * time.Second, Recovery: 5 * time.Second}
	for i := range e.Faults.Faults {
		e.Faults.Faults[i].Start += spec.Duration(5 * time.Second)
	}
	if long {
		for i := range e.Faults.Faults {
			e.Faults.Faults[i].Start = spec.Duration(20 * time.Minute)
			e.Faults.Faults[i].Duration = spec.Duration(15 * time.Minute)
		}
		e.Phases = experiment.Phases{WarmUp: 2 * time.Minute, Recovery: 35 * time.Minute}
		e.Windows = metrics.DefaultWindows
	}
	return e
}

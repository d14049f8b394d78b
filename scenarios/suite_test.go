package scenarios

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/experiment"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
)

func TestScenarios(t *testing.T) {
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

// social builds the experiment of one fault file on the social system, with
// a load that gives every entry service a few requests per second.
func social(faultFile string) *experiment.Experiment {
	e := experiment.FromFiles(socialSystem, faultsDir+faultFile)
	Expect(e.Err()).NotTo(HaveOccurred())
	seed := int64(20261125)
	e.Seed = &seed
	// An open loop: the arrival rate does not drop when a fault slows the
	// system, so services the fault does not reach see the same load
	// throughout (a closed loop would starve them and make them look faster).
	e.Load = experiment.Load{Rate: "40", Arrivals: "poisson"}
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

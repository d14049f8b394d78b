// Package ginkgorun runs experiments inside Ginkgo specs. It is apart from
// package experiment so that a program running experiments (the vecro CLI,
// a dataset job) links neither Ginkgo nor Gomega, and Ginkgo's init does not
// register its -ginkgo.* flags on the program's flag set.
package ginkgorun

import (
	"context"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/experiment"
)

// MustRun runs e inside a Ginkgo node (BeforeAll of an Ordered container),
// fails the spec on any error, and attaches the dataset's path and the load
// report to the spec's report. The run clears its faults and stops its
// runtime on every way out, including the SpecContext's cancellation when
// Ginkgo is interrupted.
func MustRun(ctx context.Context, e *experiment.Experiment) *experiment.Result {
	ginkgo.GinkgoHelper()
	if e.Progress == nil {
		e.Progress = ginkgo.GinkgoWriter
	}
	res, err := e.Run(ctx)
	if res != nil && res.Dir != "" {
		ginkgo.AddReportEntry("dataset", res.Dir)
	}
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "experiment %s", e.Name)
	var b strings.Builder
	if err := res.Load.WriteText(&b); err == nil {
		ginkgo.AddReportEntry("load", b.String())
	}
	for _, w := range res.Windows {
		ginkgo.AddReportEntry("fault "+w.Fault+" "+w.Behavior,
			fmt.Sprintf("%s on %d of %d instances %v, planned %s–%s, applied %s–%s, effect %v, not applied %v", w.Status,
				len(w.AppliedInstances), len(w.Instances), w.AppliedInstances, w.PlannedStart.Format("15:04:05.000"), w.PlannedEnd.Format("15:04:05.000"),
				w.AppliedStart.Format("15:04:05.000"), w.AppliedEnd.Format("15:04:05.000"), w.Effect, w.Errors))
	}
	return res
}

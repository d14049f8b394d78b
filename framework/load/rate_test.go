//go:build !race

// The race detector slows every goroutine several-fold, so a measurement of
// the generator's timing under it says nothing: this file is left out of
// race builds rather than skipped in them, and `make test` runs this
// package once more without -race so that the measurement always runs.

package load_test

import (
	"math"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/load"
)

// rateRun sends 2,000/s for 10 s to a fast loopback server.
func rateRun(tb testing.TB) *load.Report {
	srv := newServer(tb, nil)
	return start(tb, tb.Context(), load.Spec{
		Targets: load.URLs(srv.URL), Method: "GET", Rate: load.Constant{PerSecond: 2000}, Duration: 10 * time.Second,
	}).Wait()
}

// TestOpenLoopRateAccuracy: the planned 20,000 requests go out within 1%.
// BenchmarkOpenLoopRate reports the same figures.
func TestOpenLoopRateAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("rate accuracy is a 10 s timing measurement: run without -short")
	}
	rep := rateRun(t)
	t.Logf("sent %d of %d planned in %v (%.1f/s), late %d, send lag p99 %v max %v",
		rep.Sent, rep.Planned, rep.Duration, rep.Achieved, rep.Late, rep.SendLag.P99, rep.SendLag.Max)
	if rep.Planned != 20000 {
		t.Errorf("planned %d; want 20000 (2,000/s × 10 s)", rep.Planned)
	}
	if off := math.Abs(float64(rep.Sent)-20000) / 20000; off > 0.01 {
		t.Errorf("sent %d; want 20000 ± 1%% (off by %.2f%%)", rep.Sent, off*100)
	}
	if off := math.Abs(rep.Achieved-2000) / 2000; off > 0.01 {
		t.Errorf("achieved %.1f/s; want 2000/s ± 1%%", rep.Achieved)
	}
	if rep.Errors != 0 {
		t.Errorf("%d errors: %v", rep.Errors, rep.ErrorSamples)
	}
}

// BenchmarkOpenLoopRate runs the 2,000/s × 10 s plan once per iteration
// (use -benchtime=1x) and reports how well the generator kept to it.
func BenchmarkOpenLoopRate(b *testing.B) {
	for b.Loop() {
		rep := rateRun(b)
		b.ReportMetric(rep.Achieved, "req/s")
		b.ReportMetric(100*float64(rep.Sent)/float64(rep.Planned), "%sent")
		b.ReportMetric(float64(rep.Late), "late")
		b.ReportMetric(float64(rep.SendLag.P99.Microseconds()), "lag-p99-µs")
	}
}

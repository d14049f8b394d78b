package kube_test

import (
	"testing"

	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/runtime/kube"
)

// The runtime's name selects the "kube" flavour of the metric families.
func TestNameIsMetricsFlavor(t *testing.T) {
	if kube.Name != string(metrics.FlavorKube) || kube.New(kube.Options{}).Name() != kube.Name {
		t.Errorf("runtime name %q, flavour %q", kube.Name, metrics.FlavorKube)
	}
}

package kube

import (
	"context"
	"time"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
)

// WaitStandalonePrometheus waits until the standalone Prometheus of system
// is ready and returns its pod. res should list in the system's namespace.
func WaitStandalonePrometheus(ctx context.Context, res *resources.Resources, system string, timeout time.Duration) (string, error) {
	return waitReadyPod(ctx, res, manifest.PrometheusSelector(system), timeout, 500*time.Millisecond,
		"standalone prometheus of "+system,
		func(*corev1.Pod) bool { return true },
		func(p *corev1.Pod) bool { return podReady(p) && p.DeletionTimestamp == nil })
}

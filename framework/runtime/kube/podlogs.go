package kube

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vecrosim/vecro/framework/logs"
)

// serviceContainer is the container of a service pod that runs the service
// binary (manifest's pod template), whose stdout holds its request log.
const serviceContainer = "service"

// podLogs is a Deployment's logs.Source on Kubernetes: the service
// containers' own stdout, read back through the API server from the
// kubelet, the same JSON lines the embedded runtime reads from its files.
// The kubelet rotates a container's log at its size limit (10 MiB by
// default, about 40,000 request lines): a run longer than that keeps the
// last file only, and lines before it are not read.
type podLogs struct {
	cs   kubernetes.Interface
	ns   string
	pods []string
}

var _ logs.Source = podLogs{}

// Lines implements logs.Source.
func (p podLogs) Lines(ctx context.Context, from, to time.Time) ([]logs.Line, logs.Stats, error) {
	var out []logs.Line
	var st logs.Stats
	// A second of slack: the kubelet's timestamps are its own, not the
	// lines', and a line of the window's first instant must not be lost.
	since := metav1.NewTime(from.Add(-time.Second))
	for _, pod := range p.pods {
		rc, err := p.cs.CoreV1().Pods(p.ns).GetLogs(pod, &corev1.PodLogOptions{Container: serviceContainer, SinceTime: &since}).Stream(ctx)
		if err != nil {
			return nil, st, fmt.Errorf("read the log of pod %s/%s: %w", p.ns, pod, err)
		}
		err = logs.Parse(rc, func(l logs.Line) {
			if !l.Time.Before(from) && l.Time.Before(to) {
				out = append(out, l)
				st.Lines++
			}
		}, &st.Other)
		rc.Close()
		if err != nil {
			return nil, st, fmt.Errorf("read the log of pod %s/%s: %w", p.ns, pod, err)
		}
	}
	slices.SortStableFunc(out, func(a, b logs.Line) int { return a.Time.Compare(b.Time) })
	return out, st, nil
}

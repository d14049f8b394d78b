package kube

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/portforward"
)

// watchInterval is how often the pods are checked for restarts.
const watchInterval = 2 * time.Second

// watch reports every pod restart, pod loss and lost port-forward on
// failures until ctx ends.
func (r *Runtime) watch(ctx context.Context, m *Manifest, failures chan<- error) {
	restarts := map[string]int32{}
	reported := map[*portforward.Forward]bool{}
	// Pods by name as last listed: a pod that disappears or starts
	// terminating while the system should run (an eviction, a node lost, a
	// kubectl delete) is a failure like a restart, although its Deployment
	// will replace it; the watch ends before Stop deletes anything.
	live, gone := map[string]bool{}, map[string]bool{}
	send := func(err error) {
		select {
		case failures <- err:
		default:
			r.log.Error("deployment failure (channel full)", "err", err)
		}
	}
	sel := manifest.SystemSelector(m.System)
	first := true
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		listed := map[string]bool{}
		if err == nil {
			for _, p := range pods.Items {
				listed[p.Name] = true
				if p.DeletionTimestamp != nil && !gone[p.Name] {
					gone[p.Name] = true
					send(fmt.Errorf("pod %s/%s is being deleted (since %s): %s", p.Namespace, p.Name, p.DeletionTimestamp.UTC().Format(time.RFC3339), deletionReason(&p)))
				}
				for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
					key := p.Name + "/" + cs.Name
					if prev, ok := restarts[key]; ok && cs.RestartCount > prev || !ok && !first && cs.RestartCount > 0 {
						send(r.restartError(ctx, &p, cs))
					}
					restarts[key] = cs.RestartCount
				}
			}
			for name := range live {
				if !listed[name] && !gone[name] {
					gone[name] = true
					send(fmt.Errorf("pod %s/%s is gone: deleted while the system was running", m.Namespace, name))
				}
			}
			live = listed
		}
		first = false
		for _, f := range r.fwd.List() {
			if err := f.Err(); err != nil && !reported[f] {
				reported[f] = true
				send(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deletionReason says what the pod's status tells of why it goes: an
// eviction or a disruption condition, or nothing more than the deletion.
func deletionReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("%s: %s", c.Reason, c.Message)
		}
	}
	if p.Status.Reason != "" {
		return fmt.Sprintf("%s: %s", p.Status.Reason, p.Status.Message)
	}
	return "deleted while the system was running"
}

// restartError names the pod and container, how it ended and its last log
// lines.
func (r *Runtime) restartError(ctx context.Context, p *corev1.Pod, cs corev1.ContainerStatus) error {
	how := "restarted"
	if t := cs.LastTerminationState.Terminated; t != nil {
		how = fmt.Sprintf("exited %d (%s) and was restarted", t.ExitCode, t.Reason)
	}
	tail := int64(20)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	logs, err := r.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, Previous: true, TailLines: &tail}).DoRaw(lctx)
	last := string(bytes.TrimSpace(logs))
	if err != nil {
		last = "(no log: " + err.Error() + ")"
	}
	return fmt.Errorf("pod %s/%s container %s %s (restart %d); last log lines:\n%s", p.Namespace, p.Name, cs.Name, how, cs.RestartCount, last)
}

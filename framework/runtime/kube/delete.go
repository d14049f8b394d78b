package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/monitor"
	"github.com/vecrosim/vecro/framework/spec"
)

// Delete removes what a deploy of sys left in the cluster when the process
// that deployed it could not (it was killed): vecro's objects, the
// standalone Prometheus' cluster role and binding among them, and then the
// namespace if vecro created it. The agents go with their pods, and any fault with them. It
// needs no earlier Start; nothing there is not an error.
func (r *Runtime) Delete(ctx context.Context, sys *spec.System) error {
	if _, err := r.Connect(ctx); err != nil {
		return err
	}
	if sys == nil {
		return errors.New("kube runtime: no system")
	}
	ns := r.opts.Namespace
	if ns == "" {
		ns = sys.EffectiveNamespace()
	}
	owns, err := r.ownsNamespace(ctx, ns, sys.Name)
	if err != nil {
		return err
	}
	kp := r.opts.KubePrometheus
	// Only the objects' names matter here: whatever mode deployed the
	// system, its objects are among the standalone Prometheus' and, where
	// the kind exists, kube-prometheus' ServiceMonitor.
	installed, err := kp.Installed(ctx, r.dyn)
	if err != nil {
		return err
	}
	mo := manifest.Options{
		Namespace:       ns,
		Image:           DryRunImage,
		Token:           DryRunSecret,
		DBPassword:      DryRunSecret,
		ManageNamespace: owns,
	}
	monitor.StandaloneMonitor{Config: r.opts.Standalone, Image: DryRunPrometheusImage}.Configure(&mo)
	if installed {
		monitor.KubePrometheusMonitor{Config: kp}.Configure(&mo)
	}
	m, err := manifest.Build(sys, mo)
	if err != nil {
		return err
	}
	return r.delete(ctx, m, owns)
}

// delete removes the system and waits until it is gone, within
// DeleteTimeout: its objects first and its pods gone, then a namespace vecro
// created. Deleting the namespace first left the pods to the namespace
// controller, which, finding them still terminating, looks again only
// after the longest grace period they declare (Jaeger's and Prometheus'
// default 30 s): the namespace of every run on the offline node stayed
// 30 s, its pods gone in about 16.
func (r *Runtime) delete(ctx context.Context, m *Manifest, owns bool) error {
	deadline := time.Now().Add(r.opts.DeleteTimeout)
	bg := metav1.DeletePropagationBackground
	var errs []error
	for _, o := range slices.Backward(m.Objects) {
		if o.Kind == "Namespace" {
			continue
		}
		err := manifest.Delete(ctx, r.clients(), o, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err == nil || apierrors.IsNotFound(err) {
			continue
		}
		err = fmt.Errorf("delete %s: %w", o, err)
		if owns && o.Namespace != "" {
			r.log.Info("left to the namespace's deletion", "error", err)
			continue
		}
		errs = append(errs, err)
	}
	// The Deployments' ReplicaSets and pods too, not left to the garbage
	// collector: it stalls while it rebuilds its graph after a resource
	// type appears (a CRD), and on envtest the social system's 26 pods
	// were all still running 30 s after their Deployments went. A
	// ReplicaSet still there would only replace its pods, so they go in
	// that order. Either failing leaves the work to the collector.
	sel := metav1.ListOptions{LabelSelector: manifest.SystemSelector(m.System)}
	if err := r.cs.AppsV1().ReplicaSets(m.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, sel); err != nil {
		r.log.Info("replica sets left to the garbage collector", "error", err)
	} else if err := r.cs.CoreV1().Pods(m.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		r.log.Info("pods left to the garbage collector", "error", err)
	}
	if !owns {
		if len(errs) > 0 {
			// A Deployment that is still there keeps its pods: waiting
			// for them would only time out.
			return errors.Join(errs...)
		}
		return r.waitPodsGone(ctx, m, time.Until(deadline))
	}
	// Past a pod's default grace period the namespace controller waits no
	// longer than this would: the namespace takes what is left.
	if err := r.waitPodsGone(ctx, m, min(time.Until(deadline), podsFirstTimeout)); err != nil {
		r.log.Info("deleting the namespace with pods left in it", "why", err)
	}
	// A teardown cut short still deletes the namespace vecro created,
	// without waiting for it: it must not outlive the run.
	dctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	if err := r.cs.CoreV1().Namespaces().Delete(dctx, m.Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return errors.Join(append(errs, fmt.Errorf("delete namespace %s: %w", m.Namespace, err))...)
	}
	if err := ctx.Err(); err != nil {
		return errors.Join(append(errs, fmt.Errorf("delete namespace %s: started, not waited for: %w", m.Namespace, err))...)
	}
	gone := func(ctx context.Context) (bool, error) {
		_, err := r.cs.CoreV1().Namespaces().Get(ctx, m.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
	start := time.Now()
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, max(time.Until(deadline), time.Second), false, gone); err != nil {
		// The time waited, not the bound: a caller's shorter deadline
		// ends the wait first.
		return errors.Join(append(errs, fmt.Errorf("delete namespace %s: still there after %v (%s): %w", m.Namespace, time.Since(start).Round(100*time.Millisecond), r.namespaceState(ctx, m.Namespace), err))...)
	}
	r.log.Info("namespace gone", "namespace", m.Namespace, "took", time.Since(start).Round(100*time.Millisecond))
	return errors.Join(errs...)
}

// podsFirstTimeout bounds the wait for a system's pods before its own
// namespace is deleted: a pod's default grace period, as long as the
// namespace controller would wait on them.
const podsFirstTimeout = 30 * time.Second

// waitPodsGone waits up to timeout for the system's pods to be gone and
// otherwise names those left.
func (r *Runtime) waitPodsGone(ctx context.Context, m *Manifest, timeout time.Duration) error {
	var left []string
	var listErr error
	listed := false
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, max(timeout, time.Second), false, func(ctx context.Context) (bool, error) {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector(m.System)})
		if err != nil {
			// The last list before the deadline fails on the client's
			// rate limiter: the pods of the list before are news enough.
			if !listed {
				listErr = err
			}
			return false, nil
		}
		listed, listErr, left = true, nil, left[:0]
		for i := range pods.Items {
			left = append(left, podState(&pods.Items[i]))
		}
		return len(left) == 0, nil
	})
	if err == nil {
		r.log.Debug("pods gone", "namespace", m.Namespace, "took", time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	what := fmt.Sprintf("%d pod(s) left", len(left))
	if listErr != nil {
		what = "pods unknown: " + listErr.Error()
	} else if len(left) > 5 {
		left = append(left[:5], "…")
	}
	return fmt.Errorf("delete system %s in namespace %s: %s after %v (%s): %w", m.System, m.Namespace, what, time.Since(start).Round(100*time.Millisecond), strings.Join(left, "; "), err)
}

// podState names a pod left behind and says why it may still be there.
func podState(p *corev1.Pod) string {
	s := p.Name + " " + string(p.Status.Phase)
	if p.DeletionTimestamp == nil {
		s += ", not being deleted"
	}
	if len(p.Finalizers) > 0 {
		s += ", finalizers " + strings.Join(p.Finalizers, ",")
	}
	if len(p.OwnerReferences) == 0 {
		s += ", no owner"
	}
	return s
}

// namespaceState says why a namespace is not gone: its phase and
// conditions (what the namespace controller could not delete).
func (r *Runtime) namespaceState(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ns, err := r.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "phase %s", ns.Status.Phase)
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			fmt.Fprintf(&b, "; %s: %s", c.Type, c.Message)
		}
	}
	// The pods that hold the namespace up, and what their containers are
	// doing: a namespace stuck in Terminating is nearly always one of them.
	pods, err := r.cs.CoreV1().Pods(name).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "; pods: %v", err)
		return b.String()
	}
	for i, p := range pods.Items {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more pod(s)", len(pods.Items)-i)
			break
		}
		fmt.Fprintf(&b, "; pod %s %s", p.Name, p.Status.Phase)
		if p.DeletionTimestamp != nil {
			fmt.Fprintf(&b, " deleting since %s", p.DeletionTimestamp.UTC().Format(time.TimeOnly))
		}
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			switch st := cs.State; {
			case st.Running != nil:
				fmt.Fprintf(&b, ", %s running", cs.Name)
			case st.Terminated != nil:
				fmt.Fprintf(&b, ", %s terminated (%s)", cs.Name, st.Terminated.Reason)
			case st.Waiting != nil:
				fmt.Fprintf(&b, ", %s waiting (%s)", cs.Name, st.Waiting.Reason)
			}
		}
	}
	return b.String()
}

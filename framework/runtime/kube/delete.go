package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
// that deployed it could not (it was killed): the namespace if vecro created
// it, else vecro's objects in it, and the standalone Prometheus' cluster role
// and binding. The agents go with their pods, and any fault with them. It
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

// delete removes the system and waits until it is gone.
func (r *Runtime) delete(ctx context.Context, m *Manifest, owns bool) error {
	if owns {
		err := r.cs.CoreV1().Namespaces().Delete(ctx, m.Namespace, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", m.Namespace, err)
		}
		gone := func(ctx context.Context) (bool, error) {
			_, err := r.cs.CoreV1().Namespaces().Get(ctx, m.Namespace, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		}
		start := time.Now()
		if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.opts.DeleteTimeout, false, gone); err != nil {
			// The time waited, not the bound: a caller's shorter deadline
			// ends the wait first.
			return fmt.Errorf("delete namespace %s: still there after %v (%s): %w", m.Namespace, time.Since(start).Round(100*time.Millisecond), r.namespaceState(ctx, m.Namespace), err)
		}
		r.log.Info("namespace gone", "namespace", m.Namespace, "took", time.Since(start).Round(100*time.Millisecond))
		// The namespace took its objects; the cluster-scoped ones (the
		// standalone Prometheus' access to the nodes) are not in it.
		var errs []error
		for _, o := range slices.Backward(m.Objects) {
			if o.Namespace != "" || o.Kind == "Namespace" {
				continue
			}
			if err := manifest.Delete(ctx, r.clients(), o, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
			}
		}
		return errors.Join(errs...)
	}
	bg := metav1.DeletePropagationBackground
	var errs []error
	for _, o := range slices.Backward(m.Objects) {
		err := manifest.Delete(ctx, r.clients(), o, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	left := 0
	start := time.Now()
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.opts.DeleteTimeout, false, func(ctx context.Context) (bool, error) {
		pods, err := r.cs.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector(m.System)})
		if err != nil {
			return false, nil
		}
		left = len(pods.Items)
		return left == 0, nil
	}); err != nil {
		return fmt.Errorf("delete system %s in namespace %s: %d pod(s) left after %v: %w", m.System, m.Namespace, left, time.Since(start).Round(100*time.Millisecond), err)
	}
	return nil
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

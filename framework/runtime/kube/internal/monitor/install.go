package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/rollout"
)

var gvrCRD = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// Installed tells whether kube-prometheus (or another prometheus-operator
// install with the same names) is there: the Prometheus CRD and the
// Prometheus object.
func (k KubePrometheus) Installed(ctx context.Context, client dynamic.Interface) (bool, error) {
	k = k.WithDefaults()
	if _, err := client.Resource(gvrCRD).Get(ctx, "prometheuses.monitoring.coreos.com", metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("look for kube-prometheus: %w", err)
	}
	gvr := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}
	if _, err := client.Resource(gvr).Namespace(k.Namespace).Get(ctx, k.Prometheus, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("look for kube-prometheus: %w", err)
	}
	return true, nil
}

// InstallRelease applies a release as its README says: setup first (the
// namespace and the CRDs), wait for the CRDs to be established, then the
// rest; everything server-side applied by "vecro". It does not wait for
// Prometheus: see WaitPrometheus.
func InstallRelease(ctx context.Context, cfg *rest.Config, rel *Release, logger *slog.Logger) error {
	if logger == nil {
		logger = discard
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("install kube-prometheus: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("install kube-prometheus: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	if err := applyUnstructured(ctx, client, mapper, rel.Setup); err != nil {
		return fmt.Errorf("install kube-prometheus %s setup: %w", rel.Version, err)
	}
	for _, o := range rel.Setup {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := WaitCRDEstablished(ctx, client, o.GetName(), time.Minute); err != nil {
			return fmt.Errorf("install kube-prometheus %s: %w", rel.Version, err)
		}
	}
	// The new kinds are served now; forget what discovery said before.
	mapper.Reset()
	logger.Info("kube-prometheus CRDs established", "version", rel.Version, "objects", len(rel.Setup))
	if err := applyUnstructured(ctx, client, mapper, rel.Rest); err != nil {
		return fmt.Errorf("install kube-prometheus %s: %w", rel.Version, err)
	}
	logger.Info("kube-prometheus applied", "version", rel.Version, "objects", len(rel.Rest))
	return nil
}

func applyUnstructured(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, objs []*unstructured.Unstructured) error {
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		body, err := u.MarshalJSON()
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		ns := ""
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns = u.GetNamespace()
			if ns == "" {
				ns = corev1.NamespaceDefault
			}
		}
		if _, err := manifest.Apply(ctx, manifest.Clients{Dynamic: client}, []manifest.Object{{GVR: m.Resource, Kind: gvk.Kind, Namespace: ns, Name: u.GetName(), Body: body}}); err != nil {
			return err
		}
	}
	return nil
}

// WaitCRDEstablished waits until the CRD name is established (its kind is
// served).
func WaitCRDEstablished(ctx context.Context, client dynamic.Interface, name string, timeout time.Duration) error {
	var last *apiextensionsv1.CustomResourceDefinition
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := client.Resource(gvrCRD).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		var got apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &got); err != nil {
			return false, fmt.Errorf("CRD %s: %w", name, err)
		}
		last = &got
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established {
				return c.Status == apiextensionsv1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		why := "it does not exist"
		if last != nil {
			why = fmt.Sprintf("conditions %v", last.Status.Conditions)
		}
		return fmt.Errorf("CRD %s not established after %v (%s): %w", name, time.Since(start).Round(100*time.Millisecond), why, err)
	}
	return nil
}

// WaitPrometheus waits until a pod of the Prometheus object is ready and
// returns its name.
func WaitPrometheus(ctx context.Context, cs kubernetes.Interface, k KubePrometheus) (string, error) {
	k = k.WithDefaults()
	return waitReadyPod(ctx, cs, k.Namespace, PrometheusPodSelector(k.Prometheus), k.Timeout, time.Second,
		fmt.Sprintf("prometheus %s/%s", k.Namespace, k.Prometheus),
		func(p *corev1.Pod) bool { return p.Namespace == k.Namespace },
		rollout.PodReady)
}

// waitReadyPod waits until one of the pods that sel selects and consider
// accepts is ready (by ready) and returns its name; when the time is up,
// the error names what, and the state and problems of every pod it saw.
func waitReadyPod(ctx context.Context, cs kubernetes.Interface, ns, sel string, timeout, interval time.Duration, what string, consider, ready func(*corev1.Pod) bool) (string, error) {
	var pod string
	var seen []string
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return false, nil
		}
		seen = seen[:0]
		for i := range pods.Items {
			p := &pods.Items[i]
			if !consider(p) {
				continue
			}
			if ready(p) {
				pod = p.Name
				return true, nil
			}
			seen = append(seen, fmt.Sprintf("%s: %s %v", p.Name, p.Status.Phase, rollout.PodProblems(p)))
		}
		return false, nil
	})
	if err != nil {
		state := "no pods"
		if len(seen) > 0 {
			state = strings.Join(seen, "; ")
		}
		return "", fmt.Errorf("%s not ready after %v (%s): %w", what, time.Since(start).Round(100*time.Millisecond), state, err)
	}
	return pod, nil
}

// WaitStandalone waits until the standalone Prometheus of system, in
// namespace ns, is ready and returns its pod.
func WaitStandalone(ctx context.Context, cs kubernetes.Interface, ns, system string, timeout time.Duration) (string, error) {
	return waitReadyPod(ctx, cs, ns, manifest.PrometheusSelector(system), timeout, 500*time.Millisecond,
		"standalone prometheus of "+system,
		func(*corev1.Pod) bool { return true },
		func(p *corev1.Pod) bool { return rollout.PodReady(p) && p.DeletionTimestamp == nil })
}

// discard is the default logger: library code says nothing unless asked.
var discard = slog.New(slog.DiscardHandler)

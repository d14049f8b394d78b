package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/rollout"
)

// Agents reaches the fault agents of the system that runs in namespace ns
// through the API server, one port-forward per ready pod as Deploy's own,
// for a process that did not deploy it: the seed's `inject -kubeconfig`
// finds a system by its namespace only. It connects first. The forwards
// stay open until Detach (or Stop); the system is left alone.
func (r *Runtime) Agents(ctx context.Context, ns string) (system string, agents map[string][]agent.Endpoint, err error) {
	if _, err := r.Connect(ctx); err != nil {
		return "", nil, err
	}
	pods, err := r.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.LabelManagedBy + "=" + manifest.ManagedBy})
	if err != nil {
		return "", nil, fmt.Errorf("list the pods of namespace %s: %w", ns, err)
	}
	var systems []string
	type target struct{ pod, service string }
	var ready []target
	for i := range pods.Items {
		p := &pods.Items[i]
		sys, svc := p.Labels[manifest.LabelSystem], p.Labels[manifest.LabelService]
		if sys == "" || svc == "" {
			continue // the standalone Prometheus has no agent
		}
		if !slices.Contains(systems, sys) {
			systems = append(systems, sys)
		}
		if rollout.PodReady(p) && p.DeletionTimestamp == nil {
			ready = append(ready, target{p.Name, svc})
		}
	}
	switch {
	case len(systems) == 0:
		return "", nil, fmt.Errorf("namespace %s: no system deployed by vecro (no pods labelled %s=%s)", ns, manifest.LabelManagedBy, manifest.ManagedBy)
	case len(systems) > 1:
		slices.Sort(systems)
		return "", nil, fmt.Errorf("namespace %s: %d systems (%s): cannot tell which one the faults are for", ns, len(systems), strings.Join(systems, ", "))
	case len(ready) == 0:
		return "", nil, fmt.Errorf("namespace %s: system %s has no ready pod", ns, systems[0])
	}
	system = systems[0]
	s, err := r.cs.CoreV1().Secrets(ns).Get(ctx, manifest.SecretName(system), metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("read agent secret %s/%s: %w", ns, manifest.SecretName(system), err)
	}
	token := string(s.Data[manifest.SecretToken])
	if token == "" {
		return "", nil, fmt.Errorf("agent secret %s/%s has no %s", ns, manifest.SecretName(system), manifest.SecretToken)
	}
	slices.SortFunc(ready, func(a, b target) int { return strings.Compare(a.pod, b.pod) })
	eps := make([]agent.Endpoint, len(ready))
	g := errgroup.Group{}
	g.SetLimit(8)
	for i, t := range ready {
		g.Go(func() error {
			url, err := r.forward(ctx, ns, t.pod, manifest.AdminPort)
			if err != nil {
				return fmt.Errorf("reach the agent of %s: %w", t.pod, err)
			}
			eps[i] = agent.Endpoint{Instance: t.pod, Service: t.service, URL: url, Token: token}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		r.fwd.CloseAll()
		return "", nil, err
	}
	agents = map[string][]agent.Endpoint{}
	for _, ep := range eps {
		agents[ep.Service] = append(agents[ep.Service], ep)
	}
	return system, agents, nil
}

// Detach closes the port-forwards Agents opened and leaves the system and
// the cluster as they are.
func (r *Runtime) Detach() { r.fwd.CloseAll() }

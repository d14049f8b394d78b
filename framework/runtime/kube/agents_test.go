package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/spec"
)

// TestAgentsOfARunningSystem: a second runtime that did not deploy the
// system (the seed's `inject -kubeconfig`) finds its agents by namespace
// and reaches them through the API server with the Secret's token.
func TestAgentsOfARunningSystem(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sys, err := spec.LoadSystem("../../../fixtures/systems/simple.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := kube.New(kube.Options{Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Image: testImage, Monitoring: kube.MonitoringNone, Namespace: "agents-test", RolloutTimeout: 2 * time.Minute, Logger: testLogger(t)})
	t.Cleanup(func() { r.Stop(context.Background()) })
	dep, err := r.Start(ctx, sys)
	if err != nil {
		t.Fatalf("deploy simple: %v", err)
	}
	stands := map[string]*standInAgent{}
	for _, s := range dep.Services {
		in := s.Instances[0]
		a := newStandInAgent(t)
		stands[in.Name] = a
		if err := cp.forwardPodPorts(ctx, dep.Namespace, in.Name, map[int]string{manifest.AdminPort: a.addr}); err != nil {
			t.Fatal(err)
		}
	}

	other := kube.New(kube.Options{Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Logger: testLogger(t)})
	defer other.Detach()
	system, agents, err := other.Agents(ctx, dep.Namespace)
	if err != nil {
		t.Fatalf("Agents: %v", err)
	}
	if system != "simple" || len(agents) != len(sys.Services) {
		t.Fatalf("system %q, agents %v", system, agents)
	}
	var all []agent.Endpoint
	for svc, eps := range agents {
		want, _ := dep.AgentsOf(svc)
		if len(eps) != 1 || eps[0].Instance != want[0].Instance || eps[0].Token != want[0].Token || eps[0].Service != svc {
			t.Errorf("service %s: %+v, want instance %s with the deploy's token", svc, eps, want[0].Instance)
		}
		all = append(all, eps...)
	}
	// The forwards lead to the agents: a clear reaches every one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = agent.ClearAll(ctx, all)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("clear through the forwards: %v", err)
	}
	for pod, a := range stands {
		if _, _, clears := a.snapshot(); clears < 1 {
			t.Errorf("agent of %s was not reached", pod)
		}
	}

	if _, _, err := other.Agents(ctx, "kube-system"); err == nil || !strings.Contains(err.Error(), "namespace kube-system: no system deployed by vecro") {
		t.Errorf("Agents of a namespace without a system: %v", err)
	}
}

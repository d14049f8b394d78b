package kube_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/spec"
)

// TestParallelRunsInTheirOwnNamespaces deploys one system ten times at
// once, each run through its own Runtime into its own namespace, as a
// campaign's --parallel 10 does on a cluster: every namespace holds its
// run's objects and no other's, each run's agents and services are its
// own pods, and stopping them all at once leaves nothing behind.
func TestParallelRunsInTheirOwnNamespaces(t *testing.T) {
	cp := sharedControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Log(cp.logs())
		}
	}()
	sys, err := spec.ParseSystem("three.yaml", []byte(`name: three
services:
  - {name: front, type: base, calls: [mid]}
  - {name: mid, type: base, calls: [db]}
  - {name: db, type: redis}
`))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	rts := make([]*kube.Runtime, n)
	deps := make([]*runtime.Deployment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		rts[i] = kube.New(kube.Options{
			Cluster: &kube.Cluster{RESTConfig: cp.cfg}, Image: testImage, Monitoring: kube.MonitoringNone,
			Namespace: fmt.Sprintf("par-%d", i), Seed: int64(i), RolloutTimeout: 2 * time.Minute, Logger: testLogger(t),
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			deps[i], errs[i] = rts[i].Deploy(ctx, sys)
		}()
	}
	wg.Wait()
	t.Logf("%d runs deployed at once in %v", n, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		for _, r := range rts {
			r.Stop(context.Background())
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	// kwok runs no container: each pod's admin port leads to a stand-in
	// agent of its own, which records the run's Stop clearing it.
	agents := map[string]*standInAgent{}
	for i, dep := range deps {
		for _, s := range dep.Services {
			for _, in := range s.Instances {
				a := newStandInAgent(t)
				agents[in.Name] = a
				if err := cp.forwardPodPorts(ctx, fmt.Sprintf("par-%d", i), in.Name, map[int]string{manifest.AdminPort: a.addr}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// kwok learns of a forward a moment after it is created.
	for _, dep := range deps {
		for _, s := range dep.Services {
			for _, in := range s.Instances {
				getEventually(ctx, t, in.Agent.URL+"/healthz")
			}
		}
	}

	seen := map[string]int{}
	for i, dep := range deps {
		ns := fmt.Sprintf("par-%d", i)
		if dep.Namespace != ns || dep.System != "three" {
			t.Errorf("run %d: deployment of %s in %q, want %s", i, dep.System, dep.Namespace, ns)
		}
		ds, err := cp.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Items) != len(sys.Services) {
			t.Errorf("%s: %d Deployments, want %d", ns, len(ds.Items), len(sys.Services))
		}
		pods, err := cp.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.SystemSelector("three")})
		if err != nil {
			t.Fatal(err)
		}
		inNS := map[string]bool{}
		for _, p := range pods.Items {
			inNS[p.Name] = true
		}
		// Every instance the run will drive (load, agents) is a pod of its
		// own namespace, and no pod is two runs'.
		for _, s := range dep.Services {
			for _, in := range s.Instances {
				if !inNS[in.Name] {
					t.Errorf("run %d: instance %s of %s is not a pod of %s", i, in.Name, s.Name, ns)
				}
				seen[in.Name]++
			}
		}
	}
	for pod, k := range seen {
		if k > 1 {
			t.Errorf("pod %s belongs to %d runs", pod, k)
		}
	}
	if len(seen) != n*len(sys.Services) {
		t.Errorf("%d distinct instances, want %d", len(seen), n*len(sys.Services))
	}

	// One run stopping clears its own agents and no other run's, and
	// leaves the others' objects as they were.
	start = time.Now()
	if err := rts[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("one run stopped in %v", time.Since(start).Round(time.Millisecond))
	for i, dep := range deps {
		for _, s := range dep.Services {
			for _, in := range s.Instances {
				_, _, clears := agents[in.Name].snapshot()
				if want := map[bool]int{true: 1, false: 0}[i == 0]; clears != want {
					t.Errorf("agent of %s (run %d) cleared %d times after run 0 stopped, want %d", in.Name, i, clears, want)
				}
			}
		}
	}
	if ds, err := cp.cs.AppsV1().Deployments("par-1").List(ctx, metav1.ListOptions{}); err != nil || len(ds.Items) != len(sys.Services) {
		t.Errorf("par-1 after par-0 stopped: %d Deployments (%v)", len(ds.Items), err)
	}
	start = time.Now()
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rts[i].Stop(ctx)
		}()
	}
	wg.Wait()
	t.Logf("%d runs stopped at once in %v", n-1, time.Since(start).Round(time.Millisecond))
	for i := range n {
		if errs[i] != nil {
			t.Errorf("stop run %d: %v", i, errs[i])
		}
		if _, err := cp.cs.CoreV1().Namespaces().Get(ctx, fmt.Sprintf("par-%d", i), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace par-%d after its run stopped: %v", i, err)
		}
	}
}

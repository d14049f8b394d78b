package kube_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/vecrosim/vecro/framework/runtime/kube"
)

// TestClusterLifecycle: a cluster a Runtime deploys to outlives the
// runtime's Stop, and Delete leaves alone a cluster it did not create.
// (A kind cluster's creation and deletion need Docker: scenarios/kind.)
func TestClusterLifecycle(t *testing.T) {
	ctx := context.Background()
	c := &kube.Cluster{RESTConfig: &rest.Config{Host: "https://127.0.0.1:1"}}
	if err := c.Delete(ctx); err != nil {
		t.Errorf("delete before provision: %v", err)
	}
	cfg, err := c.Provision(ctx)
	if err != nil || cfg.Host != "https://127.0.0.1:1" {
		t.Fatalf("provision: %v %v", cfg, err)
	}
	// The runtime's own changes (its QPS) stay its own.
	cfg.QPS = 1
	if again, _ := c.Provision(ctx); again.QPS != 0 {
		t.Errorf("provision hands out the cluster's own config (QPS %v)", again.QPS)
	}

	rt := kube.New(kube.Options{Cluster: c})
	if err := rt.Stop(ctx); err != nil {
		t.Errorf("stop before start: %v", err)
	}
	if err := c.Delete(ctx); err != nil {
		t.Errorf("delete a cluster it did not create: %v", err)
	}
	if cfg, err := c.Provision(ctx); err != nil || cfg.Host != "https://127.0.0.1:1" {
		t.Errorf("the cluster after stop and delete: %v %v", cfg, err)
	}

	env := kube.NewEnv(kube.Options{Cluster: c})
	for i := range 2 {
		if _, err := env.Teardown()(ctx, nil); err != nil {
			t.Errorf("teardown %d of a runtime that deployed nothing: %v", i+1, err)
		}
	}

	_, err = (&kube.Cluster{Kubeconfig: "/nonexistent/kubeconfig"}).Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "kubeconfig /nonexistent/kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}

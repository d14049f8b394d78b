package kube_test

import (
	"os"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// kind-config.yaml is a valid kind config (strictly: no unknown fields) with
// one control plane and two workers on the pinned node image.
func TestKindConfig(t *testing.T) {
	b, err := os.ReadFile("../../../kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("kind-config.yaml: %v", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" || c.Name != "vecro" {
		t.Errorf("header %s %s %s", c.APIVersion, c.Kind, c.Name)
	}
	roles := map[v1alpha4.NodeRole]int{}
	for _, n := range c.Nodes {
		roles[n.Role]++
		if n.Image == "" {
			t.Errorf("node %s has no pinned image", n.Role)
		}
	}
	if len(c.Nodes) != 3 || roles[v1alpha4.ControlPlaneRole] != 1 || roles[v1alpha4.WorkerRole] != 2 {
		t.Errorf("nodes %v", roles)
	}
}

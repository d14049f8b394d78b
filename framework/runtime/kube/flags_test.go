package kube

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	k, err := ParseFlags("--kubeconfig /n/admin.kubeconfig --containerd-socket /run/c.sock --db-image mongodb=vecro.local/ferretdb:v1 --cpu-request 20m --rollout-timeout 3m")
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Options(7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Cluster.Kubeconfig != "/n/admin.kubeconfig" || o.Loader != (Containerd{Address: "/run/c.sock"}) || o.CPURequest != 20 ||
		o.DBImages["mongodb"].Image != "vecro.local/ferretdb:v1" || o.RolloutTimeout != 3*time.Minute || o.Seed != 7 || o.Monitoring != MonitoringAuto {
		t.Errorf("options %+v", o)
	}
	for in, want := range map[string]string{
		"--kubeconfig":                       "flag needs an argument",
		"--colour blue":                      "unknown flag: --colour",
		"--kind --kubeconfig k":              "--kind provisions its own cluster",
		"stray":                              "only flags",
		"--monitoring sometimes":             "--monitoring",
		"--registry r --containerd-socket s": "pick one",
	} {
		k, err := ParseFlags(in)
		if err == nil {
			_, err = k.Options(0, nil)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", in, err, want)
		}
	}
}

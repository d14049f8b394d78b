package service_test

import (
	"testing"

	"github.com/vecrosim/vecro/framework/service"
)

func TestInstanceSeedsDifferByReplicaAndFollowTheRun(t *testing.T) {
	seeds := map[int64]string{}
	for _, in := range []string{"a-0", "a-1", "a-2", "b-0"} {
		s := service.InstanceSeed(42, in)
		if other, ok := seeds[s]; ok {
			t.Errorf("%s and %s draw from the same seed %d", in, other, s)
		}
		seeds[s] = in
		if service.InstanceSeed(42, in) != s || service.InstanceSeed(43, in) == s {
			t.Errorf("%s: the seed does not follow the run's alone", in)
		}
	}
}

func TestEnvCarriesEveryFlagAndTheCallsAsOneList(t *testing.T) {
	in := service.Instance{System: "s", Service: "web", Calls: []service.Call{{Name: "a", URL: "http://a"}, {Name: "b", URL: "http://b/p"}}, Seed: 3}
	got := map[string]string{}
	for _, v := range in.Env() {
		got[v.Name] = v.Value
	}
	want := map[string]string{"VECRO_SYSTEM": "s", "VECRO_SERVICE": "web", "VECRO_SEED": "3", "VECRO_CALLS": "a=http://a,b=http://b/p"}
	if len(got) != len(want) {
		t.Errorf("env = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if service.EnvName("admin-listen") != "VECRO_ADMIN_LISTEN" {
		t.Errorf("EnvName(admin-listen) = %s", service.EnvName("admin-listen"))
	}
}

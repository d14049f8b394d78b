package runtime_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
)

func sampleDeployment() *runtime.Deployment {
	return &runtime.Deployment{
		Runtime: "local",
		System:  "shop",
		Services: []runtime.Service{
			{Name: "front", Type: spec.TypeBase, URL: "http://127.0.0.1:4000", Instances: []runtime.Instance{
				{Name: "front-0", Agent: agent.Endpoint{Instance: "front-0", Service: "front", URL: "http://127.0.0.1:4001", Token: "t0k"}},
				{Name: "front-1", Agent: agent.Endpoint{Instance: "front-1", Service: "front", URL: "http://127.0.0.1:4002", Token: "t0k"}},
			}},
			{Name: "db", Type: spec.TypeMongoDB, URL: "http://127.0.0.1:4010", Instances: []runtime.Instance{
				{Name: "db-0", Agent: agent.Endpoint{Instance: "db-0", Service: "db", URL: "http://127.0.0.1:4011", Token: "t0k"}},
			}},
		},
		PrometheusURL: "http://127.0.0.1:9090",
		Created:       time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		PID:           os.Getpid(),
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	d := sampleDeployment()
	if err := runtime.Save(path, d); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("state file mode %04o, want 0600", got)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v, mode %v, want 0700", err, di.Mode().Perm())
	}
	got, err := runtime.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, d)
	}
	// Saving again replaces the file and leaves no temporary beside it.
	d.PrometheusURL = "http://127.0.0.1:9091"
	if err := runtime.Save(path, d); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries, want only state.json", len(entries))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "vecro deploy"},
		{"world readable", write("open.json", `{"runtime":"local","system":"s"}`, 0o644), "chmod 600"},
		{"not json", write("bad.json", `{`, 0o600), "bad.json"},
		{"not a deployment", write("empty.json", `{}`, 0o600), "not a deployment"},
		{"nameless service", write("svc.json", `{"runtime":"local","system":"s","services":[{"url":"x"}]}`, 0o600), "service 0 has no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runtime.Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%s) = %v, want an error containing %q", tc.path, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestDeploymentLookups(t *testing.T) {
	d := sampleDeployment()
	if s, ok := d.Service("db"); !ok || s.Type != spec.TypeMongoDB {
		t.Errorf("Service(db) = %+v, %v", s, ok)
	}
	if _, ok := d.Service("nope"); ok {
		t.Error("Service(nope) found something")
	}
	var names []string
	for _, a := range d.Agents() {
		names = append(names, a.Instance)
	}
	if want := []string{"front-0", "front-1", "db-0"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Agents() = %v, want %v", names, want)
	}
	if a, ok := d.AgentsOf("front"); !ok || len(a) != 2 || a[1].URL != "http://127.0.0.1:4002" {
		t.Errorf("AgentsOf(front) = %+v, %v", a, ok)
	}
	if _, ok := d.AgentsOf("nope"); ok {
		t.Error("AgentsOf(nope) found something")
	}
}

func TestOwnerAlive(t *testing.T) {
	d := sampleDeployment()
	if !d.OwnerAlive() {
		t.Error("this process counts as dead")
	}
	d.PID = 0
	if !d.OwnerAlive() {
		t.Error("a deployment without a PID counts as dead")
	}
	// A process that has exited and been reaped.
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("no /bin/true to make a dead pid: %v", err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	d.PID = p.Pid
	if d.OwnerAlive() {
		t.Errorf("pid %d of an exited process counts as alive", p.Pid)
	}
}

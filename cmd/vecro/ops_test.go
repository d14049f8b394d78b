package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/dataset"
)

// vecro runs a subcommand in-process and returns what it printed.
func vecro(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String() + errb.String(), err
}

// TestInjectCollectClear drives a running `vecro deploy` with the seed's
// separate tools: inject a timed fault and read back its measured window,
// collect a dataset for the time range with that window as a label, and
// clear a fault before it ends (the kill switch).
func TestInjectCollectClear(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a real system")
	}
	_, dep, state := startDeploy(t, fx+"/systems/simple.yaml")
	front, _ := dep.Service("frontend")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	slow := write("slow.yaml", `name: ops
namespace: simple
faults:
  - name: slow-backend
    target: backend
    start: 1s
    duration: 3s
    behaviors:
      net-delay: {time: 100ms}
`)
	from := time.Now()
	// Traffic through the fault window, so the agent has requests to delay.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if resp, err := c.Get(front.URL); err == nil {
				resp.Body.Close()
			}
		}
	}()
	out, err := vecro(t, "inject", "--state", state, "--lead", "500ms", slow)
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	for _, want := range []string{"pushed slow-backend.net-delay to 1 instance(s) of backend", "slow-backend", "net-delay", "requests_delayed"} {
		if !strings.Contains(out, want) {
			t.Errorf("inject output lacks %q:\n%s", want, out)
		}
	}

	art := filepath.Join(dir, "art")
	out, err = vecro(t, "collect", "--state", state, "--from", from.Add(-2*time.Second).Format(time.RFC3339Nano), "--to", "now",
		"--artifacts", art, "--name", "ops", "--no-plots", "--families", "latency_p95,request_rate")
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, out)
	}
	if !strings.Contains(out, "(2 families, 1 fault windows)") {
		t.Errorf("collect output: %s", out)
	}
	runs, _ := filepath.Glob(filepath.Join(art, "ops", "*"))
	if len(runs) != 1 {
		t.Fatalf("collect wrote %v", runs)
	}
	labels, err := dataset.Labels(runs[0])
	if err != nil || len(labels) != 1 || labels[0]["fault"] != "slow-backend" || labels[0]["applied_start"] == "" {
		t.Errorf("labels %v, %v", labels, err)
	}
	tab, err := dataset.ReadTable(filepath.Join(runs[0], "metrics", "request_rate.csv"))
	if err != nil || strings.Join(tab.Columns, ",") != "backend,cache,frontend" || len(tab.Rows) < 5 {
		t.Errorf("request_rate table %v rows %d, %v", tab.Columns, len(tab.Rows), err)
	}

	// With the definition, every declared edge is an edge family's column.
	out, err = vecro(t, "collect", "--state", state, "--from", from.Add(-2*time.Second).Format(time.RFC3339Nano), "--to", "now",
		"--artifacts", art, "--name", "ops-edges", "--no-plots", "--families", "edge_request_rate", "--system-file", fx+"/systems/simple.yaml")
	if err != nil {
		t.Fatalf("collect edges: %v\n%s", err, out)
	}
	runs, _ = filepath.Glob(filepath.Join(art, "ops-edges", "*"))
	if len(runs) != 1 {
		t.Fatalf("collect wrote %v", runs)
	}
	tab, err = dataset.ReadTable(filepath.Join(runs[0], "metrics", "edge_request_rate.csv"))
	if err != nil || strings.Join(tab.Columns, ",") != "backend->cache,frontend->backend" {
		t.Errorf("edge_request_rate table %v, %v", tab.Columns, err)
	}

	long := write("long.yaml", `name: ops2
namespace: simple
faults:
  - name: long-abort
    target: frontend
    start: 1s
    duration: 10m
    behaviors:
      http-abort: {percent: 100}
`)
	if out, err := vecro(t, "inject", "--state", state, "--no-wait", long); err != nil {
		t.Fatalf("inject --no-wait: %v\n%s", err, out)
	}
	out, err = vecro(t, "faults", "list", "--state", state)
	if err != nil || !strings.Contains(out, "long-abort.http-abort") {
		t.Fatalf("faults list: %v\n%s", err, out)
	}
	out, err = vecro(t, "faults", "clear", "--state", state)
	if err != nil || !strings.Contains(out, "cleared") {
		t.Fatalf("faults clear: %v\n%s", err, out)
	}
	// Cleared long before its end: the front end answers again.
	if code := getStatus(t, front.URL); code != http.StatusOK {
		t.Errorf("frontend answers %d after faults clear", code)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vecrosim/vecro/internal/testutil"
)

// scrape reads a child's /metrics from its admin port.
func scrape(t testing.TB, c *child) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, newHTTPClient(t), http.MethodGet, "http://"+c.admin+"/metrics", "", nil)
	if r.code != 200 {
		t.Fatalf("%s /metrics: %d %s", c.name, r.code, r.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s /metrics: %v", c.name, err)
	}
	return fams
}

// value sums the samples of family name whose labels include want: the
// counter, gauge or untyped value, or a histogram's count.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range f.GetMetric() {
		ls := map[string]string{}
		for _, l := range m.GetLabel() {
			ls[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if ls[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

// pushFault puts one fault behaviour on a child's agent, active from now
// for d.
func pushFault(t testing.TB, c *child, id, behavior, params string, d time.Duration) {
	t.Helper()
	now := time.Now()
	body := fmt.Sprintf(`{"fault":%q,"behavior":%q,"params":%s,"start":%q,"end":%q,"seed":1}`,
		id, behavior, params, now.Format(time.RFC3339Nano), now.Add(d).Format(time.RFC3339Nano))
	r := do(t, newHTTPClient(t), http.MethodPut, "http://"+c.admin+"/faults/"+id, c.token, strings.NewReader(body))
	if r.code != http.StatusCreated {
		t.Fatalf("push %s to %s: %d %s", id, c.name, r.code, r.body)
	}
	// The fault is switched on by the agent's clock: wait until it says so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, newHTTPClient(t), http.MethodGet, "http://"+c.admin+"/faults/"+id, c.token, nil)
		if strings.Contains(r.body, `"phase":"active"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fault %s on %s not active after 10s: %s", id, c.name, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServesThroughTheIngressProxy(t *testing.T) {
	c := startService(t, "front", "--net", "512", "--legacy-metrics")
	hc := newHTTPClient(t)

	r := do(t, hc, http.MethodPost, c.url+"/any/path?q=1", "", strings.NewReader(strings.Repeat("x", 1000)))
	if r.code != 200 || len(r.body) != 256 {
		t.Fatalf("POST /any/path: %d with %d bytes, want 200 with 256 (net 512 / 2)", r.code, len(r.body))
	}
	// The service port serves every path as the service, never the admin
	// endpoints: /metrics and /faults there are just more requests.
	for _, p := range []string{"/metrics", "/faults", "/healthz"} {
		r := do(t, hc, http.MethodGet, c.url+p, testToken, nil)
		if r.code != 200 || len(r.body) != 256 || strings.Contains(r.body, "vecro_") {
			t.Errorf("service port %s: %d %.60q, want the service's payload", p, r.code, r.body)
		}
	}
	if r := do(t, hc, http.MethodGet, "http://"+c.admin+"/healthz", "", nil); r.code != 200 {
		t.Errorf("/healthz: %d %s", r.code, r.body)
	}
	if r := do(t, hc, http.MethodGet, "http://"+c.admin+"/faults", "", nil); r.code != http.StatusUnauthorized {
		t.Errorf("/faults without a token: %d, want 401", r.code)
	}
	if r := do(t, hc, http.MethodGet, "http://"+c.admin+"/faults", testToken, nil); r.code != 200 {
		t.Errorf("/faults with the token: %d %s", r.code, r.body)
	}

	fams := scrape(t, c)
	self := map[string]string{"vecro_system": "e2e", "vecro_service": "front", "vecro_instance": "front-0"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range self {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"vecro_http_requests_total", with("code", "200", "method", "POST"), 1, 1},
		{"vecro_http_requests_total", with("code", "200", "method", "GET"), 3, 3},
		{"vecro_http_request_duration_seconds", self, 4, 4},
		{"vecro_http_response_bytes_total", self, 4 * 256, 4 * 256},
		{"vecro_http_in_flight", self, 0, 0},
		// The POST's body and headers came in; four payloads and headers went out.
		{"vecro_net_receive_bytes_total", self, 1000, 1e9},
		{"vecro_net_transmit_bytes_total", self, 4 * 256, 1e9},
		{"vecro_base_e2e_request_count", map[string]string{"vecrosim_service_name": "front"}, 4, 4},
		{"process_resident_memory_bytes", self, 1, 1e12},
		{"go_goroutines", self, 1, 1e6},
	}
	for _, ck := range checks {
		v, ok := value(fams, ck.name, ck.labels)
		if !ok {
			t.Errorf("no %s%v on /metrics", ck.name, ck.labels)
			continue
		}
		if v < ck.min || v > ck.max {
			t.Errorf("%s%v = %v, want %v–%v", ck.name, ck.labels, v, ck.min, ck.max)
		}
	}
}

// TestCPU5InTheProcess: the whole binary, through its service port, spends
// 4–6 ms more CPU per request with --cpu 5 than with --cpu 0. Both
// processes serve the same requests, so the difference is the workload's;
// the totals come from each process's rusage at exit (exact to the µs).
func TestCPU5InTheProcess(t *testing.T) {
	const n, workers = 300, 4
	cpuOf := func(cpu string) (time.Duration, time.Duration) {
		c := startService(t, "cpu"+cpu, "--cpu", cpu)
		hc := newHTTPClient(t)
		start := time.Now()
		if err := hammer(hc, c.url, n, workers); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		hc.CloseIdleConnections()
		return c.cpuTime(t), wall
	}
	zero, wall0 := cpuOf("0")
	five, wall5 := cpuOf("5")
	per := (five - zero) / n
	t.Logf("%d requests: CPU %s with cpu 0 (%s), %s with cpu 5 (%s); cpu 5 costs %s per request (%s in all)",
		n, zero, wall0, five, wall5, per, five/n)
	if per < 4*time.Millisecond || per > 6*time.Millisecond {
		t.Errorf("cpu 5 costs %s of CPU per request, want 4–6 ms", per)
	}
}

func TestMemory64InTheProcess(t *testing.T) {
	none := startService(t, "mem0")
	some := startService(t, "mem64", "--memory", "64")
	hc := newHTTPClient(t)
	for _, c := range []*child{none, some} {
		if err := hammer(hc, c.url, 50, 2); err != nil {
			t.Fatal(err)
		}
	}
	a, b := none.procStatus(t, "VmRSS"), some.procStatus(t, "VmRSS")
	t.Logf("VmRSS: %d MiB with memory 0, %d MiB with memory 64", a>>20, b>>20)
	if b-a < 60<<20 {
		t.Errorf("memory 64 raised VmRSS by %d MiB, want ≥ 60", (b-a)>>20)
	}
}

func TestIOInTheProcess(t *testing.T) {
	c := startService(t, "io", "--io", "4")
	hc := newHTTPClient(t)
	before := c.procIO(t)
	const n = 25
	if err := hammer(hc, c.url, n, 2); err != nil {
		t.Fatal(err)
	}
	after := c.procIO(t)
	want := int64(n * 4 * 64 << 10)
	wchar, disk := after["wchar"]-before["wchar"], after["write_bytes"]-before["write_bytes"]
	t.Logf("io 4 × %d requests: wchar +%d, write_bytes +%d, want %d", n, wchar, disk, want)
	if wchar < want {
		t.Errorf("the process wrote %d bytes, want ≥ %d", wchar, want)
	}
	// fsync puts the bytes on the device before the file is removed (this
	// is skipped where the data dir is a tmpfs, which has no device).
	dataDir := filepath.Dir(c.cmd.Args[indexOf(c.cmd.Args, "--addr-file")+1])
	if !isTmpfs(dataDir) && disk < want {
		t.Errorf("write_bytes grew by %d, want ≥ %d: the bytes did not reach the device", disk, want)
	}
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "vecro-io-") {
			t.Errorf("io file %s left in the data dir", e.Name())
		}
	}
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

func TestDownstreamFailureIs502(t *testing.T) {
	leaf := startService(t, "leaf", "--net", "64")
	mid := startService(t, "mid", "--call", "leaf="+leaf.url)
	front := startService(t, "front", "--call", "mid="+mid.url+"/from-front")
	hc := newHTTPClient(t)
	if r := do(t, hc, http.MethodGet, front.url, "", nil); r.code != 200 {
		t.Fatalf("healthy chain: %d %s", r.code, r.body)
	}

	// The leaf's own agent aborts every request with 503: a real non-2xx.
	pushFault(t, leaf, "leaf-down.http-abort", "http-abort", `{"percent":100,"status":503}`, time.Minute)
	r := do(t, hc, http.MethodGet, front.url, "", nil)
	if r.code != http.StatusBadGateway || r.header.Get("X-Vecro-Failed-Callee") != "mid" {
		t.Errorf("front with the leaf down: %d naming %q, want 502 naming mid", r.code, r.header.Get("X-Vecro-Failed-Callee"))
	}
	for _, s := range []string{"call mid (" + mid.url + "/from-front): status 502", "call leaf (" + leaf.url + "): status 503", "leaf-down.http-abort"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("front's 502 body %q lacks %q", r.body, s)
		}
	}
	if v, _ := value(scrape(t, front), "vecro_downstream_request_duration_seconds", map[string]string{"callee": "mid", "code": "502"}); v != 1 {
		t.Errorf("front's downstream calls to mid with code 502: %v, want 1", v)
	}
	if v, _ := value(scrape(t, mid), "vecro_http_requests_total", map[string]string{"code": "502"}); v != 1 {
		t.Errorf("mid's 502 answers: %v, want 1", v)
	}

	if r := do(t, hc, http.MethodDelete, "http://"+leaf.admin+"/faults", testToken, nil); r.code != 200 {
		t.Fatalf("clear faults: %d %s", r.code, r.body)
	}
	if r := do(t, hc, http.MethodGet, front.url, "", nil); r.code != 200 {
		t.Errorf("after the fault: %d %s", r.code, r.body)
	}

	// A callee nobody listens on: a transport error, also a 502 naming it.
	dead := "http://127.0.0.1:1"
	viaDead := startService(t, "via-dead", "--call", "dead="+dead)
	r = do(t, hc, http.MethodGet, viaDead.url, "", nil)
	if r.code != http.StatusBadGateway || r.header.Get("X-Vecro-Failed-Callee") != "dead" || !strings.Contains(r.body, "call dead ("+dead+")") {
		t.Errorf("dead callee: %d %q %q, want 502 naming dead", r.code, r.header.Get("X-Vecro-Failed-Callee"), r.body)
	}
}

func TestParallelAndSequentialCalls(t *testing.T) {
	var callArgs []string
	for _, n := range []string{"a", "b", "c"} {
		leaf := startService(t, "leaf-"+n, "--delay", "200ms")
		callArgs = append(callArgs, "--call", n+"="+leaf.url)
	}
	seq := startService(t, "seq", callArgs...)
	par := startService(t, "par", append([]string{"--call-mode", "parallel"}, callArgs...)...)
	hc := newHTTPClient(t)
	timeOne := func(c *child) time.Duration {
		start := time.Now()
		if r := do(t, hc, http.MethodGet, c.url, "", nil); r.code != 200 {
			t.Fatalf("%s: %d %s", c.name, r.code, r.body)
		}
		return time.Since(start)
	}
	s, p := timeOne(seq), timeOne(par)
	t.Logf("3 callees with a 200ms delay: sequential %s, parallel %s", s, p)
	if s < 600*time.Millisecond {
		t.Errorf("sequential took %s, less than 3 × 200ms", s)
	}
	if p > 500*time.Millisecond {
		t.Errorf("parallel took %s, want about 200ms", p)
	}
}

// TestNetDelayActsOnTheServicePortOnly: a net-delay fault slows requests on
// the service port, not the admin port's scrapes.
func TestNetDelayActsOnTheServicePortOnly(t *testing.T) {
	c := startService(t, "delayed")
	hc := newHTTPClient(t)
	mean := func(url string) time.Duration {
		const n = 5
		start := time.Now()
		for range n {
			if r := do(t, hc, http.MethodGet, url, "", nil); r.code != 200 {
				t.Fatalf("%s: %d", url, r.code)
			}
		}
		return time.Since(start) / n
	}
	base := mean(c.url)
	pushFault(t, c, "slow.net-delay", "net-delay", `{"time":"150ms"}`, time.Minute)
	delayed, scrapeTime := mean(c.url), mean("http://"+c.admin+"/metrics")
	t.Logf("service port: %s before, %s with net-delay 150ms; admin /metrics %s", base, delayed, scrapeTime)
	if delayed-base < 140*time.Millisecond {
		t.Errorf("net-delay 150ms added only %s on the service port", delayed-base)
	}
	if scrapeTime > 100*time.Millisecond {
		t.Errorf("a scrape took %s during a 150ms net-delay: the fault reached the admin port", scrapeTime)
	}
}

func TestGracefulShutdown(t *testing.T) {
	c := startService(t, "drain", "--delay", "500ms", "--net", "10")
	type result struct {
		r   response
		err error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(c.url)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{r: response{code: resp.StatusCode, body: string(b)}, err: err}
	}()
	time.Sleep(150 * time.Millisecond) // the request is in its delay
	start := time.Now()
	c.stop(t)
	r := <-res
	if r.err != nil || r.r.code != 200 || len(r.r.body) != 5 {
		t.Errorf("request in flight at SIGTERM: %d %q %v, want 200 with its payload", r.r.code, r.r.body, r.err)
	}
	if code := c.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, c.log)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("shutdown took %s", el)
	}
	if !strings.Contains(c.log.String(), "shutting down") || !strings.Contains(c.log.String(), "msg=stopped") {
		t.Errorf("log lacks the shutdown:\n%s", c.log)
	}
}

func TestConfigFromEnvAndErrors(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr.json")

	// Everything from the environment, as in a pod.
	cmd := exec.Command(serviceBin)
	cmd.Env = childEnv("VECRO_SYSTEM=e2e", "VECRO_SERVICE=env", "VECRO_INSTANCE=env-0", "VECRO_LISTEN=127.0.0.1:0",
		"VECRO_ADMIN_LISTEN=127.0.0.1:0", "VECRO_ADDR_FILE="+addrFile, "VECRO_NET=100", "VECRO_DATA_DIR="+dir)
	log := &testutil.SyncBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{name: "env", cmd: cmd, log: log, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.stop(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if b, err := os.ReadFile(addrFile); err == nil {
			c.listen = strings.Split(strings.Split(string(b), `"listen":"`)[1], `"`)[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not ready: %s", log)
		case <-c.done:
			t.Fatalf("exited: %v\n%s", c.err, log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r := do(t, newHTTPClient(t), http.MethodGet, "http://"+c.listen, "", nil); r.code != 200 || len(r.body) != 50 {
		t.Errorf("env-configured service: %d with %d bytes, want 200 with 50", r.code, len(r.body))
	}

	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--service", "x"}, nil, "--system is required"},
		{[]string{"--system", "s", "--service", "x", "--call", "broken"}, nil, `call "broken": want NAME=URL`},
		{[]string{"--system", "s", "--service", "x"}, []string{"VECRO_CPU=lots"}, `env VECRO_CPU="lots"`},
		{[]string{"--system", "s", "--service", "x", "--type", "redis"}, nil, "--type redis needs --db"},
	} {
		cmd := exec.Command(serviceBin, tt.args...)
		cmd.Env = childEnv(tt.env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("service %q: %v, output %q; want exit code 2 and %q", tt.args, err, out, tt.want)
		}
	}
	// A port in use is a start-up failure (exit 1) that names the port.
	busy := startService(t, "busy")
	cmd = exec.Command(serviceBin, "--system", "s", "--service", "x", "--listen", busy.listen, "--admin-listen", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), busy.listen) {
		t.Errorf("service port in use: %v %q; want exit code 1 naming %s", err, out, busy.listen)
	}
}

// TestManyConcurrentRequestsThroughTheProxy: a burst far above the pool
// sizes of the defaults still gets every answer, and nothing stays in
// flight.
func TestManyConcurrentRequestsThroughTheProxy(t *testing.T) {
	leaf := startService(t, "leaf", "--net", "128")
	front := startService(t, "front", "--call-mode", "parallel", "--call", "a="+leaf.url, "--call", "b="+leaf.url+"/b")
	hc := newHTTPClient(t)
	hc.Timeout = 20 * time.Second
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := hammer(hc, front.url, 200, 32); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	fams := scrape(t, front)
	if v, _ := value(fams, "vecro_http_requests_total", map[string]string{"code": "200"}); v != 800 {
		t.Errorf("front served %v requests with 200, want 800", v)
	}
	if v, _ := value(fams, "vecro_http_in_flight", nil); v != 0 {
		t.Errorf("front has %v requests in flight after the burst", v)
	}
	if v, _ := value(scrape(t, leaf), "vecro_http_requests_total", map[string]string{"code": "200"}); v != 1600 {
		t.Errorf("leaf served %v requests with 200, want 1600", v)
	}
}

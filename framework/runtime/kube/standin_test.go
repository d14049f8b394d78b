package kube_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/internal/testutil"
)

// standInAgent speaks the fault agent's admin API (framework/agent's wire
// types) where no kubelet can run the real one: kwok forwards a fake pod's
// admin port to it. It records what reached it.
type standInAgent struct {
	addr string

	mu      sync.Mutex
	faults  map[string]agent.Fault
	tokens  []string
	clears  int
	healthz int
}

func newStandInAgent(t testing.TB) *standInAgent {
	a := &standInAgent{faults: map[string]agent.Fault{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.healthz++
		a.mu.Unlock()
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("PUT /faults/{id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		var f agent.Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.ID != r.PathValue("id") {
			http.Error(w, `{"error":"bad fault"}`, http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.faults[f.ID] = f
		a.mu.Unlock()
		json.NewEncoder(w).Encode(agent.Status{Fault: f, Phase: agent.PhasePending})
	}))
	mux.HandleFunc("GET /faults", a.auth(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(a.statuses(agent.PhasePending))
	}))
	mux.HandleFunc("DELETE /faults", a.auth(func(w http.ResponseWriter, r *http.Request) {
		sts := a.statuses(agent.PhaseCancelled)
		a.mu.Lock()
		a.faults = map[string]agent.Fault{}
		a.clears++
		a.mu.Unlock()
		json.NewEncoder(w).Encode(sts)
	}))
	a.addr = serve(t, mux)
	return a
}

func (a *standInAgent) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			http.Error(w, `{"error":"no bearer token"}`, http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		a.tokens = append(a.tokens, tok)
		a.mu.Unlock()
		h(w, r)
	}
}

func (a *standInAgent) statuses(ph agent.Phase) []agent.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []agent.Status{}
	for _, f := range a.faults {
		out = append(out, agent.Status{Fault: f, Phase: ph})
	}
	return out
}

func (a *standInAgent) snapshot() (faults map[string]agent.Fault, tokens []string, clears int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	faults = map[string]agent.Fault{}
	for k, v := range a.faults {
		faults[k] = v
	}
	return faults, append([]string(nil), a.tokens...), a.clears
}

// newStandInService answers every request with the pod's name, so a test
// sees which pod a port-forward reached.
func newStandInService(t testing.TB, pod string) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, pod)
	}))
}

func serve(t testing.TB, h http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// newPrometheus runs Debian's Prometheus on 127.0.0.1 with an empty
// configuration: the real HTTP API that the kube runtime's metrics source
// reads through a port-forward.
func newPrometheus(t testing.TB) string {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		testutil.SkipOrFail(t, "prometheus is not installed (Debian package prometheus; `make deps` installs it)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 30s: %v\n%s", addr, err, tail(filepath.Join(dir, "prometheus.log"), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testLogger logs to t until the test ends; the runtime's goroutines may
// outlive a failed test by a moment.
func testLogger(t testing.TB) *slog.Logger { return testutil.Logger(t, slog.LevelInfo) }

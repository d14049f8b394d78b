package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vecrosim/vecro/framework/load"
)

// loadServer counts requests by path and method.
func loadServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+string(b)]++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

func runLoadCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"load"}, args...), streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

// The seed's command line, single dashes and all, with its URL list.
func TestLoadSeedCommandLine(t *testing.T) {
	srv, seen := loadServer(t)
	csv := filepath.Join(t.TempDir(), "load.csv")
	out, errOut, err := runLoadCmd(t, "-delay", "50ms", "-duration", "500ms", "-users", "2",
		"-url", srv.URL+"/a "+srv.URL+"/b", "-body", "hi", "--csv", csv)
	if err != nil {
		t.Fatalf("vecro load: %v\n%s", err, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr %q; want nothing (no terminal, no progress line)", errOut)
	}
	for _, want := range []string{"Closed loop 500ms, 2 users, one request to each of the 2 URLs per 50ms each", "99.999%", "0 errors", "Status: 200 ×"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	got := seen()
	// Every URL on every tick: 2 users × 10 ticks each.
	if got["POST /a hi"] < 15 || got["POST /b hi"] < 15 || len(got) != 2 {
		t.Errorf("server saw %v; want about 20 POSTs with the body to each URL", got)
	}
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	secs, err := load.ReadCSV(f)
	if err != nil || len(secs) == 0 || secs[0].Sent == 0 {
		t.Errorf("load.csv: %d seconds, %v; want the per-second rows", len(secs), err)
	}
}

func TestLoadOpenLoopJSON(t *testing.T) {
	srv, seen := loadServer(t)
	out, errOut, err := runLoadCmd(t, "--url", srv.URL, "--method", "GET", "--rate", "100", "--duration", "500ms",
		"--arrivals", "poisson", "--seed", "7", "--json")
	if err != nil {
		t.Fatalf("vecro load: %v\n%s", err, errOut)
	}
	var rep load.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	if rep.Mode != "open" || rep.Seed != 7 || rep.Arrivals != load.Poisson || rep.Planned == 0 || rep.OK != rep.Sent {
		t.Errorf("report %+v; want an open loop, seed 7, every request answered", rep)
	}
	if n := seen()["GET / "]; uint64(n) != rep.Sent {
		t.Errorf("server saw %d GETs; report says %d sent", n, rep.Sent)
	}
}

func TestLoadUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no targets"},
		{[]string{"--url", "http://127.0.0.1:1/", "--rate", "10", "--users", "3"}, "--users, --delay and --every-url are for the closed loop"},
		{[]string{"--url", "http://127.0.0.1:1/", "--seed", "3"}, "open loop: give --rate"},
		{[]string{"--url", "http://127.0.0.1:1/", "--rate", "fast"}, `--rate: parse rate schedule "fast"`},
		{[]string{"--url", "http://127.0.0.1:1/", "--service", "text"}, "give targets one way"},
		{[]string{"--service", "text", "--state", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{[]string{"--url", "127.0.0.1:8080"}, "want an http:// or https:// URL"},
	} {
		if _, _, err := runLoadCmd(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("vecro load %v: error %v; want one containing %q", tc.args, err, tc.want)
		}
	}
}

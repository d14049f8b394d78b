package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver/dbservertest"
	"github.com/vecrosim/vecro/framework/spec"
)

// TestRedisType runs the binary as a redis storage service beside a real
// redis-server: it seeds the dataset, each request reads and inserts
// through the agent's db proxy, an "on: db" delay slows requests, and a
// dead database makes requests fail with 500 instead of 200.
func TestRedisType(t *testing.T) {
	db := dbservertest.StartT(t, spec.TypeRedis)
	c := startService(t, "cache-db", "--type", "redis", "--db", db.URL(), "--records", "300", "--read", "2", "--write", "1", "--seed", "5")
	if !strings.Contains(c.log.String(), "database fronted by the agent") {
		t.Errorf("the database link is not fronted by the agent:\n%s", c.log)
	}
	opt, err := redis.ParseURL(db.URL())
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	t.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	before, err := rc.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if before < 300 {
		t.Errorf("the database holds %d keys, want the 300 seeded records at least", before)
	}
	hc := newHTTPClient(t)
	const n = 20
	if err := hammer(hc, c.url, n, 2); err != nil {
		t.Fatal(err)
	}
	after, err := rc.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if after-before != n {
		t.Errorf("%d requests with write 1 added %d keys, want %d", n, after-before, n)
	}

	// A delay on the database link, not on the service port.
	timeOne := func() time.Duration {
		start := time.Now()
		if r := do(t, hc, http.MethodGet, c.url, "", nil); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		return time.Since(start)
	}
	base := timeOne()
	pushFault(t, c, "db-slow.net-delay", "net-delay", `{"time":"100ms","on":"db"}`, time.Minute)
	slow := timeOne()
	t.Logf("request with read 2 write 1: %s; with net-delay 100ms on the db link: %s", base, slow)
	if slow-base < 90*time.Millisecond {
		t.Errorf("a 100ms delay on the db link added only %s", slow-base)
	}
	if r := do(t, hc, http.MethodDelete, "http://"+c.admin+"/faults", testToken, nil); r.code != 200 {
		t.Fatalf("clear faults: %d %s", r.code, r.body)
	}

	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	r := do(t, hc, http.MethodGet, c.url, "", nil)
	if r.code != http.StatusInternalServerError || !strings.Contains(r.body, "storage") {
		t.Errorf("with the database gone: %d %q, want 500 naming the storage failure", r.code, r.body)
	}
	if v, _ := value(scrape(t, c), "vecro_http_requests_total", map[string]string{"code": "500"}); v != 1 {
		t.Errorf("500 answers counted: %v, want 1", v)
	}
}

// TestMySQLType runs the binary as a mysql storage service beside a real
// MariaDB server.
func TestMySQLType(t *testing.T) {
	db := dbservertest.StartT(t, spec.TypeMySQL)
	c := startService(t, "posts-db", "--type", "mysql", "--db", db.URL(), "--records", "200", "--read", "3", "--write", "2")
	hc := newHTTPClient(t)
	if err := hammer(hc, c.url, 30, 3); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(scrape(t, c), "vecro_http_requests_total", map[string]string{"code": "200"}); v != 30 {
		t.Errorf("200 answers: %v, want 30", v)
	}
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	r := do(t, hc, http.MethodGet, c.url, "", nil)
	if r.code != http.StatusInternalServerError || !strings.Contains(r.body, "storage") {
		t.Errorf("with the database gone: %d %q, want 500 naming the storage failure", r.code, r.body)
	}
}

// TestStorageStartFailure: a storage type whose database does not answer
// fails at start with an error naming the database, instead of serving.
func TestStorageStartFailure(t *testing.T) {
	needBinary(t)
	cmd := exec.Command(serviceBin, "--system", "e2e", "--service", "db", "--type", "redis", "--db", "redis://127.0.0.1:1",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = childEnv()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still starting after 60s against a closed port:\n%s", out)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "127.0.0.1:1") {
		t.Errorf("exit %v, output %q; want exit code 1 naming 127.0.0.1:1", err, out)
	}
}

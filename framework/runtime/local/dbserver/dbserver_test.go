//go:build linux

package dbserver_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver"
	"github.com/vecrosim/vecro/framework/runtime/local/dbserver/dbservertest"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/internal/testutil"
)

var kinds = []spec.ServiceType{spec.TypeRedis, spec.TypeMySQL, spec.TypeMongoDB}

// TestStartServesAndStopLeavesNothing runs a write and a read through the
// official driver, then checks that Stop ended the process group and
// removed the directory, and that a second Stop is harmless.
func TestStartServesAndStopLeavesNothing(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s := dbservertest.StartT(t, kind)
			t.Logf("%s ready in %v at %s", s.Program(), s.StartupTime(), s.URL())
			wantPrefix := map[spec.ServiceType]string{
				spec.TypeRedis:   "redis://127.0.0.1:",
				spec.TypeMySQL:   "mysql://vecro:",
				spec.TypeMongoDB: "mongodb://127.0.0.1:",
			}[kind]
			if !strings.HasPrefix(s.URL(), wantPrefix) {
				t.Fatalf("URL %q, want prefix %q", s.URL(), wantPrefix)
			}
			if !strings.Contains(s.URL(), s.Addr()) {
				t.Fatalf("URL %q does not name Addr %q", s.URL(), s.Addr())
			}
			roundTrip(t, kind, s.URL())

			pgid, dir := s.Pid(), s.Dir()
			if members := groupMembers(t, pgid); len(members) == 0 {
				t.Fatalf("process group %d is empty while the server runs", pgid)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			waitGroupGone(t, pgid)
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("data dir %s still there after Stop (stat: %v)", dir, err)
			}
			select {
			case <-s.Done():
			default:
				t.Fatal("Done not closed after Stop")
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
		})
	}
}

// TestStopCleansUpAfterSIGKILL kills the server behind the package's back:
// Done reports it, Err says how it died, Stop still removes everything.
func TestStopCleansUpAfterSIGKILL(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s := dbservertest.StartT(t, kind)
			pgid, dir := s.Pid(), s.Dir()
			if err := syscall.Kill(s.Pid(), syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", s.Pid(), err)
			}
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Done not closed 10 s after SIGKILL")
			}
			if err := s.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("Err() = %v, want the kill reported", err)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("Stop after SIGKILL: %v", err)
			}
			waitGroupGone(t, pgid)
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("data dir %s still there after Stop (stat: %v)", dir, err)
			}
		})
	}
}

// TestParentSIGKILLTakesServers starts servers in a child process (this
// test binary again), SIGKILLs that child, and expects its servers to die
// with it through the parent-death signal.
func TestParentSIGKILLTakesServers(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServerProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "DBSERVER_HELPER_KIND="+string(kind), "DBSERVER_HELPER_DIR="+dir)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatalf("start helper: %v", err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

			pid := 0
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if msg, ok := strings.CutPrefix(line, "SKIP "); ok {
					_ = cmd.Process.Kill()
					testutil.SkipOrFail(t, "%s", msg)
				}
				if v, ok := strings.CutPrefix(line, "SERVER_PID="); ok {
					pid, _ = strconv.Atoi(v)
					break
				}
			}
			if pid == 0 {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("helper printed no server pid; stderr:\n%s", stderr.String())
			}
			// If the test fails, don't leak the server.
			t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
			go func() { _, _ = io.Copy(io.Discard, stdout) }()

			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("SIGKILL helper: %v", err)
			}
			_ = cmd.Wait()
			waitGroupGone(t, pid)
		})
	}
}

// TestHelperServerProcess is the child of TestParentSIGKILLTakesServers;
// it does nothing in a normal run.
func TestHelperServerProcess(t *testing.T) {
	kind := os.Getenv("DBSERVER_HELPER_KIND")
	if kind == "" {
		t.Skip("helper process for TestParentSIGKILLTakesServers")
	}
	s, err := dbserver.Start(context.Background(), spec.ServiceType(kind), dbserver.Options{Dir: os.Getenv("DBSERVER_HELPER_DIR")})
	if errors.Is(err, dbserver.ErrNotInstalled) {
		fmt.Printf("SKIP %v\n", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SERVER_PID=%d\n", s.Pid())
	// Wait to be killed; the bound only keeps a lost helper from living on.
	time.Sleep(2 * time.Minute)
	_ = s.Stop()
}

func TestMissingProgramNamesInstallCommand(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("VECRO_CACHE", empty)
	cases := []struct {
		kind  spec.ServiceType
		opts  dbserver.Options
		wants []string
	}{
		{spec.TypeRedis, dbserver.Options{}, []string{"redis-server", "apt-get install redis-server"}},
		{spec.TypeMongoDB, dbserver.Options{}, []string{"mongod is not on PATH", "FerretDB " + dbserver.FerretDBVersion, "make tools"}},
		{spec.TypeMongoDB, dbserver.Options{Mongo: dbserver.MongoFerretDB}, []string{"FerretDB", "make tools", filepath.Join(empty, "ferretdb")}},
		{spec.TypeMongoDB, dbserver.Options{Mongo: dbserver.MongoD}, []string{"mongod not found", "apt-get install mongodb-org"}},
	}
	for _, c := range cases {
		_, err := dbserver.Start(t.Context(), c.kind, c.opts)
		if !errors.Is(err, dbserver.ErrNotInstalled) {
			t.Fatalf("%s %+v: err = %v, want ErrNotInstalled", c.kind, c.opts, err)
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %+v: error %q does not mention %q", c.kind, c.opts, err, w)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := dbserver.Start(t.Context(), spec.TypeBase, dbserver.Options{}); err == nil ||
		!strings.Contains(err.Error(), `"base" has no database server`) {
		t.Errorf("type base: err = %v", err)
	}
	if _, err := dbserver.Start(t.Context(), spec.TypeMongoDB, dbserver.Options{Mongo: "postgres"}); err == nil ||
		!strings.Contains(err.Error(), `unknown MongoDB server "postgres"`) {
		t.Errorf("Mongo postgres: err = %v", err)
	}
}

// TestFiveMongoServersTogether starts the social system's five mongodb
// servers at once, as the local runtime does, and reports the wall time.
// The < 5 s budget belongs to the runtime's own test; this bound only
// catches a hang on a loaded 2-core machine.
func TestFiveMongoServersTogether(t *testing.T) {
	begin := time.Now()
	var wg sync.WaitGroup
	servers := make([]*dbserver.Server, 5)
	errs := make([]error, 5)
	for i := range servers {
		wg.Go(func() {
			servers[i], errs[i] = dbserver.Start(t.Context(), spec.TypeMongoDB, dbserver.Options{Dir: t.TempDir()})
		})
	}
	wg.Wait()
	took := time.Since(begin)
	for i, err := range errs {
		if errors.Is(err, dbserver.ErrNotInstalled) {
			testutil.SkipOrFail(t, "%s", err.Error())
		}
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		t.Cleanup(func() { _ = servers[i].Stop() })
	}
	t.Logf("5 × %s ready together in %v", servers[0].Program(), took)
	if took > 30*time.Second {
		t.Fatalf("5 mongodb servers took %v to start", took)
	}
}

// BenchmarkStart times a start and a stop; start-ms is Start alone, up to
// the first answered query.
//
//	go test -run '^$' -bench Start -benchtime 10x ./framework/runtime/local/dbserver/
func BenchmarkStart(b *testing.B) {
	for _, kind := range kinds {
		b.Run(string(kind), func(b *testing.B) {
			var startup time.Duration
			for b.Loop() {
				s := dbservertest.StartTWith(b, kind, dbserver.Options{Dir: b.TempDir()})
				startup += s.StartupTime()
				if err := s.Stop(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(startup.Milliseconds())/float64(b.N), "start-ms")
		})
	}
}

func roundTrip(t *testing.T, kind spec.ServiceType, rawURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	switch kind {
	case spec.TypeRedis:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(o)
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Fatalf("GET = %q, %v", v, err)
		}
	case spec.TypeMySQL:
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		defer db.Close()
		for _, q := range []string{"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(8))", "INSERT INTO t VALUES (1, 'v')"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var v string
		if err := db.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "v" {
			t.Fatalf("SELECT = %q, %v", v, err)
		}
	case spec.TypeMongoDB:
		c, err := mongo.Connect(options.Client().ApplyURI(rawURL))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(context.Background())
		coll := c.Database(dbserver.MongoDatabase).Collection("t")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "v", Value: "v"}}); err != nil {
			t.Fatalf("InsertOne: %v", err)
		}
		var doc struct{ V string }
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&doc); err != nil || doc.V != "v" {
			t.Fatalf("FindOne = %+v, %v", doc, err)
		}
	}
}

// groupMembers lists the live (non-zombie) processes of process group
// pgid. A zombie is dead: it waits only for a parent to reap it, and in a
// container without a reaping init an orphan stays a zombie.
func groupMembers(t testing.TB, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may contain spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func waitGroupGone(t testing.TB, pgid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := groupMembers(t, pgid)
		if len(m) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has live members %v", pgid, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

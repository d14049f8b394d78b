package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/images/service/internal/config"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

var base = []string{"--system", "social", "--service", "text", "--instance", "text-0"}

func TestParseFlags(t *testing.T) {
	args := append(append([]string{}, base...),
		"--call", "a=http://127.0.0.1:1/x", "--call", "b=http://127.0.0.1:2",
		"--call-mode", "parallel", "--cpu", "5", "--io", "2", "--net", "256", "--memory", "16",
		"--delay", "300", "--jitter", "50ms", "--seed", "42", "--legacy-metrics",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	c, err := config.Parse(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Workload{CPU: 5, IO: 2, Net: 256, MemoryMiB: 16, Delay: 300 * time.Millisecond, Jitter: 50 * time.Millisecond}
	if c.Workload != want {
		t.Errorf("workload = %+v, want %+v", c.Workload, want)
	}
	if len(c.Calls) != 2 || c.Calls[0] != (config.Call{Name: "a", URL: "http://127.0.0.1:1/x"}) || c.Calls[1].Name != "b" {
		t.Errorf("calls = %+v", c.Calls)
	}
	if c.CallMode != spec.CallParallel || c.Seed != service.InstanceSeed(42, "text-0") || !c.LegacyMetrics || c.Type != spec.TypeBase {
		t.Errorf("config = %+v", c)
	}
	if c.Records != config.DefaultRecords || c.DataDir == "" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := env(map[string]string{
		"VECRO_SYSTEM":       "social",
		"VECRO_SERVICE":      "from-env",
		"VECRO_INSTANCE":     "i-0",
		"VECRO_CALLS":        "a=http://h1:80, b=http://h2:80/p",
		"VECRO_CPU":          "3",
		"VECRO_ADMIN_LISTEN": "127.0.0.1:9999",
		"VECRO_TOKEN_FILE":   tokenFile,
		"VECRO_CALL_MODE":    "parallel",
	})
	c, err := config.Parse([]string{"--service", "from-flag", "--cpu", "7"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != "from-flag" || c.Workload.CPU != 7 {
		t.Errorf("flags must win over env: service %q cpu %d", c.Service, c.Workload.CPU)
	}
	if c.System != "social" || c.AdminListen != "127.0.0.1:9999" || c.Token != "s3cret" || c.CallMode != spec.CallParallel {
		t.Errorf("env not applied: %+v", c)
	}
	if len(c.Calls) != 2 || c.Calls[1].URL != "http://h2:80/p" {
		t.Errorf("VECRO_CALLS = %+v", c.Calls)
	}

	// A --call on the command line replaces VECRO_CALLS rather than adding to it.
	c, err = config.Parse([]string{"--call", "z=http://h9"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Calls) != 1 || c.Calls[0].Name != "z" {
		t.Errorf("calls = %+v, want only z", c.Calls)
	}
}

func TestStorageType(t *testing.T) {
	c, err := config.Parse(append(append([]string{}, base...), "--type", "redis", "--db", "redis://127.0.0.1:6379", "--read", "2", "--write", "1"), env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Type.IsStorage() || c.Workload.Read != 2 || c.Workload.Write != 1 {
		t.Errorf("config = %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error
	}{
		{"missing system", []string{"--service", "x"}, nil, "--system is required (or VECRO_SYSTEM)"},
		{"bad name", []string{"--system", "a b", "--service", "x"}, nil, `--system "a b"`},
		{"bad type", append(base, "--type", "postgres"), nil, `--type "postgres": want base, mongodb, mysql or redis`},
		{"bad call", append(base, "--call", "nourl"), nil, `call "nourl": want NAME=URL`},
		{"bad call scheme", append(base, "--call", "a=ftp://x"), nil, "want an http:// or https:// URL"},
		{"call no host", append(base, "--call", "a=http://"), nil, "has no host"},
		{"otlp endpoint not a URL", append(base, "--otlp-endpoint", "127.0.0.1:4318"), nil, "--otlp-endpoint: OTLP endpoint"},
		{"trace sample zero", append(base, "--trace-sample", "0"), nil, "--trace-sample 0: want a ratio 0 < r ≤ 1"},
		{"trace sample above one", nil, map[string]string{"VECRO_SYSTEM": "s", "VECRO_SERVICE": "x", "VECRO_TRACE_SAMPLE": "1.5"}, "--trace-sample 1.5"},
		{"duplicate callee", append(base, "--call", "a=http://x", "--call", "a=http://y"), nil, "--call a: callee named twice"},
		{"bad call mode", append(base, "--call-mode", "random"), nil, `--call-mode "random"`},
		{"negative cpu", append(base, "--cpu", "-1"), nil, "--cpu -1: must not be negative"},
		{"bad delay", append(base, "--delay", "soon"), nil, `want a duration such as 300ms`},
		{"negative jitter", append(base, "--jitter", "-5ms"), nil, "must not be negative"},
		{"read on base", append(base, "--read", "1"), nil, "reads and writes need a storage --type"},
		{"storage without db", append(base, "--type", "mysql"), nil, "--type mysql needs --db"},
		{"db on base", append(base, "--db", "redis://x:1"), nil, "--db is only for storage types"},
		{"bad listen", append(base, "--listen", "8080"), nil, `--listen "8080": want host:port`},
		{"bad port", append(base, "--admin-listen", ":http"), nil, `port "http" is not a number`},
		{"same ports", append(base, "--listen", ":9000", "--admin-listen", ":9000"), nil, "the admin port must differ"},
		{"token and file", append(base, "--token", "a", "--token-file", "/nonexistent"), nil, "exclusive"},
		{"missing token file", append(base, "--token-file", "/nonexistent/token"), nil, "read --token-file"},
		{"bad env", base, map[string]string{"VECRO_CPU": "lots"}, `env VECRO_CPU="lots"`},
		{"bad env call", base, map[string]string{"VECRO_CALLS": "a=http://x,broken"}, `env VECRO_CALLS: call "broken"`},
		{"positional", append(base, "extra"), nil, `unexpected argument "extra"`},
		{"log level", append(base, "--log-level", "loud"), nil, `--log-level "loud"`},
		{"huge memory", append(base, "--memory", "99999999"), nil, "--memory 99999999 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{}, tt.args...)
			_, err := config.Parse(args, env(tt.env), io.Discard)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", args, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", args, err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := config.Parse([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, s := range []string{"--admin-listen", "VECRO_ADMIN_LISTEN", "VECRO_CALLS", "(default :8080)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("usage lacks %q:\n%s", s, out.String())
		}
	}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{"admin-listen": "VECRO_ADMIN_LISTEN", "call": "VECRO_CALLS", "token": "VECRO_TOKEN", "token-file": "VECRO_TOKEN_FILE"} {
		if got := config.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

// TestTheContractReadsBackTheSame: what a runtime writes with
// service.Instance, as flags (the local runtime) or as environment (a
// container), is what the binary reads, field by field.
func TestTheContractReadsBackTheSame(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := service.Instance{
		System: "social", Service: "posts-storage-db", Instance: "posts-storage-db-1",
		Type: service.TypeMongoDB, CallMode: service.CallParallel,
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
		Calls:    []service.Call{{Name: "a", URL: "http://127.0.0.1:1/x"}, {Name: "b", URL: "http://127.0.0.1:2"}},
		Workload: service.Workload{Read: 3, Write: 1},
		DataDir:  dir, Seed: 7, DB: "mongodb://127.0.0.1:27017/social", Records: 50,
		TokenFile: token, LegacyMetrics: true,
		OTLPEndpoint: "http://127.0.0.1:4318", TraceSampleRatio: 0.25,
	}
	base := service.Instance{System: "s", Service: "web", Instance: "web-0", Type: service.TypeBase,
		Workload: service.Workload{CPU: 2, IO: 1, Net: 512, MemoryMiB: 16, Delay: 250 * time.Millisecond, Jitter: 20 * time.Millisecond}}
	for _, in := range []service.Instance{in, base} {
		vars := map[string]string{}
		for _, v := range in.Env() {
			vars[v.Name] = v.Value
		}
		fromArgs, err := config.Parse(in.Args(), env(nil), io.Discard)
		if err != nil {
			t.Fatalf("%s as flags %q: %v", in.Instance, in.Args(), err)
		}
		fromEnv, err := config.Parse(nil, env(vars), io.Discard)
		if err != nil {
			t.Fatalf("%s as environment %v: %v", in.Instance, vars, err)
		}
		for how, c := range map[string]*config.Config{"flags": fromArgs, "environment": fromEnv} {
			var calls []service.Call
			for _, cl := range c.Calls {
				calls = append(calls, service.Call{Name: cl.Name, URL: cl.URL})
			}
			got := service.Instance{System: c.System, Service: c.Service, Instance: c.Instance, Type: c.Type, CallMode: c.CallMode,
				Listen: c.Listen, AdminListen: c.AdminListen, Calls: calls, DataDir: c.DataDir, DB: c.DB, Records: c.Records,
				Workload: service.Workload{CPU: c.Workload.CPU, IO: c.Workload.IO, Net: c.Workload.Net, MemoryMiB: c.Workload.MemoryMiB,
					Read: c.Workload.Read, Write: c.Workload.Write, Delay: c.Workload.Delay, Jitter: c.Workload.Jitter},
				LegacyMetrics: c.LegacyMetrics, OTLPEndpoint: c.OTLPEndpoint, TraceSampleRatio: c.TraceSampleRatio}
			want := in
			if want.TraceSampleRatio == 0 {
				want.TraceSampleRatio = 1
			}
			want.Seed, want.TokenFile = 0, ""
			if want.CallMode == "" {
				want.CallMode = service.CallSequential
			}
			if want.Listen == "" {
				want.Listen, want.AdminListen = config.DefaultListen, config.DefaultAdminListen
			}
			if want.DataDir == "" {
				want.DataDir = os.TempDir()
			}
			if want.Records == 0 {
				want.Records = config.DefaultRecords
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s read back from %s:\n got %+v\nwant %+v", in.Instance, how, got, want)
			}
			if c.Seed != service.InstanceSeed(in.Seed, in.Instance) {
				t.Errorf("%s from %s: seed %d, want the run's %d mixed with the instance name", in.Instance, how, c.Seed, in.Seed)
			}
			if in.TokenFile != "" && c.Token != "t0k" {
				t.Errorf("%s from %s: token %q from the token file", in.Instance, how, c.Token)
			}
		}
	}
}

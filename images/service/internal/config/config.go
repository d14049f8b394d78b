package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vecrosim/vecro/framework/service"
	"github.com/vecrosim/vecro/framework/traces"
)

// Config is the validated configuration of one service instance.
type Config struct {
	// System, Service and Instance name this instance; they become the
	// constant labels vecro_system, vecro_service and vecro_instance.
	System   string
	Service  string
	Instance string
	// Type is base or a storage type (mongodb, mysql, redis).
	Type service.Type

	// Listen is the service port as callers see it (the agent's ingress
	// proxy owns it); AdminListen serves /metrics, /healthz and /faults.
	Listen      string
	AdminListen string
	// Token is the fault agent's bearer token; empty means the agent refuses
	// every fault call.
	Token string

	// Calls are the downstream services, in the order given.
	Calls    []Call
	CallMode service.CallMode

	Workload Workload

	// DataDir holds the io workload's and the io-stress fault's files.
	DataDir string
	// Seed drives every random draw of the service (delay jitter, storage
	// keys, payload bytes): the run's seed (--seed) mixed with the
	// instance's name (service.InstanceSeed), so replicas draw differently
	// on both runtimes.
	Seed int64
	// Records is the size of a storage type's seeded dataset.
	Records int
	// DB is a storage type's database URL.
	DB string
	// LegacyMetrics adds the original's vecro_base_<system>_* series.
	LegacyMetrics bool
	// OTLPEndpoint is the OTLP/HTTP base URL spans are exported to; empty
	// turns tracing off.
	OTLPEndpoint string
	// TraceSampleRatio is the share of new traces kept (0 < r ≤ 1);
	// requests that arrive with a traceparent follow their caller.
	TraceSampleRatio float64
	// LogRate caps the request log's JSON lines per second on stdout; 0
	// turns the request log off, a negative rate lifts the cap.
	LogRate float64

	// AddrFile, when set, receives the bound addresses as JSON once the
	// instance is ready, so that a parent process can use ":0" ports.
	AddrFile string
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM or SIGINT.
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
}

// Call is one downstream service: its name (as errors and metrics show it)
// and the URL requested.
type Call struct {
	Name string
	URL  string
}

// Workload is the per-request work, in the original's units.
type Workload struct {
	// CPU: N ≈ N ms of CPU time per request.
	CPU int
	// IO: N × 64 KiB written and fsynced per request.
	IO int
	// Net: a response payload of N/2 bytes.
	Net int
	// MemoryMiB is allocated and touched at start-up and kept live.
	MemoryMiB int
	// Read and Write are point reads and inserts per request (storage types).
	Read  int
	Write int
	// Delay ± Jitter (uniform) is waited before any other work.
	Delay  time.Duration
	Jitter time.Duration
}

// Defaults of the contract.
const (
	DefaultListen          = ":8080"
	DefaultAdminListen     = ":8081"
	DefaultRecords         = 1000
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultLogRate caps the request log: far above the scenario rates,
	// well below what would cost the service its throughput.
	DefaultLogRate = 1000
)

// Upper bounds that catch typos before they exhaust the machine.
const (
	maxMemoryMiB = 1 << 20 // 1 TiB
	maxNet       = 1 << 31 // a 1 GiB payload
)

// EnvName returns the environment variable that sets flag name (the
// contract's spelling, service.EnvName).
func EnvName(flagName string) string { return service.EnvName(flagName) }

// nameRE is what a system, service or instance name may look like: it ends
// up in label values, file names and the legacy metric names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Parse reads the configuration from args (without the program name) and
// the environment through lookupEnv (os.LookupEnv in production). Help and
// flag errors are written to usage; -h yields flag.ErrHelp.
func Parse(args []string, lookupEnv func(string) (string, bool), usage io.Writer) (*Config, error) {
	c := &Config{
		Listen:           DefaultListen,
		AdminListen:      DefaultAdminListen,
		Type:             service.TypeBase,
		CallMode:         service.CallSequential,
		Records:          DefaultRecords,
		ShutdownTimeout:  DefaultShutdownTimeout,
		TraceSampleRatio: 1,
		LogRate:          DefaultLogRate,
	}
	var (
		typ       = string(service.TypeBase)
		callMode  = string(service.CallSequential)
		tokenFile string
		logLevel  = "info"
		calls     callList
	)
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.System, "system", "", "system `name` (required)")
	fs.StringVar(&c.Service, "service", "", "service `name` (required)")
	fs.StringVar(&typ, "type", typ, "service `type`: base, mongodb, mysql or redis")
	fs.StringVar(&c.Instance, "instance", "", "instance `name` (default: the host name, i.e. the pod name on Kubernetes)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "service `address` as callers see it")
	fs.StringVar(&c.AdminListen, "admin-listen", c.AdminListen, "admin `address`: /metrics, /healthz, /faults")
	fs.StringVar(&c.Token, "token", "", "fault agent bearer `token`")
	fs.StringVar(&tokenFile, "token-file", "", "`file` holding the fault agent bearer token")
	fs.Var(&calls, "call", "downstream `NAME=URL` (repeatable, called in the order given)")
	fs.StringVar(&callMode, "call-mode", callMode, "`mode` of downstream calls: sequential or parallel")
	fs.IntVar(&c.Workload.CPU, "cpu", 0, "per request: `N` ≈ N ms of CPU time")
	fs.IntVar(&c.Workload.IO, "io", 0, "per request: `N` × 64 KiB written and fsynced in --data-dir")
	fs.IntVar(&c.Workload.Net, "net", 0, "per request: a response payload of `N`/2 bytes")
	fs.IntVar(&c.Workload.MemoryMiB, "memory", 0, "`MiB` allocated, touched and kept live from start-up")
	fs.IntVar(&c.Workload.Read, "read", 0, "per request: `N` random point reads (storage types)")
	fs.IntVar(&c.Workload.Write, "write", 0, "per request: `N` inserts (storage types)")
	fs.Var((*msDuration)(&c.Workload.Delay), "delay", "per request: wait `DUR` (Go duration or ms) before any work")
	fs.Var((*msDuration)(&c.Workload.Jitter), "jitter", "uniform ± `DUR` (Go duration or ms) around --delay")
	fs.StringVar(&c.DataDir, "data-dir", "", "`dir` for io workload and io-stress files (default: the temp dir)")
	fs.Int64Var(&c.Seed, "seed", 0, "the run's `seed`; every random draw comes from it mixed with the instance name")
	fs.IntVar(&c.Records, "records", c.Records, "storage dataset size in `rows`")
	fs.StringVar(&c.DB, "db", "", "storage database `URL` (redis://, mysql://, mongodb://)")
	fs.BoolVar(&c.LegacyMetrics, "legacy-metrics", false, "also expose the original's vecro_base_<system>_* metrics")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "export spans over OTLP/HTTP to this base `URL` (http://host:4318); none: no tracing")
	fs.Float64Var(&c.TraceSampleRatio, "trace-sample", c.TraceSampleRatio, "share of new traces kept, 0 < `ratio` ≤ 1 (a request with a traceparent follows its caller)")
	fs.Float64Var(&c.LogRate, "log-rate", c.LogRate, "request log cap in JSON `lines` per second on stdout (0: no request log, negative: no cap)")
	fs.StringVar(&c.AddrFile, "addr-file", "", "write the bound addresses as JSON to `file` once ready")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "grace `period` for in-flight requests on SIGTERM")
	fs.StringVar(&logLevel, "log-level", logLevel, "`level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: service [flags]\n\nEvery flag can also be set by its environment variable (a flag wins).\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			name, help := flag.UnquoteUsage(f)
			fmt.Fprintf(usage, "  --%s %s\t[%s]\n    \t%s", f.Name, name, EnvName(f.Name), help)
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
				fmt.Fprintf(usage, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(usage)
		})
	}

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: the service takes flags only", fs.Arg(0))
	}
	if err := applyEnv(fs, lookupEnv); err != nil {
		return nil, err
	}

	c.Type = service.Type(typ)
	c.CallMode = service.CallMode(callMode)
	c.Calls = calls
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	if tokenFile != "" {
		if c.Token != "" {
			return nil, errors.New("--token and --token-file are exclusive: give one")
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read --token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
		if c.Token == "" {
			return nil, fmt.Errorf("--token-file %s is empty", tokenFile)
		}
	}
	if c.Instance == "" {
		c.Instance = defaultInstance(c.Service)
	}
	c.Seed = service.InstanceSeed(c.Seed, c.Instance)
	if c.DataDir == "" {
		c.DataDir = os.TempDir()
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyEnv sets every flag not given on the command line from its
// environment variable.
func applyEnv(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v, ok := lookupEnv(env)
		if !ok {
			return
		}
		if f.Name == "call" {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item == "" {
					continue
				}
				if err := f.Value.Set(item); err != nil {
					errs = append(errs, fmt.Errorf("env %s: %w", env, err))
				}
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("env %s=%q: %w", env, v, err))
		}
	})
	return errors.Join(errs...)
}

// defaultInstance is the host name, which on Kubernetes is the pod's name.
func defaultInstance(service string) string {
	if h, err := os.Hostname(); err == nil && nameRE.MatchString(h) {
		return h
	}
	return service
}

// Validate checks the configuration as a whole; every error names the flag.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, n := range []struct{ flag, v string }{{"system", c.System}, {"service", c.Service}, {"instance", c.Instance}} {
		switch {
		case n.v == "":
			bad("--%s is required (or %s)", n.flag, EnvName(n.flag))
		case !nameRE.MatchString(n.v):
			bad("--%s %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", n.flag, n.v)
		}
	}
	switch c.Type {
	case service.TypeBase, service.TypeMongoDB, service.TypeMySQL, service.TypeRedis:
	default:
		bad("--type %q: want base, mongodb, mysql or redis", c.Type)
	}
	for _, a := range []struct{ flag, v string }{{"listen", c.Listen}, {"admin-listen", c.AdminListen}} {
		if err := checkAddr(a.v); err != nil {
			bad("--%s %q: %w", a.flag, a.v, err)
		}
	}
	if c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		bad("--listen and --admin-listen are both %q: the admin port must differ from the service port", c.Listen)
	}
	switch c.CallMode {
	case service.CallSequential, service.CallParallel:
	default:
		bad("--call-mode %q: want sequential or parallel", c.CallMode)
	}
	seen := map[string]bool{}
	for _, call := range c.Calls {
		if seen[call.Name] {
			bad("--call %s: callee named twice", call.Name)
		}
		seen[call.Name] = true
	}
	w := c.Workload
	for _, n := range []struct {
		flag string
		v    int
	}{{"cpu", w.CPU}, {"io", w.IO}, {"net", w.Net}, {"memory", w.MemoryMiB}, {"read", w.Read}, {"write", w.Write}} {
		if n.v < 0 {
			bad("--%s %d: must not be negative", n.flag, n.v)
		}
	}
	if w.MemoryMiB > maxMemoryMiB {
		bad("--memory %d MiB: more than the %d MiB this binary accepts", w.MemoryMiB, maxMemoryMiB)
	}
	if w.Net > maxNet {
		bad("--net %d: a payload over %d bytes", w.Net, maxNet/2)
	}
	if w.IO > math.MaxInt/(64<<10) {
		bad("--io %d: too large", w.IO)
	}
	if c.Type.IsStorage() {
		if c.DB == "" {
			bad("--type %s needs --db (the database URL, e.g. %s)", c.Type, exampleDB(c.Type))
		}
		if c.Records < 1 {
			bad("--records %d: a storage type needs at least 1 record", c.Records)
		}
	} else {
		if w.Read > 0 || w.Write > 0 {
			bad("--read %d --write %d: reads and writes need a storage --type (mongodb, mysql, redis), not %s", w.Read, w.Write, c.Type)
		}
		if c.DB != "" {
			bad("--db is only for storage types, not --type %s", c.Type)
		}
	}
	if c.OTLPEndpoint != "" {
		if _, err := traces.TracesURL(c.OTLPEndpoint); err != nil {
			bad("--otlp-endpoint: %w", err)
		}
	}
	if !(c.TraceSampleRatio > 0 && c.TraceSampleRatio <= 1) {
		bad("--trace-sample %g: want a ratio 0 < r ≤ 1", c.TraceSampleRatio)
	}
	if c.ShutdownTimeout < 0 {
		bad("--shutdown-timeout %s: must not be negative", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

func exampleDB(t service.Type) string {
	switch t {
	case service.TypeRedis:
		return "redis://127.0.0.1:6379"
	case service.TypeMySQL:
		return "mysql://user:pass@127.0.0.1:3306/db"
	default:
		return "mongodb://127.0.0.1:27017/db"
	}
}

// checkAddr accepts host:port with a numeric port (0 picks a free one).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// callList is the repeatable --call NAME=URL flag.
type callList []Call

func (l *callList) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, len(*l))
	for i, c := range *l {
		parts[i] = c.Name + "=" + c.URL
	}
	return strings.Join(parts, ",")
}

func (l *callList) Set(v string) error {
	name, raw, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("call %q: want NAME=URL", v)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("call %q: callee name %q: use letters, digits, '.', '_' and '-'", v, name)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("call %s: %w", name, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("call %s: URL %q: want an http:// or https:// URL", name, raw)
	}
	if u.Host == "" {
		return fmt.Errorf("call %s: URL %q has no host", name, raw)
	}
	*l = append(*l, Call{Name: name, URL: u.String()})
	return nil
}

// msDuration is a duration flag that also takes a bare number of
// milliseconds, the original's unit for delay and jitter.
type msDuration time.Duration

func (d *msDuration) String() string {
	if d == nil || *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *msDuration) Set(v string) error {
	v = strings.TrimSpace(v)
	var x time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > float64(math.MaxInt64/int64(time.Millisecond)) {
			return fmt.Errorf("%q: not a usable number of milliseconds", v)
		}
		x = time.Duration(n * float64(time.Millisecond))
	} else {
		x, err = time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q: want a duration such as 300ms or a number of milliseconds", v)
		}
	}
	if x < 0 {
		return fmt.Errorf("%q: must not be negative", v)
	}
	*d = msDuration(x)
	return nil
}

package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fixtures = "../../fixtures"

func loadSystem(t testing.TB, name string) *System {
	t.Helper()
	s, err := LoadSystem(filepath.Join(fixtures, "systems", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

// TestSocialMatchesReference checks social.yaml against the topology facts
// of the reference (vecrosim-reference.md), service by service.
func TestSocialMatchesReference(t *testing.T) {
	s := loadSystem(t, "social.yaml")
	if s.Name != "social" || s.Namespace != "social" || s.Replicas != 1 || len(s.Services) != 25 {
		t.Fatalf("social: name %q namespace %q replicas %d services %d", s.Name, s.Namespace, s.Replicas, len(s.Services))
	}
	type want struct {
		cpu, mem, net, read, write int
		calls                      string
	}
	ref := map[string]want{
		"follow-user":       {cpu: 1, net: 256, calls: "user-info"},
		"recommender":       {cpu: 1, mem: 16, net: 512, calls: "user-info posts-storage"},
		"unique-id":         {cpu: 1, net: 256, calls: "compose-post"},
		"url-shorten":       {cpu: 2, net: 256, calls: "compose-post"},
		"video":             {cpu: 1, mem: 32, net: 256, calls: "compose-post"},
		"image":             {cpu: 1, mem: 16, net: 256, calls: "compose-post"},
		"text":              {cpu: 1, net: 256, calls: "compose-post"},
		"user-tag":          {cpu: 1, net: 256, calls: "compose-post"},
		"favorite":          {cpu: 1, net: 512, calls: "write-timeline"},
		"search":            {cpu: 2, net: 512, calls: "posts-storage-db"},
		"ads":               {cpu: 1, mem: 16, net: 1024, calls: "user-info posts-storage"},
		"read-post":         {cpu: 1, mem: 16, net: 512, calls: "login read-timeline posts-storage blocked-users"},
		"login":             {cpu: 1, net: 256, calls: "user-info"},
		"compose-post":      {cpu: 1, net: 256, calls: "login write-timeline posts-storage write-graph"},
		"blocked-users":     {cpu: 1, net: 64},
		"read-timeline":     {cpu: 1, net: 512, calls: "read-timeline-db"},
		"user-info":         {cpu: 1, net: 512, calls: "user-info-db"},
		"posts-storage":     {cpu: 1, net: 256, calls: "posts-storage-db"},
		"write-timeline":    {cpu: 1, net: 256, calls: "write-timeline-db"},
		"write-graph":       {cpu: 1, net: 256, calls: "write-graph-db"},
		"read-timeline-db":  {read: 1},
		"user-info-db":      {read: 1},
		"posts-storage-db":  {read: 1, write: 1},
		"write-timeline-db": {write: 1},
		"write-graph-db":    {write: 1},
	}
	storage := 0
	for _, svc := range s.Services {
		w, ok := ref[svc.Name]
		if !ok {
			t.Errorf("service %q is not in the reference", svc.Name)
			continue
		}
		wantType := TypeBase
		if strings.HasSuffix(svc.Name, "-db") {
			wantType = TypeMongoDB
			storage++
		}
		got := want{svc.Workload.CPU, int(svc.Workload.Memory >> 20), svc.Workload.Net, svc.Workload.Read, svc.Workload.Write, strings.Join(svc.Calls, " ")}
		if got != w || svc.Type != wantType || svc.Workload.IO != 0 || svc.Workload.Delay != nil {
			t.Errorf("%s: %+v type %s, want %+v type %s", svc.Name, got, svc.Type, w, wantType)
		}
	}
	if storage != 5 {
		t.Errorf("%d mongodb services, want 5", storage)
	}
	wantEntries := []string{"follow-user", "recommender", "unique-id", "url-shorten", "video", "image", "text", "user-tag", "favorite", "search", "ads", "read-post"}
	if got := s.EntryServices(); !slices.Equal(got, wantEntries) {
		t.Errorf("EntryServices = %v, want %v", got, wantEntries)
	}
}

func TestStartOrderPutsCalleesFirst(t *testing.T) {
	for _, name := range []string{"social.yaml", "simple.yaml", "alphabet.yaml"} {
		s := loadSystem(t, name)
		order := s.StartOrder()
		if len(order) != len(s.Services) {
			t.Fatalf("%s: StartOrder has %d services, want %d", name, len(order), len(s.Services))
		}
		pos := map[string]int{}
		for i, n := range order {
			pos[n] = i
		}
		for _, svc := range s.Services {
			for _, c := range svc.Calls {
				if pos[c] >= pos[svc.Name] {
					t.Errorf("%s: %s starts at %d, before its callee %s at %d", name, svc.Name, pos[svc.Name], c, pos[c])
				}
			}
		}
	}
	if got := loadSystem(t, "simple.yaml").StartOrder(); !slices.Equal(got, []string{"cache", "backend", "frontend"}) {
		t.Errorf("simple StartOrder = %v", got)
	}
}

func TestDefaults(t *testing.T) {
	a := loadSystem(t, "alphabet.yaml")
	if a.Replicas != 0 || a.ReplicasOf("b") != 2 || a.ReplicasOf("a") != 1 || a.ReplicasOf("nope") != 0 {
		t.Errorf("ReplicasOf: a=%d b=%d nope=%d", a.ReplicasOf("a"), a.ReplicasOf("b"), a.ReplicasOf("nope"))
	}
	if got := a.Service("f").Limits(); got != (Resources{CPU: 500, Memory: 128 << 20}) {
		t.Errorf("f limits = %+v", got)
	}
	if got := a.Service("a").Limits(); got != (Resources{CPU: DefaultCPULimit, Memory: DefaultMemoryLimit}) {
		t.Errorf("a limits = %+v, want the original's 700m/250Mi", got)
	}
	if a.Service("a").Mode() != CallParallel || a.Service("b").Mode() != CallSequential {
		t.Error("call modes")
	}
	if c := a.Service("c"); c.Workload.Memory != 8<<20 {
		t.Errorf("mem alias: c memory = %v", c.Workload.Memory)
	}
	if k := a.Service("k").Workload.Delay; k == nil || k.Time.D() != 5*time.Millisecond || k.Jitter.D() != 2*time.Millisecond {
		t.Errorf("k delay = %+v", k)
	}
	s := &System{Name: "x", Services: []Service{{Name: "y", Type: TypeBase}}}
	if s.EffectiveNamespace() != "x" || s.ReplicasOf("y") != 1 {
		t.Errorf("defaults of a System built in Go: ns %q replicas %d", s.EffectiveNamespace(), s.ReplicasOf("y"))
	}
}

func TestFaultFixtures(t *testing.T) {
	social := loadSystem(t, "social.yaml")
	paths, _ := filepath.Glob(filepath.Join(fixtures, "faults", "*.yaml"))
	kinds := map[string]bool{}
	for _, p := range paths {
		ff, err := LoadFaults(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := CheckFaults(ff, social); err != nil {
			t.Errorf("%v", err)
		}
		for _, f := range ff.Faults {
			for _, b := range f.Behaviors.List() {
				kinds[b.Kind()] = true
			}
		}
	}
	for _, k := range []string{"net-delay", "net-loss", "net-rate", "cpu-stress", "io-stress", "mem-stress", "http-abort"} {
		if !kinds[k] {
			t.Errorf("no fault fixture uses %s", k)
		}
	}
	ff, err := LoadFaults(filepath.Join(fixtures, "faults", "social-delay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := ff.Faults[0]
	nd := f.Behaviors.NetDelay
	if f.Target != "posts-storage-db" || nd == nil || nd.Time.D() != 400*time.Millisecond || nd.Jitter.D() != 150*time.Millisecond || nd.Link() != LinkIngress {
		t.Errorf("social-delay is not the published baseline: %+v %+v", f, nd)
	}
	if ff.End().D() != time.Minute || !slices.Equal(ff.Targets(), []string{"posts-storage-db"}) {
		t.Errorf("End %v Targets %v", ff.End(), ff.Targets())
	}
	cpu, err := LoadFaults(filepath.Join(fixtures, "faults", "social-cpu-stress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c := cpu.Faults[0]; c.Start.D() != 30*time.Second || c.Duration.D() != time.Minute {
		t.Errorf("seed-style durations: start %v duration %v", c.Start, c.Duration)
	}
}

// TestInvalidFixtures runs every file of fixtures/invalid; line 1 of each
// says the one error it must produce ("# error:LINE: FIELD: MESSAGE", the
// file name left out). Fault files are checked against social.yaml too.
func TestInvalidFixtures(t *testing.T) {
	social := loadSystem(t, "social.yaml")
	paths, _ := filepath.Glob(filepath.Join(fixtures, "invalid", "*.yaml"))
	if len(paths) < 40 {
		t.Fatalf("only %d invalid fixtures", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			rest, ok := strings.CutPrefix(first, "# error:")
			if !ok {
				t.Fatalf("line 1 is %q, want \"# error:LINE: FIELD: MESSAGE\"", first)
			}
			want := p + ":" + rest
			switch DetectKind(data) {
			case KindSystem:
				_, err = ParseSystem(p, data)
			case KindFaults:
				var ff *FaultFile
				if ff, err = ParseFaults(p, data); err == nil {
					err = CheckFaults(ff, social)
				}
			case KindCampaign:
				_, err = ParseCampaign(p, data)
			default:
				t.Fatal("neither a system nor a fault file")
			}
			if err == nil {
				t.Fatalf("accepted; want %s", want)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			if err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			if list[0].Line < 2 || list[0].File != p {
				t.Errorf("error located at %s:%d", list[0].File, list[0].Line)
			}
		})
	}
}

// TestAllErrorsCollected: one file with many problems reports each, in line
// order, without follow-on noise for fields that failed to decode.
func TestAllErrorsCollected(t *testing.T) {
	_, err := ParseSystem("many.yaml", []byte(`name: shop
services:
  - name: web
    type: bas
    calls: [api, ap]
    workload: {cpu: -1, memory: 2x}
  - name: api
    type: mysql
    calls: [web]
    workload: {read: two, net: 5}
    colour: red
`))
	want := []string{
		`many.yaml:4: services[0].type: unknown type "bas" (did you mean "base"?); want one of base, mongodb, mysql, redis`,
		`many.yaml:5: services[0].calls[1]: unknown service "ap" (did you mean "api"?)`,
		`many.yaml:6: services[0].workload.memory: bad size "2x": unknown unit "x" (use B, KiB, MiB, GiB, TiB or Ki, Mi, Gi, or kB, MB, GB)`,
		`many.yaml:6: services[0].workload.cpu: cpu is -1; want 0 or more`,
		`many.yaml:9: services[1].calls[0]: call cycle: web → api → web`,
		`many.yaml:10: services[1].workload.read: want an integer, got "two"`,
		`many.yaml:10: services[1].workload.net: type mysql does not support workload "net" (it supports read, write)`,
		`many.yaml:11: services[1].colour: unknown field; known: name, type, replicas, calls, call-mode, resources, workload`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestYAMLFeatures(t *testing.T) {
	// Anchors, aliases and merge keys; "mem"; a null behaviour with defaults;
	// flow style; no apiVersion.
	sys, err := ParseSystem("anchors.yaml", []byte(`name: shop
namespace: shop
services:
  - &web
    name: web
    type: base
    workload: &light {cpu: 1, net: 64, mem: 4}
    calls: [api]
  - <<: *web
    name: web2
    workload: *light
  - {name: api, type: base}
`))
	if err != nil {
		t.Fatal(err)
	}
	if w2 := sys.Service("web2"); w2 == nil || w2.Workload.Memory != 4<<20 || !slices.Equal(w2.Calls, []string{"api"}) || w2.Type != TypeBase {
		t.Errorf("merged service = %+v", w2)
	}
	ff, err := ParseFaults("null.yaml", []byte(`name: f
faults:
  - name: disk
    target: web
    start: 0
    duration: 1m
    mode: 50%
    behaviors:
      io-stress:
`))
	if err != nil {
		t.Fatal(err)
	}
	if b := ff.Faults[0].Behaviors.IOStress; b == nil || b.Method != "" {
		t.Errorf("io-stress with defaults = %+v", b)
	}
	if err := CheckFaults(ff, sys); err != nil {
		t.Errorf("CheckFaults: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "x.yaml: empty file: want a YAML mapping"},
		{"# only a comment\n", "x.yaml: empty file: want a YAML mapping"},
		{"- a\n- b\n", "x.yaml:1: want a YAML mapping with name and services at the top"},
		{"name: a\nservices: []\n---\nname: b\n", "x.yaml:4: more than one YAML document: put one definition per file"},
		{"name: a\nname: b\n", `x.yaml:2: YAML syntax: mapping key "name" already defined at [1:1]`},
		{"name: a\nservices:\n  - *nope\n", `x.yaml:3: services[0]: unknown alias "nope"`},
		{"name: [a]\nservices:\n  - {name: b, type: base}\n", `x.yaml:1: name: want a string, got a list`},
		{"name: a\nservices:\n  - {name: b, type: base, workload: {delay: }}\n", `x.yaml:3: services[0].workload.delay: missing time`},
		{"name: a\nservices:\n  - {name: b, type: base, replicas: 1.5}\n", `x.yaml:3: services[0].replicas: want an integer, got "1.5"`},
		{"name: a\nservices:\n  - {name: b, type:}\n", `x.yaml:3: services[0].type: is empty`},
	} {
		_, err := ParseSystem("x.yaml", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseSystem(%q)\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestValidateSystemBuiltInGo(t *testing.T) {
	s := &System{Name: "x", Services: []Service{
		{Name: "a", Type: TypeBase, Calls: []string{"b"}},
		{Name: "b", Type: TypeRedis, Workload: Workload{CPU: 3}},
	}}
	err := s.Validate()
	want := `services[1].workload.cpu: type redis does not support workload "cpu" (it supports read, write)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
}

func TestDetectKind(t *testing.T) {
	for in, want := range map[string]Kind{
		"name: a\nservices:\n":                         KindSystem,
		"name: a\nfaults: []\n":                        KindFaults,
		"name: a\nservices: [\n":                       KindSystem, // still routed to the parser that explains
		"name: a\n":                                    KindUnknown,
		"services: []\nfaults: []\n":                   KindUnknown,
		"kind: Experiment\nname: a\nfaults: f.yaml\n":  KindExperiment, // kind wins over the keys
		"name: a\nsystem: s.yaml\nfaults: f.yaml\n":    KindExperiment,
		"kind: Faults\nname: a\nservices: []\n":        KindFaults,
		"kind: System\nservices: [\n":                  KindSystem,
		"kind: Sytem\nservices: []\n":                  KindUnknown,
		"# faults: in a comment\nname: a\nservices:\n": KindSystem,
	} {
		if got := DetectKind([]byte(in)); got != want {
			t.Errorf("DetectKind(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadKindErrors(t *testing.T) {
	for in, want := range map[string]string{
		"name: a\nkind: Sytem\nservices: []\n": `f.yaml:2: kind: unknown kind "Sytem" (did you mean "System"?); want System, Faults, Experiment, Campaign`,
		"name: a\n":                            "f.yaml: no kind: key and neither services: (a system definition), faults: (a fault definition) nor system: (an experiment) at the top level",
		"kind: [x]\n":                          "f.yaml:1: kind: want a string: one of System, Faults, Experiment, Campaign",
	} {
		if _, err := ReadKind("f.yaml", []byte(in)); err == nil || err.Error() != want {
			t.Errorf("ReadKind(%q) = %v, want %s", in, err, want)
		}
	}
}

// TestKindField: a kind: that names another kind is an error on its line
// when the file is read as the wrong kind; the right one is accepted.
func TestKindField(t *testing.T) {
	if _, err := ParseSystem("s.yaml", []byte("kind: System\nname: a\nservices:\n  - name: b\n    type: base\n")); err != nil {
		t.Errorf("kind: System: %v", err)
	}
	_, err := ParseSystem("s.yaml", []byte("name: a\nkind: Faults\nservices:\n  - name: b\n    type: base\n"))
	if want := "s.yaml:2: kind: this is a fault definition; a system definition (kind: System) is wanted here"; err == nil || err.Error() != want {
		t.Errorf("kind: Faults read as a system: %v, want %s", err, want)
	}
	// Without kind:, the keys tell: a system file given where faults are wanted.
	_, err = ParseFaults("sys.yaml", []byte("name: a\nservices:\n  - name: b\n    type: base\n"))
	if want := "sys.yaml: kind: this is a system definition; a fault definition (kind: Faults) is wanted here"; err == nil || err.Error() != want {
		t.Errorf("a system read as faults: %v, want %s", err, want)
	}
	_, err = ParseFaults("f.yaml", []byte("kind: Fault\nname: a\nfaults:\n  - name: b\n    target: c\n    start: 1s\n    duration: 1s\n    behaviors: {cpu-stress: {load: 50}}\n"))
	if want := `f.yaml:1: kind: unknown kind "Fault" (did you mean "Faults"?); want Faults (or no kind)`; err == nil || err.Error() != want {
		t.Errorf("kind: Fault: %v, want %s", err, want)
	}
}

func TestCheckFiles(t *testing.T) {
	sys := func(n string) string { return filepath.Join(fixtures, "systems", n) }
	flt := func(n string) string { return filepath.Join(fixtures, "faults", n) }
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noNS := write("nons.yaml", "name: f\nfaults:\n  - {name: x, target: login, start: 0s, duration: 1s, behaviors: {net-loss: {percent: 1}}}\n")
	other := write("other.yaml", "name: f\nnamespace: elsewhere\nfaults:\n  - {name: x, target: login, start: 0s, duration: 1s, behaviors: {net-loss: {percent: 1}}}\n")
	neither := write("neither.yaml", "name: f\n")

	type outcome struct{ err, note string }
	for _, tc := range []struct {
		name  string
		paths []string
		want  []outcome
	}{
		{"fault alone", []string{flt("social-loss.yaml")}, []outcome{{note: "targets not checked: give the system file too"}}},
		{"matched by namespace", []string{flt("social-loss.yaml"), sys("simple.yaml"), sys("social.yaml")}, []outcome{{}, {}, {}}},
		{"no namespace, one system", []string{sys("social.yaml"), noNS}, []outcome{{}, {}}},
		{"no namespace, two systems", []string{sys("social.yaml"), sys("simple.yaml"), noNS},
			[]outcome{{}, {}, {err: noNS + ":1: namespace: no namespace, and 2 systems were given: name the namespace of the one these faults target"}}},
		{"namespace matches none", []string{sys("social.yaml"), sys("simple.yaml"), other},
			[]outcome{{}, {}, {err: other + `:2: namespace: namespace "elsewhere" matches none of the systems given (social in ` + sys("social.yaml") + ", simple in " + sys("simple.yaml") + ")"}}},
		{"namespace differs from the one system", []string{sys("social.yaml"), other},
			[]outcome{{}, {err: other + `:2: namespace: namespace "elsewhere" differs from namespace "social" of system social`}}},
		{"target not in the matched system", []string{flt("social-loss.yaml"), sys("simple.yaml")},
			[]outcome{{err: flt("social-loss.yaml") + `:3: namespace: namespace "social" differs from namespace "simple" of system simple` + "\n" +
				flt("social-loss.yaml") + `:7: faults[0].target: target "user-info" is not a service of system "simple"`}, {}}},
		{"broken system", []string{filepath.Join(fixtures, "invalid", "system-syntax.yaml"), flt("social-loss.yaml")},
			[]outcome{{err: filepath.Join(fixtures, "invalid", "system-syntax.yaml") + ":6: YAML syntax: value is not allowed in this context"},
				{note: `targets not checked: the system files given have errors`}}},
		{"neither kind", []string{neither}, []outcome{{err: neither + ": no kind: key and neither services: (a system definition), faults: (a fault definition) nor system: (an experiment) at the top level"}}},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, []outcome{{err: "read definition: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := CheckFiles(tc.paths)
			for i, r := range res {
				got := outcome{note: r.Note}
				if r.Err != nil {
					got.err = r.Err.Error()
				}
				if got != tc.want[i] {
					t.Errorf("%s:\n got %+v\nwant %+v", r.Path, got, tc.want[i])
				}
				if r.Err == nil && r.System == nil && r.Faults == nil {
					t.Errorf("%s: valid but no definition returned", r.Path)
				}
			}
		})
	}
}

// TestAliasBomb: merge keys that fan out tenfold per level must end in an
// error quickly, not expand 10^7 mappings.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\nl0: &l0 {cpu: 1}\n")
	for i := 1; i < 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat("*l"+strconv.Itoa(i-1)+", ", 10), ", ")
		fmt.Fprintf(&b, "l%d: &l%d {<<: [%s]}\n", i, i, refs)
	}
	b.WriteString("services:\n  - name: a\n    type: base\n    workload: {<<: *l7}\n")
	_, err := ParseSystem("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "bomb.yaml:2: the document expands to more than 100000 values through aliases or merge keys") {
		t.Fatalf("error = %v", err)
	}
}

package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// campaign is a campaign on the social fixture with the given faults and
// targets (YAML, indented for the top level) and extra top-level lines.
func campaign(faults, targets, extra string) string {
	social, err := filepath.Abs(filepath.Join(fixtures, "systems", "social.yaml"))
	if err != nil {
		panic(err)
	}
	return "kind: Campaign\nname: c\nsystem: " + social + "\n" +
		"faults:\n" + faults + "targets: " + targets + "\nfault-window: {start: 30s, duration: 20s}\n" + extra
}

const oneDelay = "  - name: delay\n    behaviors: {net-delay: {time: 100ms}}\n"

func parseCampaign(t *testing.T, text string) *CampaignFile {
	t.Helper()
	cf, err := ParseCampaign("c.yaml", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return cf
}

func TestCampaignFixture(t *testing.T) {
	path := filepath.Join(fixtures, "campaigns", "social-small.yaml")
	cf, err := LoadCampaign(path)
	if err != nil {
		t.Fatal(err)
	}
	if cf.Name != "social-small" || len(cf.Systems) != 1 || cf.Systems[0].System == nil || cf.Systems[0].System.Name != "social" ||
		cf.Systems[0].Ref.Path != "../systems/social.yaml" || cf.Systems[0].Field != "system" {
		t.Fatalf("campaign %q systems %+v", cf.Name, cf.Systems)
	}
	if cf.Repetitions != 2 || cf.Seed != 42 || cf.FaultWindow.Start.D() != 35*time.Second || cf.FaultWindow.Duration.D() != 30*time.Second {
		t.Errorf("repetitions %d seed %d window %+v", cf.Repetitions, cf.Seed, cf.FaultWindow)
	}
	var names []string
	for _, f := range cf.Systems[0].Faults {
		names = append(names, f.Name)
		if len(f.Variants) != 1 || f.Variants[0].Strength != "" || len(f.Variants[0].Behaviors.List()) != 1 {
			t.Errorf("template %s: variants %+v", f.Name, f.Variants)
		}
	}
	if !slices.Equal(names, []string{"delay", "loss", "cpu"}) {
		t.Errorf("templates %v", names)
	}
	want := []CampaignTarget{{"posts-storage-db", true}, {"user-info", true}, {"blocked-users", true}}
	if !slices.Equal(cf.Systems[0].Targets, want) {
		t.Errorf("targets %+v, want %+v", cf.Systems[0].Targets, want)
	}
	ex := cf.Experiment
	if ex.Name != "social-small" || ex.Load.Rate != "40" || ex.Load.Arrivals != "poisson" || ex.Phases.WarmUp.D() != 15*time.Second ||
		ex.Phases.Recovery.D() != 5*time.Second || ex.Windows.Quantile.D() != 10*time.Second || !ex.NoPlots || ex.Step.D() != time.Second {
		t.Errorf("experiment settings %+v", ex)
	}
	// An absent field has its nearest present parent's line.
	if cf.Line("fault-window.start") != 26 || cf.Line("load.rate") != 31 || cf.Line("phases.baseline") != 28 {
		t.Errorf("lines: fault-window.start %d, load.rate %d", cf.Line("fault-window.start"), cf.Line("load.rate"))
	}
	if (&CampaignFile{}).Line("name") != 0 {
		t.Error("a CampaignFile built in Go has lines")
	}
}

// TestCampaignTargets resolves every kind of target on the social system.
func TestCampaignTargets(t *testing.T) {
	all := func() []string {
		var out []string
		for _, s := range loadSystem(t, "social.yaml").Services {
			out = append(out, s.Name)
		}
		return out
	}()
	for _, tc := range []struct {
		targets string
		want    []string
		named   []string
	}{
		{"[all]", all, nil},
		{"[{type: mongodb}]", []string{"read-timeline-db", "user-info-db", "posts-storage-db", "write-timeline-db", "write-graph-db"}, nil},
		{"[{role: leaf}]", []string{"blocked-users", "read-timeline-db", "user-info-db", "posts-storage-db", "write-timeline-db", "write-graph-db"}, nil},
		{"[{role: storage}]", []string{"read-timeline-db", "user-info-db", "posts-storage-db", "write-timeline-db", "write-graph-db"}, nil},
		{"[{role: fan-in}]", []string{"login", "compose-post", "user-info", "posts-storage", "write-timeline", "posts-storage-db"}, nil},
		{"[{role: entry}]", []string{"follow-user", "recommender", "unique-id", "url-shorten", "video", "image", "text", "user-tag", "favorite", "search", "ads", "read-post"}, nil},
		{"[{type: base, role: leaf}]", []string{"blocked-users"}, nil},
		// A service chosen twice is one target, in the place it was first
		// chosen; naming it makes it named wherever it was chosen.
		{"[user-info, {role: fan-in}, login]", []string{"user-info", "login", "compose-post", "posts-storage", "write-timeline", "posts-storage-db"}, []string{"user-info", "login"}},
	} {
		t.Run(tc.targets, func(t *testing.T) {
			cf := parseCampaign(t, campaign(oneDelay, tc.targets, ""))
			var got, named []string
			for _, tg := range cf.Systems[0].Targets {
				got = append(got, tg.Service)
				if tg.Named {
					named = append(named, tg.Service)
				}
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(named, tc.named) {
				t.Errorf("targets %v named %v\nwant %v named %v", got, named, tc.want, tc.named)
			}
		})
	}
}

// TestCampaignStrengths: every parameter written as a list is an axis,
// and the variants are their product in file order, the last list
// turning fastest.
func TestCampaignStrengths(t *testing.T) {
	cf := parseCampaign(t, campaign(`  - name: delay
    behaviors:
      net-delay: {time: [100ms, 400ms], jitter: [10ms, 20ms, 30ms], distribution: normal}
  - name: abort
    behaviors: {http-abort: {percent: [50, 12.5%]}}
`, "[user-info]", ""))
	var got []string
	for _, v := range cf.Systems[0].Faults[0].Variants {
		d := v.Behaviors.NetDelay
		got = append(got, v.Strength+"="+d.Time.String()+"/"+d.Jitter.String()+"/"+d.Distribution)
	}
	want := []string{
		"100ms-10ms=100ms/10ms/normal", "100ms-20ms=100ms/20ms/normal", "100ms-30ms=100ms/30ms/normal",
		"400ms-10ms=400ms/10ms/normal", "400ms-20ms=400ms/20ms/normal", "400ms-30ms=400ms/30ms/normal",
	}
	if !slices.Equal(got, want) {
		t.Errorf("variants\n%v\nwant\n%v", got, want)
	}
	abort := cf.Systems[0].Faults[1].Variants
	if len(abort) != 2 || abort[0].Strength != "50" || abort[1].Strength != "12.5pct" || abort[1].Behaviors.HTTPAbort.Percent != 12.5 {
		t.Errorf("abort variants %+v", abort)
	}
}

// TestCampaignSkip: a variant that cannot act on a target a selector
// chose leaves that case out with the reason; one that no target can take
// is an error, as is one on a target named outright.
func TestCampaignSkip(t *testing.T) {
	cf := parseCampaign(t, campaign("  - name: delay\n    behaviors: {net-delay: {time: 100ms, on: [ingress, db]}}\n", "[{role: fan-in}]", ""))
	vs := cf.Systems[0].Faults[0].Variants
	if len(vs) != 2 || vs[0].Strength != "ingress" || len(vs[0].Skip) != 0 {
		t.Fatalf("variants %+v", vs)
	}
	var skipped []string
	for svc := range vs[1].Skip {
		skipped = append(skipped, svc)
	}
	slices.Sort(skipped)
	if want := []string{"compose-post", "login", "posts-storage", "user-info", "write-timeline"}; !slices.Equal(skipped, want) {
		t.Errorf("db variant skips %v, want %v", skipped, want)
	}
	if why := vs[1].Skip["login"]; why != `on: db needs a storage service (mongodb, mysql, redis); "login" is type base` {
		t.Errorf("reason %q", why)
	}

	_, err := ParseCampaign("c.yaml", []byte(campaign("  - name: delay\n    behaviors: {net-delay: {time: 100ms, on: db}}\n", "[{role: entry}]", "")))
	if want := `c.yaml:6: faults[0].behaviors: no target can take it: on: db needs a storage service (mongodb, mysql, redis); "follow-user" is type base`; err == nil || err.Error() != want {
		t.Errorf("no target:\n got %v\nwant %s", err, want)
	}
}

// TestCampaignErrors: every problem of a campaign at once, in line order,
// each with its field; a variant's problems once, not once per variant or
// target; the system file's problems right after the key that names it.
func TestCampaignErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"many", `kind: Campaign
name: Bad_Name
system: ` + fixtures + `/systems/social.yaml
faults:
  - name: delay
    mode: some
    behaviors:
      net-delay: {time: [100ms, 4x00ms], jitter: [1ms, 2ms]}
  - name: delay
    behaviors: {cpu-stress: {load: 0}}
  - name: abort
    behaviors: nope
  - name: list
    behaviors: [net-delay]
targets: [user-info, all, {role: leaf, typ: base}, [x], user-info]
repetitions: -1
step: -1s
fault-window: {start: -5s}
phases: {warm-up: -1s, baseline: 10s}
`, []string{
			`c.yaml:2: name: campaign name "Bad_Name" is not a valid name: use lower-case letters, digits and "-", starting and ending with a letter or digit (it becomes a Kubernetes DNS label)`,
			`c.yaml:6: faults[0].mode: unknown mode "some"; want all, one or a percentage such as "50%"`,
			`c.yaml:8: faults[0].behaviors.net-delay.time[1]: bad duration "4x00ms": unknown unit "x" (use ns, us, ms, s, m or min, h)`,
			`c.yaml:9: faults[1].name: duplicate fault name "delay" (first at faults[0], line 5)`,
			`c.yaml:10: faults[1].behaviors.cpu-stress.load: load is 0; want more than 0 and at most 100`,
			`c.yaml:12: faults[2].behaviors: want a mapping of behaviours such as {net-delay: {time: 100ms}}, got "nope"`,
			`c.yaml:14: faults[3].behaviors: want a mapping of behaviours such as {net-delay: {time: 100ms}}, got a list`,
			`c.yaml:15: targets[2].typ: unknown field (did you mean "type"?); known: type, role`,
			`c.yaml:15: targets[3]: want a service name, all, or a selector such as {role: leaf}, got a list`,
			`c.yaml:15: targets[4]: "user-info" is named twice (also targets[0], line 15)`,
			`c.yaml:16: repetitions: repetitions is -1; want at least 1`,
			`c.yaml:17: step: step is -1s; want more than 0`,
			`c.yaml:18: fault-window: missing duration`,
			`c.yaml:18: fault-window.start: start is -5s; want 0 or more (an offset from the moment load starts)`,
			`c.yaml:19: phases.baseline: unknown field; known: warm-up, recovery`,
			`c.yaml:19: phases.warm-up: phases.warm-up is negative`,
		}},
		{"referred system", "kind: Campaign\nname: c\nsystem: " + fixtures + "/invalid/system-unknown-callee.yaml\nfaults:\n" + oneDelay + "targets: [all]\nfault-window: {start: 30s, duration: 20s}\nrepetitions: 0\n", []string{
			"c.yaml:3: system: " + fixtures + "/invalid/system-unknown-callee.yaml has 1 problem(s), listed below",
			fixtures + `/invalid/system-unknown-callee.yaml:7: services[0].calls[0]: unknown service "user-inf0" (did you mean "user-info"?)`,
			"c.yaml:9: repetitions: repetitions is 0; want at least 1",
		}},
		{"inline system", `kind: Campaign
name: c
system:
  name: tiny
  services:
    - {name: a, type: base, calls: [b]}
    - {name: b, type: bass}
faults:
` + oneDelay + "targets: [a]\nfault-window: {start: 30s, duration: 20s}\n", []string{
			`c.yaml (inline system):7: services[1].type: unknown type "bass" (did you mean "base"?); want one of base, mongodb, mysql, redis`,
		}},
		{"missing system file", "kind: Campaign\nname: c\nsystem: nowhere.yaml\nfaults:\n" + oneDelay + "targets: [all]\nfault-window: {start: 30s, duration: 20s}\n", []string{
			"c.yaml:3: system: read system definition: open nowhere.yaml: no such file or directory",
		}},
		{"missing keys", "kind: Campaign\nname: c\n", []string{
			"c.yaml:1: missing system (or systems)", "c.yaml:1: missing faults", "c.yaml:1: missing targets", "c.yaml:1: missing fault-window",
		}},
		{"wrong kind", "kind: System\nname: s\nservices: [{name: a, type: base}]\n", []string{
			"c.yaml:1: kind: this is a system definition; a campaign (kind: Campaign) is wanted here",
		}},
		{"unknown kind", "kind: Campain\nname: c\n", []string{
			"c.yaml:1: missing system (or systems)", "c.yaml:1: missing faults", "c.yaml:1: missing targets", "c.yaml:1: missing fault-window",
			`c.yaml:1: kind: unknown kind "Campain" (did you mean "Campaign"?); want Campaign (or no kind)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCampaign("c.yaml", []byte(tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestCampaignKind: a campaign is read only with kind: Campaign; without
// it, its targets: key says what to add.
func TestCampaignKind(t *testing.T) {
	text := campaign(oneDelay, "[all]", "")
	if k, err := ReadKind("c.yaml", []byte(text)); k != KindCampaign || err != nil {
		t.Errorf("ReadKind = %v, %v", k, err)
	}
	kindless := strings.TrimPrefix(text, "kind: Campaign\n")
	k, err := ReadKind("c.yaml", []byte(kindless))
	if want := "c.yaml:6: targets: targets: is a campaign's key, and a campaign says what it is: add kind: Campaign"; k != KindUnknown || err == nil || err.Error() != want {
		t.Errorf("kindless: %v, %v; want %s", k, err, want)
	}
	if _, err := ParseCampaign("c.yaml", []byte(kindless)); err == nil || err.Error() != "c.yaml:1: kind: missing kind: Campaign (a campaign is never told by its keys)" {
		t.Errorf("ParseCampaign without kind: %v", err)
	}
	if KindCampaign.String() != "campaign" || KindCampaign.Name() != "Campaign" || KindCampaign.Describe() != "a campaign" {
		t.Error("KindCampaign's names")
	}
	// An experiment given a campaign is told what it got, with no advice
	// meant for a system or fault file.
	_, err = ParseExperiment("c.yaml", []byte(text))
	if want := "c.yaml:1: kind: this is a campaign; an experiment (kind: Experiment) is wanted here"; err == nil || err.Error() != want {
		t.Errorf("ParseExperiment: %v", err)
	}
}

// TestCheckFilesCampaign: CheckFiles reads a campaign on its own.
func TestCheckFilesCampaign(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(fixtures, "campaigns", "social-small.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(campaign(oneDelay, "[nobody]", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := CheckFiles([]string{good, bad})
	if res[0].Err != nil || res[0].Kind != KindCampaign || res[0].Campaign == nil || res[0].Campaign.Name != "social-small" {
		t.Errorf("good: %+v", res[0])
	}
	if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), `bad.yaml:7: targets[0]: target "nobody" is not a service of system "social"`) {
		t.Errorf("bad: %v", res[1].Err)
	}
}

// FuzzParseCampaign: no input may panic, the problems are an ErrorList,
// and whatever parses has valid variants on services of its system.
func FuzzParseCampaign(f *testing.F) {
	addFixtures(f, "../../fixtures/campaigns/*.yaml", "../../fixtures/invalid/campaign-*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Named beside the fixtures, so that their system paths resolve.
		cf, err := ParseCampaign(filepath.Join(fixtures, "campaigns", "fuzz.yaml"), data)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			return
		}
		if cf.Systems[0].System == nil || len(cf.Systems[0].Targets) == 0 || len(cf.Systems[0].Faults) == 0 || cf.Repetitions < 1 {
			t.Fatalf("parsed without a system, targets, faults or repetitions: %+v", cf)
		}
		for _, tg := range cf.Systems[0].Targets {
			if cf.Systems[0].System.Service(tg.Service) == nil {
				t.Fatalf("target %q is not a service", tg.Service)
			}
		}
		for _, ft := range cf.Systems[0].Faults {
			for _, v := range ft.Variants {
				for _, b := range v.Behaviors.List() {
					if ps := b.Validate(); len(ps) > 0 {
						t.Fatalf("%s %s: %v", ft.Name, v.Strength, ps)
					}
				}
			}
		}
	})
}

func TestCampaignTooManyStrengths(t *testing.T) {
	list := "[" + strings.Repeat("1ms, ", 99) + "1ms]"
	_, err := ParseCampaign("c.yaml", []byte(campaign("  - name: d\n    behaviors: {net-delay: {time: "+list+", jitter: "+list+"}}\n", "[all]", "")))
	if want := "c.yaml:6: faults[0].behaviors: the lists make more than 1000 strengths: a campaign that size is a mistake, or several campaigns"; err == nil || err.Error() != want {
		t.Errorf("%v", err)
	}
}

func TestCampaignStrengthNamesCollide(t *testing.T) {
	_, err := ParseCampaign("c.yaml", []byte(campaign("  - name: d\n    behaviors: {net-delay: {time: [1ms, 2ms, 1ms]}}\n", "[all]", "")))
	if want := `c.yaml:6: faults[0].behaviors: two strengths are both named "1ms" in case ids: a list repeats a value, or two values differ only in what a directory name cannot hold`; err == nil || err.Error() != want {
		t.Errorf("%v", err)
	}
}

// TestCampaignSystems: with systems:, the templates and targets apply to
// each system on its own; a name is a target where a service has it, and a
// problem only when no system has it.
func TestCampaignSystems(t *testing.T) {
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join(fixtures, "systems", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	social, chain := abs("social.yaml"), abs("chain.yaml")
	text := func(targets, faults string) string {
		return "kind: Campaign\nname: c\nsystems:\n  - " + social + "\n  - " + chain + "\nfaults:\n" + faults +
			"targets: " + targets + "\nfault-window: {start: 30s, duration: 20s}\n"
	}
	cf := parseCampaign(t, text("[user-info, mid, {role: leaf, type: base}]", oneDelay))
	if len(cf.Systems) != 2 || cf.Systems[0].Field != "systems[0]" || cf.Systems[1].Field != "systems[1]" {
		t.Fatalf("systems %+v", cf.Systems)
	}
	for i, want := range [][]CampaignTarget{
		{{"user-info", true}, {"blocked-users", false}},
		{{"mid", true}, {"leaf", false}},
	} {
		cs := cf.Systems[i]
		if !slices.Equal(cs.Targets, want) {
			t.Errorf("%s targets %+v, want %+v", cs.System.Name, cs.Targets, want)
		}
		if len(cs.Faults) != 1 || len(cs.Faults[0].Variants) != 1 {
			t.Errorf("%s templates %+v", cs.System.Name, cs.Faults)
		}
	}

	// on: db acts on social's stores only: chain's targets are skipped, and
	// that is no problem while social has one that takes it.
	cf = parseCampaign(t, text("[{role: leaf}]", "  - name: db\n    behaviors: {net-delay: {time: 100ms, on: db}}\n"))
	if s := cf.Systems[1].Faults[0].Variants[0].Skip; len(s) != 1 || s["leaf"] == "" {
		t.Errorf("chain skips %v", s)
	}
	if s := cf.Systems[0].Faults[0].Variants[0].Skip; len(s) != 1 || s["blocked-users"] == "" {
		t.Errorf("social skips %v", s)
	}

	for _, tc := range []struct{ name, text, want string }{
		{"named nowhere", text("[user-info, nobody]", oneDelay),
			`c.yaml:9: targets[1]: target "nobody" is not a service of any system (social, chain)`},
		{"selects nothing", text("[{type: mysql}]", oneDelay),
			`c.yaml:9: targets[0]: {type: mysql} selects no service of any system (social, chain)`},
		{"no target anywhere", text("[{role: entry}]", "  - name: db\n    behaviors: {net-delay: {time: 100ms, on: db}}\n"),
			`c.yaml:8: faults[0].behaviors: no target can take it: on: db needs a storage service (mongodb, mysql, redis); "follow-user" is type base`},
		{"twice", strings.Replace(text("[mid]", oneDelay), "  - "+chain, "  - "+chain+"\n  - "+chain, 1),
			`c.yaml:6: systems[2]: system "chain" again (also systems[1]): case ids and datasets are named after the system`},
		{"both", strings.Replace(text("[mid]", oneDelay), "systems:", "system: "+chain+"\nsystems:", 1),
			`c.yaml:5: systems: both system and systems: give one system, or a list of them`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCampaign("c.yaml", []byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Errorf("\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vecrosim/vecro/framework/campaign"
	"github.com/vecrosim/vecro/framework/runtime/kube"
)

// TestCampaignDryRun: the matrix, one case a line, and the estimate; no
// corpus is created.
func TestCampaignDryRun(t *testing.T) {
	arts := t.TempDir()
	f := fx + "/campaigns/social-small.yaml"
	out, errOut, err := runCLI(t, "campaign", "--dry-run", "--artifacts", arts, f)
	if err != nil || errOut != "" {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// A title, a header, 18 cases, the estimate.
	if len(lines) != 21 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, want := range map[int]string{
		0:  "campaign social-small (" + f + "): 18 cases on system social",
		1:  "case                       behavior    params                             target            seed",
		2:  `delay-posts-storage-db-r1  net-delay   {"time":"400ms","jitter":"150ms"}  posts-storage-db  4841204358091591939`,
		9:  `cpu-user-info-r1           cpu-stress  {"load":90,"workers":2}            user-info         7596530290022553024`,
		19: `cpu-blocked-users-r2       cpu-stress  {"load":90,"workers":2}            blocked-users     7138667441839879456`,
		// 18 cases of 70 s, and 8 s each to deploy, collect and write.
		20: "estimated time: 23m24s (timelines 21m0s, 8s per case to deploy, collect and write)",
	} {
		if lines[i] != want {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], want)
		}
	}
	if entries, _ := os.ReadDir(arts); len(entries) != 0 {
		t.Errorf("a dry run wrote %d entries in the artifacts directory", len(entries))
	}
}

// TestCampaignDryRunSkips: a case a selector's target cannot take is
// listed as skipped, with why.
func TestCampaignDryRunSkips(t *testing.T) {
	social, err := filepath.Abs(fx + "/systems/social.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "c.yaml")
	text := "kind: Campaign\nname: c\nsystem: " + social + `
faults:
  - name: db-delay
    behaviors: {net-delay: {time: [100ms, 200ms], on: db}}
targets: [{role: fan-in}]
fault-window: {start: 30s, duration: 20s}
`
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "campaign", "--dry-run", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		": 2 cases on system social\n",
		"db-delay-100ms-posts-storage-db-r1  net-delay  ",
		`skipped: db-delay 200ms on login: on: db needs a storage service (mongodb, mysql, redis); "login" is type base` + "\n",
		"estimated time: 2m36s (timelines 2m20s, 8s per case",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCampaignErrors(t *testing.T) {
	f := fx + "/campaigns/social-small.yaml"
	arts := t.TempDir()
	// Refused before anything starts: nothing is written.
	_, _, err := runCLI(t, "campaign", "--parallel", "2", "--artifacts", arts, f)
	if err == nil || !strings.Contains(err.Error(), "the local runtime runs cases one at a time") || !strings.Contains(err.Error(), "--force-parallel") {
		t.Errorf("--parallel 2: %v", err)
	}
	if _, _, err := runCLI(t, "campaign", "--runtime", "docker", "--artifacts", arts, f); err == nil || !strings.Contains(err.Error(), `--runtime "docker": want local or kube`) {
		t.Errorf("--runtime docker: %v", err)
	}
	if entries, _ := os.ReadDir(arts); len(entries) != 0 {
		t.Errorf("a refused run wrote %d entries", len(entries))
	}
	bad := fx + "/invalid/campaign-unknown-target.yaml"
	if _, _, err := runCLI(t, "campaign", "--dry-run", bad); err == nil || !strings.HasPrefix(err.Error(), bad+`:10: targets[1]: target "posts-storag"`) {
		t.Errorf("invalid campaign: %v", err)
	}
	if _, _, err := runCLI(t, "campaign"); err == nil {
		t.Error("no file accepted")
	}
}

func TestValidateCampaign(t *testing.T) {
	f := fx + "/campaigns/social-small.yaml"
	out, errOut, err := runCLI(t, "validate", f)
	if err != nil || out != "ok  "+f+"\n" || errOut != "" {
		t.Errorf("validate %s: %v %q %q", f, err, out, errOut)
	}
	// What only the expansion into experiments tells is checked too.
	short := filepath.Join(t.TempDir(), "short.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(fx + "/systems/social.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(strings.Replace(string(data), "../systems/social.yaml", abs, 1), "warm-up: 15s", "warm-up: 32s", 1)
	if err := os.WriteFile(short, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = runCLI(t, "validate", short)
	if exitCode(err) != 1 || !strings.HasPrefix(errOut, short+`:26: fault-window.start: fault "delay" starts at 35s: after a warm-up of 32s`) {
		t.Errorf("exit %d, stderr %q", exitCode(err), errOut)
	}
}

// On Kubernetes each slot's cases get a namespace of the slot's own and
// their own seed; one slot keeps the system's namespace.
func TestCampaignSlotOptions(t *testing.T) {
	plan, err := campaign.LoadFile(fx + "/campaigns/chain-parallel.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := plan.Cases[1].Experiment
	base := kube.Options{Namespace: "", Seed: 1}
	o := slotOptions(base, e, 1, 2)
	if o.Namespace != "chain-1" || o.Seed != *e.Seed {
		t.Errorf("slot 1 of 2: namespace %q, seed %d; want chain-1 and the case's %d", o.Namespace, o.Seed, *e.Seed)
	}
	if o := slotOptions(kube.Options{Namespace: "exp"}, e, 0, 3); o.Namespace != "exp-0" {
		t.Errorf("--namespace exp, slot 0: %q", o.Namespace)
	}
	if o := slotOptions(base, e, 0, 1); o.Namespace != "" {
		t.Errorf("one slot: namespace %q, want the system's own", o.Namespace)
	}
}

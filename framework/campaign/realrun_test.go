package campaign_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/campaign"
	"github.com/vecrosim/vecro/framework/dataset"
	"github.com/vecrosim/vecro/framework/service/build"
	"github.com/vecrosim/vecro/internal/testutil"
)

// tinyCampaign is one delay on each of the two services of a chain, with
// 20 s timelines: a 5 s warm-up, the five 1 s steps of baseline an
// experiment demands, the fault for 5 s and 5 s of recovery.
const tinyCampaign = `kind: Campaign
name: tiny
system:
  name: tiny
  namespace: tiny
  services:
    - {name: front, type: base, workload: {cpu: 1, net: 256}, calls: [back]}
    - {name: back, type: base, workload: {cpu: 1, net: 256}}
faults:
  - name: delay
    behaviors: {net-delay: {time: 100ms, jitter: 10ms}}
targets: [front, back]
seed: 3
fault-window: {start: 10s, duration: 5s}
step: 1s
phases: {warm-up: 5s, recovery: 5s}
load: {rate: "20", arrivals: poisson}
windows: {rate: 5s, quantile: 5s, resource: 5s}
families: [latency_p95, error_rate]
no-plots: true
`

// TestRealCampaign runs a two-case campaign on the embedded runtime, runs
// it again to see both cases skipped, and interrupts a third run into a
// new corpus midway through its first case to see cases.csv left
// consistent: that case partial, the other planned.
func TestRealCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("two real experiments of 20 s and one interrupted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := build.Service(ctx, "", build.Target{}, nil); err != nil {
		testutil.SkipOrFail(t, "the service binary (images/service) does not build: %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(file, []byte(tinyCampaign), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := campaign.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Cases) != 2 || plan.Cases[0].Duration != 20*time.Second {
		t.Fatalf("plan: %d cases, the first %v long", len(plan.Cases), plan.Cases[0].Duration)
	}

	arts := filepath.Join(dir, "artifacts")
	var progress testutil.SyncBuffer
	began := time.Now()
	sum, err := campaign.Run(ctx, plan, arts, campaign.Options{Progress: &progress, Logger: testutil.Logger(t, slog.LevelWarn)})
	took := time.Since(began)
	t.Logf("first run: %v (estimate %v)\n%s", took.Round(100*time.Millisecond), plan.Estimate(), progress.String())
	if err != nil || sum.Complete != 2 {
		t.Fatalf("first run: %v, %+v", err, sum)
	}
	corpus := filepath.Join(arts, "tiny")
	rows, err := campaign.ReadCases(filepath.Join(corpus, dataset.CasesFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.Case != plan.Cases[i].ID || r.Status != dataset.CaseComplete || r.Seed != plan.Cases[i].Seed {
			t.Errorf("row %+v", r)
			continue
		}
		// The windows are what the agents measured: labels.csv's.
		labels, err := dataset.Labels(filepath.Join(corpus, r.Dataset))
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != 1 || labels[0]["status"] != "applied" || r.AppliedStart == "" || r.AppliedStart != labels[0]["applied_start"] ||
			r.AppliedEnd != labels[0]["applied_end"] || r.PlannedStart != labels[0]["planned_start"] || labels[0]["target"] != plan.Cases[i].Target {
			t.Errorf("row %+v\nlabels %v", r, labels)
		}
	}

	// Again: both cases are complete, so nothing deploys.
	began = time.Now()
	sum, err = campaign.Run(ctx, plan, arts, campaign.Options{})
	if err != nil || sum.Kept != 2 || sum.Complete+sum.Failed+sum.Partial != 0 {
		t.Fatalf("second run: %v, %+v", err, sum)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the second run took %v: it ran something", d)
	}
	again, err := campaign.ReadCases(filepath.Join(corpus, dataset.CasesFile))
	if err != nil || len(again) != 2 || again[0] != rows[0] || again[1] != rows[1] {
		t.Errorf("cases.csv changed: %v\n%+v", err, again)
	}

	// A new corpus, stopped 12 s in: deploy and warm-up are over, the
	// first case's fault is not.
	arts3 := filepath.Join(dir, "artifacts-3")
	ctx3, stop := context.WithCancel(ctx)
	defer stop()
	timer := time.AfterFunc(12*time.Second, stop)
	defer timer.Stop()
	sum, err = campaign.Run(ctx3, plan, arts3, campaign.Options{})
	if err == nil || !strings.Contains(err.Error(), "run the campaign again to resume") {
		t.Fatalf("interrupted run: %v, %+v", err, sum)
	}
	corpus3 := filepath.Join(arts3, "tiny")
	rows3, err := campaign.ReadCases(filepath.Join(corpus3, dataset.CasesFile))
	if err != nil {
		t.Fatalf("cases.csv after the interruption: %v", err)
	}
	if len(rows3) != 2 || rows3[0].Status != dataset.CasePartial || rows3[0].Dataset != "" || rows3[1].Status != dataset.CasePlanned {
		t.Errorf("after the interruption: %+v", rows3)
	}
	if sum.Partial != 1 || sum.Complete != 0 {
		t.Errorf("summary %+v", sum)
	}
	entries, err := os.ReadDir(corpus3)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("a temporary index is left: %s", e.Name())
		}
	}
}

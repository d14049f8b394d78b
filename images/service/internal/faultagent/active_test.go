package faultagent_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

func TestActiveNamesTheFaultsThatAreOn(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	if got := r.agent.Active(); got != nil {
		t.Fatalf("Active before any fault = %v, want nil", got)
	}
	now := time.Now()
	a := fault(t, "b-abort.http-abort", "http-abort", behavior.HTTPAbort{Percent: 1}, now, now.Add(time.Hour))
	b := fault(t, "a-cpu.cpu-stress", "cpu-stress", behavior.CPUStress{Load: 1, Workers: 1}, now, now.Add(time.Hour))
	r.put(t, a)
	r.put(t, b)
	r.waitPhase(t, a.ID, agent.PhaseActive, pollLimit)
	r.waitPhase(t, b.ID, agent.PhaseActive, pollLimit)
	if got, want := r.agent.Active(), []string{"a-cpu", "b-abort"}; !slices.Equal(got, want) {
		t.Errorf("Active with both on = %v, want %v (sorted fault names)", got, want)
	}
	if _, err := r.client.Delete(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := r.agent.Active(), []string{"b-abort"}; !slices.Equal(got, want) {
		t.Errorf("Active after deleting a-cpu = %v, want %v", got, want)
	}
	if _, err := r.client.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := r.agent.Active(); got != nil {
		t.Errorf("Active after clear = %v, want nil", got)
	}
}

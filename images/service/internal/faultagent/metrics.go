package faultagent

import (
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vecrosim/vecro/framework/agent"
)

// collector exports the agent's faults at scrape time from the same records
// that GET /faults serves, so the two can never disagree.
type collector struct {
	a            *Agent
	active       *prometheus.Desc
	effect       *prometheus.Desc
	appliedStart *prometheus.Desc
	appliedEnd   *prometheus.Desc
}

func newCollector(a *Agent, constLabels prometheus.Labels) *collector {
	labels := []string{"id", "fault", "behavior"}
	return &collector{
		a: a,
		active: prometheus.NewDesc("vecro_fault_active",
			"1 while the fault's behaviour is switched on in this instance, else 0.", labels, constLabels),
		effect: prometheus.NewDesc("vecro_fault_effect",
			"What the fault's behaviour measurably did so far (see GET /faults effect names).",
			append(slices.Clone(labels), "effect"), constLabels),
		appliedStart: prometheus.NewDesc("vecro_fault_applied_start_timestamp_seconds",
			"When the agent really switched the behaviour on (Unix seconds).", labels, constLabels),
		appliedEnd: prometheus.NewDesc("vecro_fault_applied_end_timestamp_seconds",
			"When the agent really switched the behaviour off (Unix seconds).", labels, constLabels),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.active
	ch <- c.effect
	ch <- c.appliedStart
	ch <- c.appliedEnd
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.a.list() {
		lv := []string{st.ID, faultName(st.Fault), st.Behavior}
		active := 0.0
		if st.Phase == agent.PhaseActive {
			active = 1
		}
		ch <- constMetric(c.active, active, lv...)
		for _, name := range slices.Sorted(maps.Keys(st.Effect)) {
			ch <- constMetric(c.effect, st.Effect[name], append(slices.Clone(lv), name)...)
		}
		if st.AppliedStart != nil {
			ch <- constMetric(c.appliedStart, unixSeconds(*st.AppliedStart), lv...)
		}
		if st.AppliedEnd != nil {
			ch <- constMetric(c.appliedEnd, unixSeconds(*st.AppliedEnd), lv...)
		}
	}
}

// faultName is the fault's name in its definition, or its id if the harness
// sent none.
func faultName(f agent.Fault) string {
	if f.Fault != "" {
		return f.Fault
	}
	return f.ID
}

// constMetric is a gauge sample; a bad label value becomes an invalid metric
// (a scrape error) rather than a panic.
func constMetric(desc *prometheus.Desc, v float64, labelValues ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labelValues...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

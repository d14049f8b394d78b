package runtime

import (
	"context"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/logs"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/traces"
)

// Runtime runs a System somewhere: on this machine (local) or on Kubernetes
// (kube). Differences between runtimes are data in the Deployment, not extra
// methods.
type Runtime interface {
	// Name is "local" or "kube".
	Name() string
	// Start deploys sys and returns once every instance is ready.
	Start(ctx context.Context, sys *spec.System) (*Deployment, error)
	// Stop removes everything Start created. It is safe to call twice and
	// after a failed Start.
	Stop(ctx context.Context) error
}

// Deployment is what a Runtime hands over: where everything is reachable.
// It is saved as a state file by `vecro deploy` for the other subcommands.
type Deployment struct {
	Runtime   string    `json:"runtime"`
	System    string    `json:"system"`
	Namespace string    `json:"namespace,omitempty"`
	Services  []Service `json:"services"`
	// PrometheusURL serves the Prometheus HTTP API for this deployment's
	// metrics (the embedded engine's API locally, Prometheus on Kubernetes),
	// so that another process can read them.
	PrometheusURL string `json:"prometheus_url,omitempty"`
	// Monitoring names what collects the metrics (the local runtime's
	// "embedded" scraper; "kube-prometheus" or "standalone" on Kubernetes),
	// recorded in the dataset: scrape intervals differ between them.
	Monitoring string `json:"monitoring,omitempty"`
	// Isolation says how the instances' resources are kept apart, recorded
	// in the dataset: a fault on one service leaks into unrelated ones where
	// they are not. It starts with "none" where nothing isolates them (the
	// local runtime without cgroup write access).
	Isolation string    `json:"isolation,omitempty"`
	Created   time.Time `json:"created"`
	// PID is the process that owns the deployment (vecro deploy), so that a
	// stale state file can be told from a live one.
	PID int `json:"pid,omitempty"`

	// OTLPEndpoint is the OTLP/HTTP base URL the services export their
	// spans to, for a load generator's root spans to join them; empty when
	// nothing collects spans.
	OTLPEndpoint string `json:"otlp_endpoint,omitempty"`

	// Metrics reads this deployment's metrics; it lives until the dataset is
	// written (Close). Not saved.
	Metrics metrics.Source `json:"-"`
	// JaegerURL is the query service (API and UI) of a Jaeger that gets
	// the spans too, when the runtime runs one; empty otherwise.
	JaegerURL string `json:"jaeger_url,omitempty"`
	// Traces reads the spans the services and the load generator exported;
	// nil when nothing collects them. It is readable until the runtime
	// stops. Not saved.
	Traces traces.Source `json:"-"`
	// Logs reads the instances' request logs; readable until the runtime
	// stops. Not saved.
	Logs logs.Source `json:"-"`

	// Failures receives one error for every part of the deployment that
	// stopped on its own while it should be running (a service process that
	// exited, a pod that restarted), naming the instance, how it ended and
	// the last lines of its log. A run should fail on the first one. The
	// channel is never closed, and is nil for a Deployment read from a state
	// file or from a runtime that does not watch its parts. Not saved.
	Failures <-chan error `json:"-"`
}

// Service is one service of a deployment.
type Service struct {
	Name string           `json:"name"`
	Type spec.ServiceType `json:"type"`
	// URL is where a caller (the load generator) reaches the service.
	URL       string     `json:"url"`
	Instances []Instance `json:"instances"`
}

// Instance is one replica: its name and its fault agent.
type Instance struct {
	Name  string         `json:"name"`
	Agent agent.Endpoint `json:"agent"`
}

// Service returns the service called name, or false.
func (d *Deployment) Service(name string) (Service, bool) {
	for _, s := range d.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Agents returns the fault agent of every instance of every service, in
// service order then replica order.
func (d *Deployment) Agents() []agent.Endpoint {
	var out []agent.Endpoint
	for _, s := range d.Services {
		for _, in := range s.Instances {
			out = append(out, in.Agent)
		}
	}
	return out
}

// AgentsOf returns the fault agents of the named service's instances, or
// false when the deployment has no such service.
func (d *Deployment) AgentsOf(service string) ([]agent.Endpoint, bool) {
	s, ok := d.Service(service)
	if !ok {
		return nil, false
	}
	out := make([]agent.Endpoint, 0, len(s.Instances))
	for _, in := range s.Instances {
		out = append(out, in.Agent)
	}
	return out, true
}

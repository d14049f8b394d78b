package runtime

import (
	"context"
	"time"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/metrics"
	"github.com/vecrosim/vecro/framework/spec"
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
	PrometheusURL string    `json:"prometheus_url,omitempty"`
	Created       time.Time `json:"created"`
	// PID is the process that owns the deployment (vecro deploy), so that a
	// stale state file can be told from a live one.
	PID int `json:"pid,omitempty"`

	// Metrics reads this deployment's metrics; it lives until the dataset is
	// written (Close). Not saved.
	Metrics metrics.Source `json:"-"`
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

package metrics

import (
	"context"
	"time"
)

// Source answers PromQL over a deployment's metrics: the embedded engine
// locally, a Prometheus server's HTTP API on Kubernetes.
type Source interface {
	// Query evaluates an instant query at t.
	Query(ctx context.Context, query string, t time.Time) ([]Series, error)
	// QueryRange evaluates query at every step of r.
	QueryRange(ctx context.Context, query string, r Range) ([]Series, error)
	// Close releases the source; queries fail after it.
	Close() error
}

// Range is a query range: both ends included, as in the Prometheus API.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// Series is one labelled series of a query result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

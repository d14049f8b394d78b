// Package metrics reads a deployment's metrics through PromQL. It is the
// only package that imports github.com/prometheus/prometheus (the TSDB and
// the PromQL engine of the embedded Source); everything else sees the Source
// interface and this package's types.
package metrics

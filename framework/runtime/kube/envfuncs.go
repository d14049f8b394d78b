package kube

import (
	"context"
	"errors"

	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/spec"
)

// EnvFunc is e2e-framework's env-func shape (types.EnvFunc, env.Func):
// values of it go straight into env.Setup and env.Finish.
type EnvFunc = func(context.Context, *envconf.Config) (context.Context, error)

// Env drives a Cluster and a Runtime on it step by step in e2e-framework's
// env-func shape, func(ctx, *envconf.Config) (context.Context, error), so
// that a plain TestMain (env.Setup/Finish) and a Ginkgo suite (BeforeSuite,
// DeferCleanup) provision a cluster the same way. Its state is typed
// fields, not context values. The cluster's steps (CreateCluster,
// DeleteCluster) and the system's (InstallMonitoring, Deploy,
// DeleteSystem) are separate, as a suite that deploys several systems on
// one cluster needs; Teardown is both.
type Env struct {
	Cluster *Cluster
	Runtime *Runtime
	// Deployment is set by Deploy.
	Deployment *runtime.Deployment
}

// NewEnv returns an Env over opts.Cluster (kubectl's current cluster when
// nil) and a new Runtime on it.
func NewEnv(opts Options) *Env {
	rt := New(opts)
	return &Env{Cluster: rt.opts.Cluster, Runtime: rt}
}

// CreateCluster provisions the cluster (kind) or opens it (kubeconfig,
// REST config) and hands its client to cfg.
func (e *Env) CreateCluster() EnvFunc {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		rc, err := e.Runtime.Connect(ctx)
		if err != nil {
			return ctx, err
		}
		c, err := klient.New(rc)
		if err != nil {
			return ctx, err
		}
		if cfg != nil {
			cfg.WithClient(c)
		}
		return ctx, nil
	}
}

// InstallMonitoring installs kube-prometheus unless it is there (see
// Options.Monitoring) and waits for Prometheus.
func (e *Env) InstallMonitoring() EnvFunc {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		return ctx, e.Runtime.InstallMonitoring(ctx)
	}
}

// Deploy applies sys, waits for its rollout and opens the port-forwards;
// the result is in e.Deployment.
func (e *Env) Deploy(sys *spec.System) EnvFunc {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		if sys == nil {
			return ctx, errors.New("deploy: no system")
		}
		d, err := e.Runtime.Deploy(ctx, sys)
		if err != nil {
			return ctx, err
		}
		e.Deployment = d
		return ctx, nil
	}
}

// DeleteSystem clears faults, deletes the system and waits for it
// (Runtime.Stop), and leaves the cluster. Safe to run twice.
func (e *Env) DeleteSystem() EnvFunc {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		if d := e.Deployment; d != nil && d.Metrics != nil {
			d.Metrics.Close()
		}
		e.Deployment = nil
		return ctx, e.Runtime.Stop(ctx)
	}
}

// DeleteCluster deletes a kind cluster this Env created, unless Kind.Keep
// (Cluster.Delete). Safe to run twice.
func (e *Env) DeleteCluster() EnvFunc {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		return ctx, e.Cluster.Delete(ctx)
	}
}

// Teardown is DeleteSystem, then DeleteCluster even when that failed. Safe
// to run twice, and after the system was deleted otherwise (Runtime.Stop).
func (e *Env) Teardown() EnvFunc {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		_, serr := e.DeleteSystem()(ctx, cfg)
		_, cerr := e.DeleteCluster()(ctx, cfg)
		return ctx, errors.Join(serr, cerr)
	}
}

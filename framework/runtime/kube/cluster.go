package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
	"github.com/vecrosim/vecro/framework/runtime/kube/internal/kindcluster"
)

// Cluster is the Kubernetes cluster systems run on, with a lifecycle of its
// own: a kind cluster it creates (or finds), the cluster a kubeconfig
// names, or a REST config at hand, in that order of precedence when more
// than one is set. A Runtime deploys into it and its Stop removes only the
// system; the cluster goes with Delete, called by whoever made the Cluster
// (the CLI, a suite's teardown), once no system needs it. The zero value
// is kubectl's current cluster.
type Cluster struct {
	// RESTConfig is a cluster at hand (an envtest control plane).
	RESTConfig *rest.Config
	// Kind provisions (or reuses) a kind cluster.
	Kind *Kind
	// Kubeconfig and Context name an existing cluster; empty means
	// kubectl's defaults ($KUBECONFIG, ~/.kube/config, its current context).
	Kubeconfig, Context string
	// Logger receives kind's progress; default: none.
	Logger *slog.Logger

	mu   sync.Mutex
	cfg  *rest.Config
	kind *kindcluster.Cluster
	// gen counts the deletions, so that a Runtime connected to a deleted
	// cluster knows to provision it again.
	gen int
}

// Provision creates the kind cluster unless it exists, or opens the
// kubeconfig's, and returns its REST config. It is idempotent: a Runtime
// calls it on Start, so a cluster need not be provisioned beforehand.
func (c *Cluster) Provision(ctx context.Context) (*rest.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil {
		return rest.CopyConfig(c.cfg), nil
	}
	log := c.Logger
	if log == nil {
		log = discardLogger
	}
	switch {
	case c.RESTConfig != nil:
		c.cfg = rest.CopyConfig(c.RESTConfig)
	case c.Kind != nil:
		kc, err := kindcluster.Provision(ctx, *c.Kind, log)
		if err != nil {
			return nil, err
		}
		c.kind, c.cfg = kc, kc.REST
	default:
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if c.Kubeconfig != "" {
			rules.ExplicitPath = c.Kubeconfig
		}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context})
		cfg, err := cc.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s (context %q): %w", describeKubeconfig(c.Kubeconfig), c.Context, err)
		}
		c.cfg = cfg
	}
	return rest.CopyConfig(c.cfg), nil
}

// Delete deletes the kind cluster that Provision created, unless
// Kind.Keep; a cluster that existed before, or one a kubeconfig or REST
// config names, is left alone. Safe to call twice and before Provision.
// ctx is unused: kind's API takes none, and a cluster must go even when the
// run that made it was interrupted.
func (c *Cluster) Delete(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kc := c.kind
	if kc == nil || !kc.Created || c.Kind.Keep {
		return nil
	}
	if err := kc.Delete(); err != nil {
		return err
	}
	c.kind, c.cfg = nil, nil
	c.gen++
	return nil
}

// generation is the number of times the cluster was deleted.
func (c *Cluster) generation() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// loader is the cluster's own way to take built images: a kind cluster's
// nodes; nil for any other cluster.
func (c *Cluster) loader() images.Loader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kind == nil {
		return nil
	}
	return c.kind
}

func describeKubeconfig(p string) string {
	if p == "" {
		return "(default: $KUBECONFIG or ~/.kube/config)"
	}
	return p
}

// Kind is a kind cluster (Kubernetes in Docker containers) for a Cluster to
// provision through kind's Go API.
type Kind = kindcluster.Config

// DefaultKindName is the cluster name of `make kind-up` and --kind.
const DefaultKindName = kindcluster.DefaultName

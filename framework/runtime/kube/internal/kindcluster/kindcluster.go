package kindcluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/images"
)

// Config is a kind cluster (Kubernetes in Docker containers) to provision
// through kind's Go API.
type Config struct {
	// Name of the cluster; default "vecro" (kubectl context kind-vecro).
	Name string
	// Config is the kind config file; default kind-config.yaml (one
	// control plane, two workers).
	Config string
	// NodeImage overrides the config's node image.
	NodeImage string
	// Keep leaves a cluster this runtime created running at Stop. A cluster
	// that existed before is never deleted.
	Keep bool
	// Wait bounds the wait for the control plane; default 3 minutes.
	Wait time.Duration
}

// DefaultName is the cluster name of `make kind-up` and --kind.
const DefaultName = "vecro"

// Cluster is a provisioned (or found) kind cluster.
type Cluster struct {
	provider *cluster.Provider
	// Name is the cluster's name (kubectl context kind-<name>).
	Name string
	// Created tells a cluster Provision made from one it found.
	Created bool
	// REST reaches the cluster's API server.
	REST *rest.Config
}

// Provision creates the cluster, or uses it when it already exists.
func Provision(ctx context.Context, k Config, logger *slog.Logger) (*Cluster, error) {
	name := k.Name
	if name == "" {
		name = DefaultName
	}
	opt, err := cluster.DetectNodeProvider()
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: no container runtime found (kind needs Docker, Podman or nerdctl): %w", name, err)
	}
	p := cluster.NewProvider(opt, cluster.ProviderWithLogger(kindLogger{logger}))
	c := &Cluster{provider: p, Name: name}
	names, err := p.List()
	if err != nil {
		return nil, kindError("list kind clusters", err)
	}
	if slices.Contains(names, name) {
		logger.Info("using existing kind cluster", "name", name)
	} else {
		cfgPath := k.Config
		if cfgPath == "" {
			cfgPath = "kind-config.yaml"
		}
		if _, err := os.Stat(cfgPath); err != nil {
			return nil, fmt.Errorf("kind cluster %s: config: %w", name, err)
		}
		wait := k.Wait
		if wait <= 0 {
			wait = 3 * time.Minute
		}
		opts := []cluster.CreateOption{
			cluster.CreateWithConfigFile(cfgPath),
			cluster.CreateWithWaitForReady(wait),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		}
		if k.NodeImage != "" {
			opts = append(opts, cluster.CreateWithNodeImage(k.NodeImage))
		}
		logger.Info("creating kind cluster", "name", name, "config", cfgPath)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// kind's API takes no context; creation is bounded by wait.
		if err := p.Create(name, opts...); err != nil {
			return nil, kindError("create kind cluster "+name+" from "+cfgPath, err)
		}
		c.Created = true
	}
	kc, err := p.KubeConfig(name, false)
	if err != nil {
		return nil, kindError("kubeconfig of kind cluster "+name, err)
	}
	c.REST, err = clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	return c, nil
}

// Load implements images.Loader: img goes to every node's containerd, as
// `kind load image-archive` does, and pods name it by ref.
func (c *Cluster) Load(_ context.Context, ref string, img v1.Image) (string, error) {
	return ref, images.ViaArchive(ref, img, c.loadImageArchive)
}

// loadImageArchive imports an image archive (docker save format) into every
// node's containerd.
func (c *Cluster) loadImageArchive(path string) error {
	nodes, err := c.provider.ListInternalNodes(c.Name)
	if err != nil {
		return kindError("list nodes of kind cluster "+c.Name, err)
	}
	for _, n := range nodes {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("load image into kind node %s: %w", n.String(), err)
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return kindError("load image "+path+" into kind node "+n.String(), err)
		}
	}
	return nil
}

// Delete deletes the cluster, whoever made it.
func (c *Cluster) Delete() error {
	if err := c.provider.Delete(c.Name, ""); err != nil {
		return kindError("delete kind cluster "+c.Name, err)
	}
	return nil
}

// kindError keeps the command and output of a failed docker/podman call,
// which kind hides behind "exit status 1".
func kindError(op string, err error) error {
	if re := kindexec.RunErrorForError(err); re != nil {
		// kind's message names the command; the output says why.
		return fmt.Errorf("%s: %w: %s", op, err, strings.TrimSpace(string(re.Output)))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// kindLogger sends kind's messages to slog.
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) Warn(m string)                        { k.l.Warn(m, "component", "kind") }
func (k kindLogger) Warnf(f string, a ...any)             { k.l.Warn(fmt.Sprintf(f, a...), "component", "kind") }
func (k kindLogger) Error(m string)                       { k.l.Error(m, "component", "kind") }
func (k kindLogger) Errorf(f string, a ...any)            { k.l.Error(fmt.Sprintf(f, a...), "component", "kind") }
func (k kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{l: k.l, debug: v > 0} }

type kindInfo struct {
	l     *slog.Logger
	debug bool
}

func (k kindInfo) Info(m string) {
	if k.debug {
		k.l.Debug(m, "component", "kind")
	} else {
		k.l.Info(m, "component", "kind")
	}
}
func (k kindInfo) Infof(f string, a ...any) { k.Info(fmt.Sprintf(f, a...)) }
func (k kindInfo) Enabled() bool {
	lvl := slog.LevelInfo
	if k.debug {
		lvl = slog.LevelDebug
	}
	return k.l.Enabled(context.Background(), lvl)
}

package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vecrosim/vecro/framework/analysis"
	"github.com/vecrosim/vecro/framework/runtime"
	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/internal/testutil"
)

// The runtime every experiment of the suite runs on, from VECRO_RUNTIME:
//
//	local (default)  the embedded runtime: processes on this machine
//	kube             a cluster, with the vecro CLI's kube flags in
//	                 VECRO_KUBE_FLAGS (e.g. "--kubeconfig K
//	                 --containerd-socket S --cpu-request 20m")
//	kind             a kind cluster from ../kind-config.yaml (Docker and
//	                 the internet), made unless it exists, deleted at the
//	                 end if the suite made it (VECRO_KEEP_CLUSTER=1 keeps it)
//
// The specs are the same on every runtime; a spec whose numbers belong to
// one runtime (a signature golden) says so where it reads them.
var (
	runtimeName = "local"
	// suiteRuntime is nil for the embedded runtime: each experiment then
	// makes its own, as experiment.Run does by default.
	suiteRuntime runtime.Runtime
	// suiteCluster is the kube runtime's cluster, deleted after the suite
	// (a no-op unless the suite provisioned a kind cluster).
	suiteCluster *kube.Cluster
)

// seed of every scenario's experiment, and of the kube runtime's instances.
const seed = int64(20261125)

var _ = BeforeSuite(func(ctx SpecContext) {
	name := os.Getenv("VECRO_RUNTIME")
	switch name {
	case "", "local":
		return
	case "kube", "kind":
	default:
		Fail(fmt.Sprintf("VECRO_RUNTIME=%q: want local (the default), kube (with VECRO_KUBE_FLAGS) or kind", name))
	}
	runtimeName = kube.Name
	flags, err := kube.ParseFlags(os.Getenv("VECRO_KUBE_FLAGS"))
	Expect(err).NotTo(HaveOccurred(), "VECRO_KUBE_FLAGS")
	if name == "kind" {
		flags.Kind, flags.KindConfig = true, "../kind-config.yaml"
		flags.KeepCluster = os.Getenv("VECRO_KEEP_CLUSTER") == "1"
		if n := os.Getenv("VECRO_KIND_CLUSTER"); n != "" {
			flags.KindName = n
		}
	}
	logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	opts, err := flags.Options(seed, logger)
	Expect(err).NotTo(HaveOccurred(), "VECRO_KUBE_FLAGS")
	opts.ModuleDir = ".."
	rt := kube.New(opts)
	suiteRuntime, suiteCluster = rt, opts.Cluster
	// The cluster and its monitoring once, before the first experiment:
	// a cluster that cannot be reached fails here, loudly, not in every
	// spec.
	_, err = rt.Connect(ctx)
	Expect(err).NotTo(HaveOccurred(), "the cluster of VECRO_RUNTIME=%s", name)
	Expect(rt.InstallMonitoring(ctx)).To(Succeed())
}, NodeTimeout(25*time.Minute))

var _ = AfterSuite(func(ctx SpecContext) {
	if suiteRuntime != nil {
		Expect(suiteRuntime.Stop(ctx)).To(Succeed())
	}
	if suiteCluster != nil {
		Expect(suiteCluster.Delete(context.WithoutCancel(ctx))).To(Succeed())
	}
}, NodeTimeout(10*time.Minute))

// golden is the path of a signature golden for the suite's runtime: the
// embedded runtime's in fixtures/signatures/, another runtime's beneath it
// in a directory of its name, or, for any runtime, $VECRO_SIGNATURES_DIR's
// (absolute, or relative to scenarios/, where go test runs the suite). A
// signature is the system's response on one runtime and machine
// (Kubernetes adds its network and its scheduler), so another runtime's
// run is never held to the embedded golden, and a cluster's to no other
// cluster's: the offline node's are in fixtures/signatures/kubenode/,
// which its e2e names in VECRO_SIGNATURES_DIR. Where a runtime has no
// golden the spec skips, naming how to learn one, and fails under CI=true
// (the embedded runtime and the node that `make test` runs have theirs).
func golden(name string) string {
	GinkgoHelper()
	dir := os.Getenv(signaturesDirEnv)
	switch {
	case dir != "":
		// A directory of the user's own, for whatever runtime.
	case runtimeName == "local":
		return signatures + name
	default:
		dir = signatures + runtimeName
	}
	p := filepath.Join(dir, name)
	if n, _ := analysis.UpdateRuns(); n == 0 {
		if _, err := os.Stat(p); err != nil {
			testutil.SkipOrFail(GinkgoT(), "no %s golden for the %s runtime: learn one with %s=N VECRO_RUNTIME=%s (and %s=DIR for a cluster of your own)",
				p, runtimeName, analysis.UpdateEnv, os.Getenv("VECRO_RUNTIME"), signaturesDirEnv)
		}
	}
	return p
}

// signaturesDirEnv names a directory of golden signatures that takes the
// place of fixtures/signatures/ (and its runtime's subdirectory).
const signaturesDirEnv = "VECRO_SIGNATURES_DIR"

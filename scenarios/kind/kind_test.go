package kind

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/vecrosim/vecro/framework/runtime/kube"
	"github.com/vecrosim/vecro/framework/spec"
)

// TestKind runs only where VECRO_RUNTIME=kind asks for it (make test-kind):
// it needs a Docker daemon and the internet to make a kind cluster, so a
// bare `go test ./scenarios/...` skips it with one line instead of failing.
// Asked for, it fails loudly when no cluster can be made.
func TestKind(t *testing.T) {
	if os.Getenv("VECRO_RUNTIME") != "kind" {
		t.Skip("the kind suite needs Docker and the internet: VECRO_RUNTIME=kind (make test-kind) runs it")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "kind")
}

// socialSystem is deployed by the cluster's specs; the scenarios themselves
// run on kind through the scenario suite (VECRO_RUNTIME=kind go test
// ./scenarios, see make test-kind), the same specs as on the embedded
// runtime.
const socialSystem = "../../fixtures/systems/social.yaml"

// clusterOptions: the cluster of `make kind-up` (VECRO_KIND_CLUSTER, default
// "vecro"), created if missing and deleted at the end only if this suite
// created it, unless VECRO_KEEP_CLUSTER=1.
func clusterOptions() kube.Options {
	name := os.Getenv("VECRO_KIND_CLUSTER")
	if name == "" {
		name = kube.DefaultKindName
	}
	logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	return kube.Options{
		Cluster: &kube.Cluster{
			Kind:   &kube.Kind{Name: name, Config: "../../kind-config.yaml", Keep: os.Getenv("VECRO_KEEP_CLUSTER") == "1"},
			Logger: logger,
		},
		ModuleDir: "../..",
		// Pulling mongo:4.2 and the kube-prometheus images on fresh nodes.
		RolloutTimeout: 10 * time.Minute,
		Logger:         logger,
	}
}

var _ = Describe("social on kind", Ordered, Label("runtime:kind"), func() {
	var (
		env *kube.Env
		cfg = envconf.New()
	)

	// The same env funcs a TestMain would pass to env.Setup/env.Finish.
	BeforeAll(func(ctx SpecContext) {
		env = kube.NewEnv(clusterOptions())
		DeferCleanup(func(ctx SpecContext) {
			_, err := env.Teardown()(ctx, cfg)
			Expect(err).NotTo(HaveOccurred())
		}, NodeTimeout(10*time.Minute))
		_, err := env.CreateCluster()(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		_, err = env.InstallMonitoring()(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(20*time.Minute))

	It("deploys social and serves a request through a port-forward", func(ctx SpecContext) {
		sys, err := spec.LoadSystem(socialSystem)
		Expect(err).NotTo(HaveOccurred())
		_, err = env.Deploy(sys)(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		dep := env.Deployment
		Expect(dep.Services).To(HaveLen(25))

		text, ok := dep.Service("text")
		Expect(ok).To(BeTrue())
		// text → compose-post → login, write-timeline, posts-storage,
		// write-graph → … → MongoDB: one request crosses the cluster.
		resp, err := http.Get(text.URL + "/")
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
		Expect(len(body)).To(BeNumerically(">=", 128), "net: 256 is a 128-byte payload")
	}, SpecTimeout(15*time.Minute))

	It("is scraped by kube-prometheus through the ServiceMonitor", func(ctx SpecContext) {
		dep := env.Deployment
		Expect(dep.Metrics).NotTo(BeNil())
		Eventually(func(g Gomega) {
			s, err := dep.Metrics.Query(ctx, `count(count by (vecro_service) (vecro_http_requests_total{vecro_system="social"}))`, time.Now())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s).To(HaveLen(1))
			g.Expect(s[0].Points).To(HaveLen(1))
			g.Expect(s[0].Points[0].V).To(BeNumerically(">=", 6), "services with a request counter")
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(5 * time.Second).Should(Succeed())
	}, SpecTimeout(5*time.Minute))
})

package manifest_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"
	"github.com/vecrosim/vecro/framework/spec"
)

func loadSystem(t testing.TB, name string) *spec.System {
	t.Helper()
	sys, err := spec.LoadSystem("../../../../../fixtures/systems/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func manifestOptions() manifest.Options {
	return manifest.Options{
		Image:           "vecro.local/service:test",
		Token:           "t0ken",
		DBPassword:      "pw",
		Seed:            7,
		ManageNamespace: true,
		Monitor:         true,
		Prometheus:      manifest.ServiceAccountRef{Namespace: "monitoring", Name: "prometheus-k8s"},
	}
}

func decodeAs[T any](t testing.TB, o manifest.Object) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal(o.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", o, err)
	}
	return &v
}

func find(t testing.TB, m *manifest.Manifest, kind, name string) manifest.Object {
	t.Helper()
	for _, o := range m.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the manifest", kind, name)
	return manifest.Object{}
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func TestManifestSocial(t *testing.T) {
	sys := loadSystem(t, "social")
	m, err := manifest.Build(sys, manifestOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Namespace, Secret, agents Service, ServiceMonitor, Role, RoleBinding,
	// then a Service and a Deployment per service.
	if want := 6 + 2*len(sys.Services); len(m.Objects) != want {
		t.Fatalf("%d objects, want %d", len(m.Objects), want)
	}
	if m.Objects[0].Kind != "Namespace" || m.Objects[0].Name != "social" || m.Objects[1].Kind != "Secret" {
		t.Errorf("apply order starts %s, %s", m.Objects[0], m.Objects[1])
	}
	if m.Namespace != "social" || len(m.Deployments) != 25 {
		t.Errorf("namespace %q, %d deployments", m.Namespace, len(m.Deployments))
	}

	// follow-user: the original's labels, limits and requests, calls as
	// flags in order, the contract's env, the probe on the admin port.
	d := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "social-follow-user"))
	wantLabels := map[string]string{"app.kubernetes.io/name": "social", "app.kubernetes.io/managed-by": "vecro-sim", "vecro-sim/service-name": "follow-user"}
	for k, v := range wantLabels {
		if d.Labels[k] != v || d.Spec.Template.Labels[k] != v {
			t.Errorf("label %s: deployment %q, pod %q, want %q", k, d.Labels[k], d.Spec.Template.Labels[k], v)
		}
	}
	if *d.Spec.Replicas != 1 || len(d.Spec.Template.Spec.Containers) != 1 || len(d.Spec.Template.Spec.InitContainers) != 0 {
		t.Fatalf("deployment spec %+v", d.Spec)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "vecro.local/service:test" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
	}
	if got := strings.Join(c.Args, " "); got != "--call user-info=http://social-user-info" {
		t.Errorf("args %q", got)
	}
	if r := c.Resources; r.Requests.Cpu().String() != "200m" || r.Requests.Memory().String() != "50Mi" || r.Limits.Cpu().String() != "700m" || r.Limits.Memory().String() != "250Mi" {
		t.Errorf("resources %v", r)
	}
	env := envOf(c)
	for k, v := range map[string]string{"VECRO_SYSTEM": "social", "VECRO_SERVICE": "follow-user", "VECRO_TYPE": "base", "VECRO_LISTEN": ":8080", "VECRO_ADMIN_LISTEN": ":8081", "VECRO_CPU": "1", "VECRO_NET": "256", "VECRO_TOKEN_FILE": "/var/run/secrets/vecro/token"} {
		if env[k].Value != v {
			t.Errorf("env %s=%q, want %q", k, env[k].Value, v)
		}
	}
	if f := env["VECRO_INSTANCE"].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("VECRO_INSTANCE %+v", env["VECRO_INSTANCE"])
	}
	if _, ok := env["VECRO_MEMORY"]; ok {
		t.Error("VECRO_MEMORY set for a service without memory")
	}
	p := c.ReadinessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "admin" || c.LivenessProbe != nil {
		t.Errorf("probes: readiness %+v, liveness %+v", p, c.LivenessProbe)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["admin"] != 8081 {
		t.Errorf("ports %v", ports)
	}
	if sc := c.SecurityContext; sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
		t.Errorf("security context %+v", sc)
	}

	// recommender: memory 16 → 16 MiB, two calls in order.
	rc := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "social-recommender")).Spec.Template.Spec.Containers[0]
	if envOf(rc)["VECRO_MEMORY"].Value != "16" || strings.Join(rc.Args, " ") != "--call user-info=http://social-user-info --call posts-storage=http://social-posts-storage" {
		t.Errorf("recommender env %v args %v", envOf(rc)["VECRO_MEMORY"], rc.Args)
	}

	// The Service: ClusterIP, 80 → the http port, no admin port.
	s := decodeAs[corev1.Service](t, find(t, m, "Service", "social-follow-user"))
	if s.Spec.Type != corev1.ServiceTypeClusterIP || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("service spec %+v", s.Spec)
	}
	if s.Spec.Selector["vecro-sim/service-name"] != "follow-user" || s.Spec.Selector["app.kubernetes.io/name"] != "social" {
		t.Errorf("service selector %v", s.Spec.Selector)
	}

	// A mongodb service: MongoDB 4.2 as a native sidecar; the agent's --db
	// points at it on loopback.
	db := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "social-posts-storage-db")).Spec.Template.Spec
	if len(db.InitContainers) != 1 {
		t.Fatalf("posts-storage-db init containers %+v", db.InitContainers)
	}
	side := db.InitContainers[0]
	if side.Image != "mongo:4.2" || side.RestartPolicy == nil || *side.RestartPolicy != corev1.ContainerRestartPolicyAlways || side.StartupProbe == nil || side.StartupProbe.TCPSocket == nil {
		t.Errorf("mongo sidecar %+v", side)
	}
	agentEnv := envOf(db.Containers[0])
	if agentEnv["VECRO_DB"].Value != "mongodb://127.0.0.1:27017/vecro" || agentEnv["VECRO_TYPE"].Value != "mongodb" || agentEnv["VECRO_READ"].Value != "1" || agentEnv["VECRO_WRITE"].Value != "1" {
		t.Errorf("posts-storage-db agent env %v", agentEnv)
	}

	// Monitoring: a headless Service over the admin ports, a 1 s
	// ServiceMonitor selecting it, and access for Prometheus.
	agents := decodeAs[corev1.Service](t, find(t, m, "Service", "social-vecro-agents"))
	if agents.Spec.ClusterIP != "None" || agents.Spec.Ports[0].Name != "admin" || agents.Spec.Ports[0].Port != 8081 || agents.Labels["vecro-sim/role"] != "agents" {
		t.Errorf("agents service %+v", agents)
	}
	sm := string(find(t, m, "ServiceMonitor", "social").Body)
	for _, want := range []string{`"interval":"1s"`, `"port":"admin"`, `"vecro-sim/role":"agents"`, `"matchNames":["social"]`,
		// protobuf first (native histograms), classic kept
		`"scrapeProtocols":["PrometheusProto",`, `"scrapeClassicHistograms":true`} {
		if !strings.Contains(sm, want) {
			t.Errorf("servicemonitor lacks %s: %s", want, sm)
		}
	}
	// Older operators' CRDs (v0.85) reject it under server-side apply.
	if strings.Contains(sm, "scrapeNativeHistograms") {
		t.Errorf("servicemonitor sets scrapeNativeHistograms, which the v0.85 CRDs lack: %s", sm)
	}
	if strings.Contains(sm, "creationTimestamp") || strings.Contains(sm, "status") {
		t.Errorf("servicemonitor carries fields vecro must not own: %s", sm)
	}
	rb := string(find(t, m, "RoleBinding", "social-vecro-prometheus").Body)
	if !strings.Contains(rb, `"namespace":"monitoring"`) || !strings.Contains(rb, `"name":"prometheus-k8s"`) {
		t.Errorf("rolebinding %s", rb)
	}

	// The token is the Secret's, mounted read-only; the pod gets no
	// service account token and no service links.
	sec := decodeAs[corev1.Secret](t, find(t, m, "Secret", "social-vecro-agent"))
	if string(sec.Data["token"]) != "t0ken" {
		t.Errorf("secret data %v", sec.Data)
	}
	if _, ok := sec.Data["db-password"]; !ok {
		t.Error("no db-password in the secret although one was given")
	}
	ps := d.Spec.Template.Spec
	if *ps.AutomountServiceAccountToken || *ps.EnableServiceLinks {
		t.Errorf("pod spec automount %v links %v", *ps.AutomountServiceAccountToken, *ps.EnableServiceLinks)
	}

	// Pure: the same inputs give the same bytes.
	again, err := manifest.Build(sys, manifestOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Objects {
		if !bytes.Equal(m.Objects[i].Body, again.Objects[i].Body) {
			t.Fatalf("%s differs between two builds", m.Objects[i])
		}
	}
}

func TestManifestStorageTypes(t *testing.T) {
	sys := &spec.System{Name: "store", Services: []spec.Service{
		{Name: "front", Type: spec.TypeBase, Calls: []string{"cache", "sql"}, CallMode: spec.CallParallel, Resources: spec.Resources{CPU: 100, Memory: 32 << 20},
			Workload: spec.Workload{Delay: &spec.Delay{Time: spec.Duration(5e6), Jitter: spec.Duration(1e6)}}},
		{Name: "cache", Type: spec.TypeRedis, Workload: spec.Workload{Read: 2}},
		{Name: "sql", Type: spec.TypeMySQL, Replicas: 3, Workload: spec.Workload{Write: 1}},
	}}
	o := manifestOptions()
	o.Monitor = false
	m, err := manifest.Build(sys, o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Namespace != "store" || len(m.Objects) != 2+2*3 {
		t.Fatalf("namespace %q, %d objects", m.Namespace, len(m.Objects))
	}
	front := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "store-front")).Spec.Template.Spec.Containers[0]
	// A limit below the original's request lowers the request to it.
	if front.Resources.Requests.Cpu().String() != "100m" || front.Resources.Limits.Cpu().String() != "100m" || front.Resources.Requests.Memory().String() != "32Mi" {
		t.Errorf("front resources %v", front.Resources)
	}
	fe := envOf(front)
	if fe["VECRO_CALL_MODE"].Value != "parallel" || fe["VECRO_DELAY"].Value != "5ms" || fe["VECRO_JITTER"].Value != "1ms" {
		t.Errorf("front env %v", fe)
	}
	cache := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "store-cache")).Spec.Template.Spec
	if cache.InitContainers[0].Image != "redis:7.4" || envOf(cache.Containers[0])["VECRO_DB"].Value != "redis://127.0.0.1:6379" {
		t.Errorf("redis pod %+v", cache)
	}
	sqlD := decodeAs[appsv1.Deployment](t, find(t, m, "Deployment", "store-sql"))
	if *sqlD.Spec.Replicas != 3 {
		t.Errorf("sql replicas %d", *sqlD.Spec.Replicas)
	}
	sql := sqlD.Spec.Template.Spec
	ae := sql.Containers[0].Env
	// DB_PASSWORD must come before VECRO_DB for $(DB_PASSWORD) to expand.
	pw := slices.IndexFunc(ae, func(e corev1.EnvVar) bool { return e.Name == "DB_PASSWORD" })
	dbi := slices.IndexFunc(ae, func(e corev1.EnvVar) bool { return e.Name == "VECRO_DB" })
	if pw < 0 || dbi < pw || ae[dbi].Value != "mysql://vecro:$(DB_PASSWORD)@127.0.0.1:3306/vecro" || ae[pw].ValueFrom.SecretKeyRef.Key != "db-password" {
		t.Errorf("sql agent env %+v", ae)
	}
	me := envOf(sql.InitContainers[0])
	if sql.InitContainers[0].Image != "mariadb:11.4" || me["MARIADB_PASSWORD"].ValueFrom.SecretKeyRef.Name != "store-vecro-agent" || me["MARIADB_USER"].Value != "vecro" {
		t.Errorf("mariadb sidecar %+v", sql.InitContainers[0])
	}
	for _, o := range m.Objects {
		if o.Kind == "ServiceMonitor" || o.Kind == "Role" {
			t.Errorf("%s without monitoring", o)
		}
	}
}

func TestManifestRejects(t *testing.T) {
	base := func() *spec.System {
		return &spec.System{Name: "sys", Services: []spec.Service{{Name: "a", Type: spec.TypeBase}}}
	}
	cases := []struct {
		name string
		sys  func() *spec.System
		opts func(*manifest.Options)
		want string
	}{
		{"no image", base, func(o *manifest.Options) { o.Image = "" }, "no service image"},
		{"no token", base, func(o *manifest.Options) { o.Token = "" }, "no agent token"},
		{"bad namespace", base, func(o *manifest.Options) { o.Namespace = "Not_OK" }, `namespace "Not_OK"`},
		{"mysql without password", func() *spec.System {
			s := base()
			s.Services = append(s.Services, spec.Service{Name: "db", Type: spec.TypeMySQL})
			return s
		}, func(o *manifest.Options) { o.DBPassword = "" }, `service "db" is mysql but no database password`},
		{"reserved name", func() *spec.System {
			s := base()
			s.Services[0].Name = "vecro-agents"
			return s
		}, nil, `"vecro-agents" is taken`},
		{"name not a DNS-1035 label", func() *spec.System {
			s := base()
			s.Name = "9sys"
			return s
		}, nil, `Kubernetes name "9sys-a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := manifestOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := manifest.Build(tc.sys(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := manifest.Build(nil, manifestOptions()); err == nil {
		t.Error("nil system accepted")
	}
}

func TestManifestYAMLRoundTrip(t *testing.T) {
	m, err := manifest.Build(loadSystem(t, "social"), manifestOptions())
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(y, []byte("# namespace/social\napiVersion: v1\nkind: Namespace\n")) {
		t.Errorf("YAML starts %q", y[:min(len(y), 80)])
	}
	objs, err := manifest.DecodeYAML(y)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(m.Objects) {
		t.Fatalf("%d documents read back, %d objects", len(objs), len(m.Objects))
	}
	for i, u := range objs {
		o := m.Objects[i]
		if u.GetKind() != o.Kind || u.GetName() != o.Name || u.GetNamespace() != o.Namespace {
			t.Errorf("document %d is %s %s/%s, want %s", i, u.GetKind(), u.GetNamespace(), u.GetName(), o)
		}
	}
}

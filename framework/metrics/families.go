package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Flavor selects which metrics a family's PromQL reads: the runtimes expose
// the same quantities under different series.
type Flavor string

// The runtime flavours. Their names are the runtime names of
// framework/runtime (Runtime.Name).
const (
	// FlavorLocal reads only the service binary's own metrics: its vecro_*
	// series and client_golang's process_* collector.
	FlavorLocal Flavor = "local"
	// FlavorKube reads cAdvisor's container_* series (as kube-prometheus
	// scrapes them from the kubelet) for cpu, memory and network, and the
	// service's vecro_* series for the rest.
	FlavorKube Flavor = "kube"
)

// Windows are the range-selector lengths of the families. The defaults are
// the original collector's.
type Windows struct {
	// Rate is the window of the request-derived rates (latency_avg,
	// throughput, request_rate, error_rate). Default 10s.
	Rate time.Duration
	// Quantile is the window of the histogram quantiles (latency_p95,
	// latency_p99). Default 1m.
	Quantile time.Duration
	// Resource is the window of the cpu and network rates. The original used
	// 1m: cAdvisor counters move in coarse steps, and kube-prometheus scrapes
	// the kubelet far less often than once a second. Default 1m.
	Resource time.Duration
}

// DefaultWindows are the original collector's windows.
var DefaultWindows = Windows{Rate: 10 * time.Second, Quantile: time.Minute, Resource: time.Minute}

// Family is one named quantity of a dataset (one CSV), a PromQL template per
// runtime flavour. Every expression yields one series per service, labelled
// vecro_service, restricted to one system.
type Family struct {
	// Name is the dataset's name for the family (the CSV's base name).
	Name string
	// Unit of the values (seconds, bytes, bytes/s, cores, requests/s, ratio).
	Unit string
	// Help says what the values mean.
	Help string
	// Windows are the range lengths used by Expr.
	Windows Windows

	// templates by flavour; see expand for the placeholders.
	templates map[Flavor]string
}

// The selector placeholders of the templates. {S} is the system matcher on
// the service's constant label, {T} on the scrape target's label (for the
// process_* series, which may not carry the constant labels), {K} the pod
// matcher of cAdvisor series. {R}, {Q}, {X} are the Rate, Quantile and
// Resource windows.
const (
	// reqRate is the request rate of each service over the rate window.
	reqRate = `sum by (vecro_service) (rate(vecro_http_requests_total{{S}}[{R}]))`
	// latencyQ is histogram_quantile over the duration histogram; %s is the
	// quantile. The native histogram (buckets 9% wide) comes first; "or"
	// falls back per service to the original's classic buckets, which put
	// a p95 up to 2x off (a bucket like .25–.5 s is interpolated linearly),
	// but keep a dataset from going empty where the monitoring stores no
	// native series: a Prometheus without scrape_native_histograms, or a
	// text-only target. Where a service has both, both scrapers here store
	// both and the native one wins.
	latencyQ = `histogram_quantile(%[1]s, sum by (vecro_service) (rate(vecro_http_request_duration_seconds{{S}}[{Q}])))` +
		` or histogram_quantile(%[1]s, sum by (vecro_service, le) (rate(vecro_http_request_duration_seconds_bucket{{S}}[{Q}])))`
	// latencyAvg is the mean from the classic _sum and _count, or, where a
	// Prometheus stores only the native histogram (native histograms
	// without always_scrape_classic_histograms, as Prometheus 2.x's
	// feature flag does), from the native histogram's own sum and count:
	// the same exact figures.
	latencyAvg = `sum by (vecro_service) (rate(vecro_http_request_duration_seconds_sum{{S}}[{R}])) / sum by (vecro_service) (rate(vecro_http_request_duration_seconds_count{{S}}[{R}]))` +
		` or sum by (vecro_service) (histogram_sum(rate(vecro_http_request_duration_seconds{{S}}[{R}]))) / sum by (vecro_service) (histogram_count(rate(vecro_http_request_duration_seconds{{S}}[{R}])))`
	// kubeByService maps a cAdvisor series to the service of its pod: the
	// kube runtime names each Deployment <system>-<service>, so a pod is
	// <system>-<service>-<replicaset hash>-<pod hash>.
	kubeByService = `sum by (vecro_service) (label_replace(%s, "vecro_service", "$1", "pod", {P}))`
	// localByService maps a process_* series to the service of its scrape
	// target (target label "service"), whether or not the service also
	// attached its constant labels to the process collector.
	localByService = `sum by (vecro_service) (label_replace(%s, "vecro_service", "$1", "service", "(.+)"))`
)

// quantileHow tells, in a quantile family's Help, how its values are
// computed (the dataset's readers need it to judge their precision).
const quantileHow = ": histogram_quantile over the native histogram (buckets at most 9% wide, so at worst ~9%," +
	" typically ~1% off) where the monitoring stores one, else over the original's classic buckets (.0002 … 25 s, up to 2x off)"

var families = []Family{
	{
		Name: "latency_avg", Unit: "seconds",
		Help:      "mean server-side request latency (exact: the histogram's sum over its count)",
		templates: both(latencyAvg),
	},
	{
		Name: "latency_p95", Unit: "seconds",
		Help:      "95th percentile of server-side request latency" + quantileHow,
		templates: both(fmt.Sprintf(latencyQ, "0.95")),
	},
	{
		Name: "latency_p99", Unit: "seconds",
		Help:      "99th percentile of server-side request latency" + quantileHow,
		templates: both(fmt.Sprintf(latencyQ, "0.99")),
	},
	{
		Name: "throughput", Unit: "bytes/s",
		Help:      "response bytes sent per second",
		templates: both(`sum by (vecro_service) (rate(vecro_http_response_bytes_total{{S}}[{R}]))`),
	},
	{
		Name: "request_rate", Unit: "requests/s",
		Help:      "requests served per second",
		templates: both(reqRate),
	},
	{
		Name: "error_rate", Unit: "ratio",
		Help: "share of requests answered 5xx (0 when none failed, NaN when none were served)",
		// "or … * 0" yields 0 for a service that has served requests but no
		// 5xx series yet, instead of dropping it from the result.
		templates: both(`(sum by (vecro_service) (rate(vecro_http_requests_total{{S},code=~"5.."}[{R}])) or ` + reqRate + ` * 0) / ` + reqRate),
	},
	{
		Name: "cpu_usage", Unit: "cores",
		Help: "CPU time used per second",
		templates: map[Flavor]string{
			FlavorLocal: fmt.Sprintf(localByService, `rate(process_cpu_seconds_total{{T}}[{X}])`),
			FlavorKube:  fmt.Sprintf(kubeByService, `rate(container_cpu_usage_seconds_total{{K}}[{X}])`),
		},
	},
	{
		Name: "memory_usage", Unit: "bytes",
		Help: "memory in use: resident set size locally, the working set on Kubernetes",
		templates: map[Flavor]string{
			FlavorLocal: fmt.Sprintf(localByService, `process_resident_memory_bytes{{T}}`),
			FlavorKube:  fmt.Sprintf(kubeByService, `container_memory_working_set_bytes{{K}}`),
		},
	},
	{
		Name: "net_rx", Unit: "bytes/s",
		Help: "network bytes received per second (the original's network_receive_bytes)",
		templates: map[Flavor]string{
			FlavorLocal: `sum by (vecro_service) (rate(vecro_net_receive_bytes_total{{S}}[{X}]))`,
			// cAdvisor reports network per pod, under the sandbox's cgroup
			// (container="" or "POD"), so no container filter here.
			FlavorKube: fmt.Sprintf(kubeByService, `rate(container_network_receive_bytes_total{{P0},interface="eth0"}[{X}])`),
		},
	},
	{
		Name: "net_tx", Unit: "bytes/s",
		Help: "network bytes sent per second (the original's network_transmit_bytes)",
		templates: map[Flavor]string{
			FlavorLocal: `sum by (vecro_service) (rate(vecro_net_transmit_bytes_total{{S}}[{X}]))`,
			FlavorKube:  fmt.Sprintf(kubeByService, `rate(container_network_transmit_bytes_total{{P0},interface="eth0"}[{X}])`),
		},
	},
}

func both(tmpl string) map[Flavor]string {
	return map[Flavor]string{FlavorLocal: tmpl, FlavorKube: tmpl}
}

func init() {
	for i := range families {
		families[i].Windows = DefaultWindows
	}
}

// Families returns every family, in dataset order, with the default windows.
func Families() []Family {
	return slices.Clone(families)
}

// FamilyNames returns the names of Families, in order.
func FamilyNames() []string {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = f.Name
	}
	return names
}

// LookupFamily returns the family called name.
func LookupFamily(name string) (Family, error) {
	for _, f := range families {
		if f.Name == name {
			return f, nil
		}
	}
	return Family{}, fmt.Errorf("unknown metric family %q (known: %s)", name, strings.Join(FamilyNames(), ", "))
}

// WithWindows returns f reading over w; zero fields keep f's windows.
func (f Family) WithWindows(w Windows) Family {
	if w.Rate > 0 {
		f.Windows.Rate = w.Rate
	}
	if w.Quantile > 0 {
		f.Windows.Quantile = w.Quantile
	}
	if w.Resource > 0 {
		f.Windows.Resource = w.Resource
	}
	return f
}

// Scope is whose series a family's query reads: the services of System,
// and on Kubernetes only those in Namespace when it is set. Runs of one
// system in several namespaces share a cluster's Prometheus
// (kube-prometheus scrapes them all), and a run's dataset must hold its own
// series alone. The embedded runtime's Prometheus is the run's own, so the
// local flavour ignores Namespace.
type Scope struct {
	System, Namespace string
}

// Expr is the family's PromQL for the flavour, over the services in scope.
func (f Family) Expr(flavor Flavor, scope Scope) (string, error) {
	system := scope.System
	tmpl, ok := f.templates[flavor]
	if !ok {
		return "", fmt.Errorf("metric family %q: unknown runtime flavour %q (known: %s, %s)", f.Name, flavor, FlavorLocal, FlavorKube)
	}
	if system == "" {
		return "", fmt.Errorf("metric family %q: empty system name", f.Name)
	}
	for name, d := range map[string]time.Duration{"rate": f.Windows.Rate, "quantile": f.Windows.Quantile, "resource": f.Windows.Resource} {
		if d <= 0 || d%time.Millisecond != 0 {
			return "", fmt.Errorf("metric family %q: %s window %v is not a positive whole number of milliseconds", f.Name, name, d)
		}
	}
	q := strconv.Quote(system)
	// The pod regex is anchored by PromQL; QuoteMeta keeps a system name's
	// dots literal and strconv.Quote doubles its backslashes for PromQL's
	// string syntax. Hash suffixes: ReplicaSet (up to 10 alphanumerics) and
	// pod (5).
	podRe := strconv.Quote(regexp.QuoteMeta(system) + `-(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}`)
	// The namespace matcher, on Kubernetes only: both the services' own
	// series (ServiceMonitor and the standalone scrape label them) and
	// cAdvisor's carry a namespace label.
	ns := ""
	if flavor == FlavorKube && scope.Namespace != "" {
		ns = `,namespace=` + strconv.Quote(scope.Namespace)
	}
	r := strings.NewReplacer(
		"{S}", `vecro_system=`+q+ns,
		"{T}", `system=`+q,
		"{K}", `pod=~`+podRe+`,container!="",container!="POD"`+ns,
		"{P0}", `pod=~`+podRe+ns,
		"{P}", podRe,
		"{R}", promDuration(f.Windows.Rate),
		"{Q}", promDuration(f.Windows.Quantile),
		"{X}", promDuration(f.Windows.Resource),
	)
	return r.Replace(tmpl), nil
}

// promDuration writes d the way PromQL reads it (1m, 10s, 1500ms).
func promDuration(d time.Duration) string {
	ms := d.Milliseconds()
	switch {
	case ms%60000 == 0:
		return strconv.FormatInt(ms/60000, 10) + "m"
	case ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	default:
		return strconv.FormatInt(ms, 10) + "ms"
	}
}

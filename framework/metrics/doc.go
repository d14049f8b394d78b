// Package metrics reads a deployment's metrics through PromQL. It is the
// only package that imports github.com/prometheus/prometheus (the TSDB and
// the PromQL engine of the embedded Source); everything else sees the Source
// interface and this package's types.
//
// # Sources
//
// Embedded (the local runtime's) scrapes its targets itself, stores the
// samples in a Prometheus TSDB and evaluates queries with the Prometheus
// PromQL engine (module v0.316, i.e. Prometheus 3 semantics: range
// selectors are left-open). Its scraper follows Prometheus' own rules, so
// that a dataset reads the same whichever collected it:
//
//   - one loop per target, at a fixed phase of the interval derived from a
//     hash of the target (spreading targets over the interval), with
//     timestamps snapped to the interval grid when a scrape starts less
//     than 2ms late;
//   - the protobuf exposition format first (the only one that carries
//     native histograms), text for targets that serve only text, both
//     read by Prometheus' parser (model/textparse); a histogram served
//     native and classic is stored both ways, as Prometheus 3 does with
//     scrape_native_histograms and always_scrape_classic_histograms; one
//     TSDB transaction per scrape;
//   - target labels added to every series; a scraped label of the same
//     name is kept as exported_<name>. The service's constant labels
//     (vecro_system, vecro_service, vecro_instance) never clash with the
//     runtime's target labels (system, service, instance, job);
//   - up, scrape_duration_seconds, scrape_samples_scraped,
//     scrape_samples_post_metric_relabeling and scrape_series_added per
//     scrape;
//   - staleness markers for series that vanish from a target, for every
//     series of a failed scrape, and for a removed target's series two
//     intervals after its removal.
//
// Embedded.Handler serves the data over the Prometheus HTTP API, so that
// another process reads it with the HTTP source, which reads any
// Prometheus API (a server on Kubernetes) through client_golang's client.
//
// # Families
//
// A Family is one quantity of a dataset (latency_p95, cpu_usage, …) as a
// PromQL template per runtime flavour, one series per service (label
// vecro_service) of one system. FlavorLocal reads the service binary's own
// metrics (process_* by the scrape target's labels); FlavorKube reads
// cAdvisor for cpu, memory and network, mapping a pod to its service by
// the Deployment name <system>-<service>. CollectTable evaluates a family
// over a Range and lays it out as a Table: a row per step with its real
// timestamp, a column per service, NaN where a service has no value. The
// latency quantiles read the native duration histogram and fall back, per
// service, to the classic buckets where a Prometheus stored no native one.
//
// The edge families (Family.Edge: edge_latency_avg, edge_latency_p95,
// edge_request_rate, edge_error_rate) read the callers' downstream
// histogram instead and have a column per call-graph edge, named
// EdgeColumn(caller, callee) ("compose-post->login"). Their latencies are
// the service latencies' PromQL rewritten per edge, so the two stay
// computed alike. Table.WithColumns adds the declared edges that carried
// no call.
package metrics

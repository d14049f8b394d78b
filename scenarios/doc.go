// Package scenarios holds the project's chaos experiments as Ginkgo specs:
// one Ordered container per fault behaviour on the social system (steady
// state → inject → verify → recover), labelled by behaviour and runtime.
//
// Run them with `go test ./scenarios/...`; `make test` runs them with the
// label filter that leaves out suites needing Docker and the internet.
// The same specs run on another runtime with VECRO_RUNTIME: kube (a
// cluster, with the vecro CLI's kube flags in VECRO_KUBE_FLAGS) or kind
// (see runtime_test.go); the label runtime:local marks what runs without a
// cluster, whatever the runtime.
// VECRO_LONG=1 stretches every experiment to the published dataset's length
// (fault at 20 min for 15 min, 70 min in all); VECRO_UPDATE_SIGNATURES=N,
// with the suite run N times, learns the golden signatures in
// fixtures/signatures from those N runs (see package matchers).
package scenarios

// Package matchers holds Gomega matchers over a run's results: RiseDuring,
// FallDuring and StayNearBaseline over windows of a metric series, relative
// to the run's own baseline, and MatchSignatureFile over a fault signature.
// Each is a thin wrapper over package analysis, which decides the verdict
// (see its doc for the statistics and the signature rules); a matcher's
// failure message shows both windows' numbers.
package matchers

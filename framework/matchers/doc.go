// Package matchers holds Gomega matchers over windows of a metric series,
// relative to the run's own baseline, and fault signatures.
//
// A fault rarely moves a metric by a fixed amount on every machine, but it
// moves it by a large factor against the same run's steady state. So every
// matcher compares a window (a fault's applied window) with the baseline
// window of the same series, by ratio of medians, absolute delta, or robust
// z-score (median and MAD, which a few outliers cannot move), and its failure
// message shows both windows' numbers.
//
// A Signature classifies every (service, family) of a run as rise, fall or
// flat, with a dead zone between them marked unknown and ignored when two
// signatures are compared: a golden signature in fixtures/signatures is what
// a CI regression of fault signatures checks against.
package matchers

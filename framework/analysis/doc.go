// Package analysis is the model behind a run's verdicts: series of a metric
// family per service, windows (the baseline, a fault's applied window),
// robust comparisons between them, deviations, and fault signatures. It is
// free of any test framework: package matchers wraps it in Gomega matchers,
// and the vecro CLI and dataset jobs use it directly.
//
// A fault rarely moves a metric by a fixed amount on every machine, but it
// moves it by a large factor against the same run's steady state. So every
// comparison sets a window (a fault's applied window) with the baseline
// window of the same series, by ratio of medians, absolute delta, or robust
// z-score (median and MAD, which a few outliers cannot move), and prints both
// windows' numbers.
//
// A Signature classifies every (service, family) of a run as rise, fall or
// flat, with a dead zone between them marked unknown: a golden signature in
// fixtures/signatures is what a CI regression of fault signatures checks
// against. The golden's rise and fall cells are the fault's effect, so they
// must hold: a run where one is unknown, flat, reversed or missing fails (a
// fault that got weaker would otherwise hide in the dead zone), and so does
// one whose effect (during − baseline) is weaker than the band the golden's
// learning runs saw by more than BandSlack (a fault three times weaker; see
// BandSlack for why the effect and not the ratio, and why a stronger one
// passes). A golden
// flat cell fails only when the run rises or falls there; a golden unknown
// is not asserted.
//
// A golden is learned, not written by hand: with VECRO_UPDATE_SIGNATURES=N
// every signature check records its run in <golden>.runs.jsonl, and the N-th writes
// the golden. A cell is decided there only where all N runs agree, and a
// rise or fall only where every run cleared its threshold by BandSlack, so
// the noise of this machine turns cells unknown instead of into flaky
// failures; each rise and fall keeps the smallest and largest ratio and
// effect of the N runs.
package analysis

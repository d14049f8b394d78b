// Package eval scores a root-cause analyser or anomaly detector on a
// corpus of datasets: the cases a campaign wrote (cases.csv), or any tree
// of dataset runs. It closes the loop from "perturb a system" to "score a
// method on what just happened".
//
// Each case is shown to the method blinded: a copy of its dataset without
// labels.csv, plots and the fault columns (fault_active, on_target) of
// metrics.csv, traces.csv and logs.csv, and a manifest without its faults.
// The method is told the injection time — the earliest applied start the
// agents measured, never the plan, plus an optional Δ as RCAEval's tdelta —
// and answers with a ranking of services and/or anomaly windows.
//
// Scores follow RCAEval (Pham et al., WWW'25):
//
//   - AC@k is the fraction of cases whose root cause is among the method's
//     first k services; for a case with several faulted targets A it is
//     |top-k ∩ A| / min(k, |A|), which is RCAEval's for one target.
//     Avg@k is the mean of AC@1..AC@k. A ranking is read service by
//     service, each service counted at its first place.
//   - Chance is what a uniformly random ranking of the case's candidates
//     (the system's services) would score on average: min(k, n)/n for one
//     target among n. Lift is Avg@5 minus chance.
//   - Anomaly windows are scored on the dataset's step grid against the
//     applied windows: point-wise precision, recall and F1, the same after
//     point adjustment (a true window counts as found whole once any of its
//     points is flagged, as in Xu et al., WWW'18), and the detection delay
//     of each true window (from its applied start to the first flagged point
//     inside it; windows never flagged are counted as missed, not averaged).
//     Counts are summed over cases before dividing (micro averages).
//
// The built-in methods are RCAEval's metric baselines: NSigma (a standard
// scaler fitted on the data before the injection time) and BARO (a robust
// scaler: median and interquartile range), each ranking services by the
// largest scaled value any of their metrics reaches after the injection
// time. Any other method is an external program (Command) that reads the
// blinded dataset and prints JSON on stdout, the schema in
// docs/eval-answer.schema.json.
package eval

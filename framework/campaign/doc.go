// Package campaign turns a campaign definition (spec.CampaignFile, kind:
// Campaign) into a corpus: one experiment per case of its matrix, fault
// templates × strengths × targets × repetitions on one system or several,
// each case's dataset under
// the corpus's directory and an index of them all, cases.csv.
//
// Expand builds the matrix as a Plan: every case an experiment.Experiment
// built from the campaign's settings the way an experiment file's are
// (experiment.FromSpec), with one fault, the template's variant on the
// case's target over the campaign's fault window, and a seed derived from
// the campaign's seed and the case's id, so that the same file always
// plans the same cases with the same seeds. Plan.Estimate says how long a
// run takes before anything starts.
//
// Run runs the plan's cases one after another and keeps
// <artifacts>/<campaign>/cases.csv (dataset.CaseColumns) up to date: a
// case is marked partial before it starts and gets its outcome when it
// ends, each time by rewriting the file whole and renaming it into place,
// so that the index is consistent whenever the run stops, Ctrl-C and
// SIGKILL included. The outcome is read back from the case's dataset, not
// taken from the plan: complete and failed from its manifest, the applied
// window from its labels.csv, as the agents measured it. A second Run of
// the same plan resumes: it skips the complete cases whose dataset is
// still there and whole, and runs the planned and partial ones again
// (failed ones too with Options.RetryFailed).
//
// Cases run one at a time on the embedded runtime, which runs every
// service on this one machine: two cases at once would share its CPUs, and
// each would measure the other's load as its own. Run refuses
// Options.Parallel above 1 there unless Options.ForceParallel says the
// caller accepts that. On Kubernetes (Options.Isolated) each of the
// Parallel slots runs its cases in a namespace of its own, with its own
// agents, load and PromQL selectors; Options.Prepare, which gets the slot,
// gives each case its runtime.
package campaign

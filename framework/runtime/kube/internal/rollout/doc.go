// Package rollout waits for a system's Deployments as `kubectl rollout
// status` does and, when the deadline passes, says why not in the terms
// `kubectl describe` uses: each unfinished Deployment's conditions, its
// pods' scheduling and container states and their latest warning events
// (Error), with a hint for the commonest causes.
package rollout

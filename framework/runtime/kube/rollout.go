package kube

import "github.com/vecrosim/vecro/framework/runtime/kube/internal/rollout"

// DefaultRolloutTimeout bounds the wait for every Deployment of a system to
// be ready. Pulling mongo:4.2 on a fresh kind node takes most of it.
const DefaultRolloutTimeout = rollout.DefaultTimeout

// RolloutError says which Deployments were not ready by the deadline (or
// gave up on their own) and why, from their status, their pods and events.
type RolloutError = rollout.Error

// Package kindcluster provisions, loads images into and deletes a kind
// cluster through kind's Go API (sigs.k8s.io/kind), keeping the command and
// output of a failed docker/podman call in its errors and sending kind's
// messages to slog.
package kindcluster

package monitor

import (
	"fmt"
	"strings"
)

// Mode selects how the runtime gets a Prometheus.
type Mode string

// The modes.
const (
	// ModeKubePrometheus installs the pinned kube-prometheus release
	// unless it is there already (the default).
	ModeKubePrometheus Mode = "kube-prometheus"
	// ModeExisting uses the prometheus-operator and Prometheus that
	// are already installed (named as in KubePrometheus) and installs
	// nothing.
	ModeExisting Mode = "existing"
	// ModeStandalone deploys a plain Prometheus (built from the Go
	// module proxy, see Standalone) into the system's namespace: for
	// clusters with no internet, where kube-prometheus can be neither
	// fetched nor pulled.
	ModeStandalone Mode = "standalone"
	// ModeAuto (the default) uses kube-prometheus when it is
	// installed or can be fetched, and the standalone Prometheus otherwise;
	// it logs which.
	ModeAuto Mode = "auto"
	// ModeNone deploys no ServiceMonitor and reads no metrics.
	ModeNone Mode = "none"
)

// Modes lists the modes, for flags and errors.
var Modes = []Mode{ModeAuto, ModeKubePrometheus, ModeStandalone, ModeExisting, ModeNone}

// ParseMode checks a mode's name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("monitoring mode %q: want one of %s", s, strings.Join(names, ", "))
}

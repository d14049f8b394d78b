package local

import (
	"fmt"
	"strings"
)

// CgroupMode says whether instances get resource limits through cgroups.
type CgroupMode string

// Cgroup modes.
const (
	// CgroupsAuto limits where the machine allows it and logs why not
	// elsewhere.
	CgroupsAuto CgroupMode = "auto"
	// CgroupsOn fails Start where limits cannot be enforced.
	CgroupsOn CgroupMode = "on"
	// CgroupsOff never touches cgroups.
	CgroupsOff CgroupMode = "off"
)

// ParseCgroupMode reads "auto", "on" or "off" ("" is auto).
func ParseCgroupMode(s string) (CgroupMode, error) {
	switch m := CgroupMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return CgroupsAuto, nil
	case CgroupsAuto, CgroupsOn, CgroupsOff:
		return m, nil
	}
	return "", fmt.Errorf("cgroups %q: want auto, on or off", s)
}

// Limits says how a runtime limits its instances' resources.
type Limits struct {
	// Enforced is true when every instance runs in its own cgroup.
	Enforced bool
	// How describes the mechanism ("cgroup v1: cpu /sys/fs/cgroup/cpu/…"),
	// or why limits are not enforced.
	How string
}

// isolation is the Deployment's Isolation: the mechanism, or "none: " and
// why there is none.
func (l Limits) isolation() string {
	if l.Enforced {
		return l.How
	}
	return "none: " + strings.TrimPrefix(l.How, "not enforced: ")
}

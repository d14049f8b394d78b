package spec

import (
	"fmt"
	"os"
	"strings"
)

// FileResult is the outcome of checking one definition file with CheckFiles.
type FileResult struct {
	Path string
	Kind Kind
	// Err is nil when the file is valid; otherwise usually an ErrorList.
	Err error
	// Note says what could not be checked, e.g. a fault file's targets when
	// no system file was given with it.
	Note string
	// System, Faults or Campaign is the decoded file when Err is nil.
	System   *System
	Faults   *FaultFile
	Campaign *CampaignFile
}

// CheckFiles reads and validates system, fault and campaign definition files, telling
// them apart by their kind: or, without one, by their keys (ReadKind). Each fault file is also checked against
// the system given in the same call whose namespace it names (or against
// the only system given, when it names none). A fault file with no system
// to check against gets its own checks and a Note. Results are in the order
// of paths.
func CheckFiles(paths []string) []FileResult {
	res := make([]FileResult, len(paths))
	var systems []*System
	systemsFailed := false
	for i, p := range paths {
		res[i].Path = p
		data, err := os.ReadFile(p)
		if err != nil {
			res[i].Err = fmt.Errorf("read definition: %w", err)
			continue
		}
		var kerr error
		res[i].Kind, kerr = ReadKind(p, data)
		switch res[i].Kind {
		case KindSystem:
			res[i].System, res[i].Err = ParseSystem(p, data)
			if res[i].Err != nil {
				systemsFailed = true
			} else {
				systems = append(systems, res[i].System)
			}
		case KindFaults:
			res[i].Faults, res[i].Err = ParseFaults(p, data)
		case KindExperiment:
			// An experiment refers to files by paths relative to itself
			// and has fields only framework/experiment knows.
			res[i].Err = ErrorList{{File: p, Msg: "an experiment definition: check it with framework/experiment.CheckFile (vecro validate does)"}}
		case KindCampaign:
			// A campaign names its own system, so it is checked on its
			// own; framework/campaign.CheckFile adds what only the
			// expansion into experiments can tell.
			res[i].Campaign, res[i].Err = ParseCampaign(p, data)
		default:
			res[i].Err = ErrorList{kerr.(*Error)}
		}
	}
	for i := range res {
		ff := res[i].Faults
		if ff == nil {
			continue
		}
		sys, note, err := matchSystem(ff, systems, systemsFailed)
		switch {
		case err != nil:
			res[i].Err, res[i].Faults = err, nil
		case sys == nil:
			res[i].Note = note
		default:
			if err := CheckFaults(ff, sys); err != nil {
				res[i].Err, res[i].Faults = err, nil
			}
		}
	}
	return res
}

// matchSystem finds the system a fault file targets among systems.
func matchSystem(ff *FaultFile, systems []*System, systemsFailed bool) (*System, string, error) {
	if len(systems) == 0 {
		if systemsFailed {
			return nil, "targets not checked: the system files given have errors", nil
		}
		return nil, "targets not checked: give the system file too", nil
	}
	if ff.Namespace == "" {
		if len(systems) == 1 {
			return systems[0], "", nil
		}
		return nil, "", ErrorList{{File: ff.File, Line: ff.meta.line("namespace"), Field: "namespace",
			Msg: fmt.Sprintf("no namespace, and %d systems were given: name the namespace of the one these faults target", len(systems))}}
	}
	var match []*System
	for _, s := range systems {
		if s.EffectiveNamespace() == ff.Namespace {
			match = append(match, s)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], "", nil
	case len(match) > 1:
		return nil, "", ErrorList{{File: ff.File, Line: ff.meta.line("namespace"), Field: "namespace",
			Msg: fmt.Sprintf("namespace %q is used by %d systems given (%s): cannot tell which one these faults target", ff.Namespace, len(match), systemFiles(match))}}
	case systemsFailed:
		return nil, fmt.Sprintf("targets not checked: no valid system with namespace %q was given", ff.Namespace), nil
	case len(systems) == 1:
		// CheckFaults names the mismatch with the one system given.
		return systems[0], "", nil
	}
	return nil, "", ErrorList{{File: ff.File, Line: ff.meta.line("namespace"), Field: "namespace",
		Msg: fmt.Sprintf("namespace %q matches none of the systems given (%s)", ff.Namespace, systemFiles(systems))}}
}

func systemFiles(ss []*System) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s in %s", s.EffectiveNamespace(), s.File)
	}
	return strings.Join(out, ", ")
}

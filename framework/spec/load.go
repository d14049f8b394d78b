package spec

import (
	"fmt"
	"os"
)

// LoadSystem reads and validates a system definition file. A problem in the
// file is reported as an ErrorList naming path, line and field.
func LoadSystem(path string) (*System, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read system definition: %w", err)
	}
	return ParseSystem(path, data)
}

// ParseSystem decodes and validates a system definition; name is the file
// name its errors carry. All problems are collected into one ErrorList.
func ParseSystem(name string, data []byte) (*System, error) {
	if err := wrongKind(name, data, KindSystem); err != nil {
		return nil, err
	}
	var sys System
	d, ok := decodeFile(name, data, &sys)
	if !ok {
		return nil, d.errs.err()
	}
	sys.File, sys.meta = name, d.meta
	errs := append(d.errs, sys.problems()...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &sys, nil
}

// LoadFaults reads a fault definition file and checks it on its own; check
// it against its system with CheckFaults.
func LoadFaults(path string) (*FaultFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fault definition: %w", err)
	}
	return ParseFaults(path, data)
}

// ParseFaults decodes a fault definition and runs the checks that need no
// system (units, ranges, overlapping windows); name is the file name its
// errors carry.
func ParseFaults(name string, data []byte) (*FaultFile, error) {
	if err := wrongKind(name, data, KindFaults); err != nil {
		return nil, err
	}
	var ff FaultFile
	d, ok := decodeFile(name, data, &ff)
	if !ok {
		return nil, d.errs.err()
	}
	ff.File, ff.meta = name, d.meta
	errs := append(d.errs, ff.problems()...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &ff, nil
}

//go:build !unix

package local

import (
	"errors"
	"syscall"
)

// supported: without process groups this runtime cannot promise to leave
// nothing behind, so it refuses to start.
const supported = false

const hasPdeathsig = false

func sysProcAttr(bool) *syscall.SysProcAttr { return nil }

func signalGroup(int, syscall.Signal) error {
	return errors.New("process groups need a Unix system")
}

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

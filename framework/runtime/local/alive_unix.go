//go:build unix

package local

import (
	"errors"
	"syscall"
)

// ownerAlive asks the kernel with signal 0, which checks existence without
// delivering anything. EPERM means it exists but belongs to someone else.
func ownerAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

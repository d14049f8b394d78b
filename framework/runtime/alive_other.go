//go:build !unix

package runtime

import "os"

// processAlive: without signal 0, FindProcess is the best available probe
// (on Windows it opens the process, which fails once it has exited).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v; the image's tag names its content, not this.
const version = "vecro-pause 1"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version":
			fmt.Println(version)
			return
		default:
			fmt.Fprintf(os.Stderr, "pause: unknown argument %q (only -v)\n", os.Args[1])
			os.Exit(2)
		}
	}
	os.Exit(run())
}

// run blocks until SIGTERM or SIGINT and reaps every child that exits
// meanwhile. A buffered channel of one is enough for SIGCHLD: signals
// coalesce, so each delivery reaps all exited children, not just one.
func run() int {
	sigs := make(chan os.Signal, 1)
	chld := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	signal.Notify(chld, syscall.SIGCHLD)
	// Orphans that exited before the handler was installed.
	reap()
	for {
		select {
		case <-chld:
			reap()
		case <-sigs:
			reap()
			return 0
		}
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

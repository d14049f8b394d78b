// Package dbserver runs the real database servers that the storage service
// types (redis, mysql, mongodb) sit beside when a system runs on one machine:
// redis-server, MariaDB (mariadbd) and, for the MongoDB protocol, mongod
// where it is on PATH or else FerretDB (SQLite backend) from the tool cache
// (`make tools` builds it from the Go module proxy).
//
// Each server listens on 127.0.0.1 at a free port, keeps its data in its own
// temporary directory, and is ready to answer queries when Start returns.
// Stop ends it and removes its directory.
//
// # Nothing left behind
//
// Every server runs in its own process group, and Stop signals the whole
// group (SIGTERM, then SIGKILL after a grace period), even when the server
// itself has already died. On Linux each child also gets a parent-death
// signal (Pdeathsig = SIGKILL) so that a SIGKILLed parent takes its servers
// with it. The kernel ties that signal to the OS thread that forked the
// child, not to the process: a Go program may lose a thread (a goroutine that
// exits while locked to its thread takes the thread with it), which would kill
// the child early. So every child is started (internal/childproc) from one goroutine that locks
// itself to its OS thread and never returns, making the thread live exactly
// as long as the process. The parent-death signal is not inherited across
// fork: the bootstrap mariadbd that mariadb-install-db runs for about a second
// is covered only by its own end of input (it exits when the script dies).
//
// Data directories of a SIGKILLed parent stay behind under Options.Dir; give
// a run-scoped Dir so that whoever owns the run can remove them.
package dbserver

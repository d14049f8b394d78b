package local

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vecrosim/vecro/framework/metrics"
)

// tempPrefix starts the name of every temporary directory a runtime makes:
// "vecro-run-<pid>-…", so that a later runtime can remove those of a parent
// that was killed before it could (SIGKILL skips every cleanup).
const tempPrefix = "vecro-run-"

// mkTemp makes a temporary directory named after this process.
func mkTemp(what string) (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", tempPrefix, os.Getpid(), what))
}

// sweepTemp removes the temporary directories of runtimes whose process is
// gone. A directory whose owner still runs (or whose pid was reused) stays.
func sweepTemp(log *slog.Logger) {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), tempPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		p, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || ownerAlive(pid) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		if err := os.RemoveAll(dir); err != nil {
			log.Debug("remove stale run directory", "dir", dir, "err", err)
			continue
		}
		log.Info("removed the directory of a runtime that was killed", "dir", dir, "pid", pid)
	}
}

// ownedSource is the embedded metrics source with its TSDB directory, which
// Close removes: the directory is the runtime's (named for sweepTemp), not
// the source's.
type ownedSource struct {
	*metrics.Embedded
	dir string
}

// Close closes the source and removes its TSDB.
func (s ownedSource) Close() error {
	err := s.Embedded.Close()
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = fmt.Errorf("remove the metrics TSDB %s: %w", s.dir, rerr)
	}
	return err
}

var _ metrics.Source = ownedSource{}

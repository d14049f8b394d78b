package faultagent

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/spec"
)

// io-stress: workers writing and syncing files in the service's data dir.
//
// Model. Each worker owns one file in the data dir (hidden, named after the
// fault) and writes to it without pause: method write (the default,
// spec.IOMethods[0]) issues 1 MiB writes and never syncs (page-cache and
// write-back pressure); fsync writes 4 KiB and fsyncs after each write
// (journal and device latency, like a database committing); mixed writes
// 64 KiB at a time and fsyncs every 1 MiB (like the service's own io
// workload). No method reads. A file is truncated and
// rewritten from the start when it reaches 64 MiB, so the fault uses at most
// workers × 64 MiB of disk. The files are removed when the fault ends.
// Units: workers a count (default 1).
//
// Effect: io_bytes_written, io_syncs, io_errors (a worker stops at its first
// error, e.g. a full disk; the error is logged).
type ioStress struct {
	dir     string
	id      string
	method  string
	workers int
	log     *slog.Logger

	files  []*os.File
	stopCh chan struct{}
	wg     sync.WaitGroup

	bytes atomic.Int64
	syncs atomic.Int64
	errs  atomic.Int64
}

const (
	ioFileCap    = 64 << 20
	maxIOWorkers = 64
)

// ioMethods: write size and bytes between fsyncs (0: never).
var ioMethods = map[string]struct{ block, syncEvery int }{
	"write": {block: 1 << 20, syncEvery: 0},
	"fsync": {block: 4 << 10, syncEvery: 4 << 10},
	"mixed": {block: 64 << 10, syncEvery: 1 << 20},
}

func parseIOStress(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p spec.IOStress
	if err := decodeParams(f.Params, &p); err != nil {
		return nil, "", err
	}
	method := cmp.Or(p.Method, spec.IOMethods[0])
	if _, ok := ioMethods[method]; !ok || !slices.Contains(spec.IOMethods, method) {
		return nil, "", fmt.Errorf("method %q: want one of %s", p.Method, strings.Join(spec.IOMethods, ", "))
	}
	if p.Workers < 0 || p.Workers > maxIOWorkers {
		return nil, "", fmt.Errorf("workers %d: want 0 (one) to %d", p.Workers, maxIOWorkers)
	}
	workers := max(p.Workers, 1)
	if fi, err := os.Stat(a.dataDir); err != nil {
		return nil, "", fmt.Errorf("data dir: %w", err)
	} else if !fi.IsDir() {
		return nil, "", fmt.Errorf("data dir %s is not a directory", a.dataDir)
	}
	return &ioStress{dir: a.dataDir, id: f.ID, method: method, workers: workers, log: a.log}, f.Behavior, nil
}

func (s *ioStress) start() error {
	for i := range s.workers {
		name := filepath.Join(s.dir, fmt.Sprintf(".vecro-io-stress-%s-%d", s.id, i))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			s.closeFiles()
			return fmt.Errorf("io-stress: create %s: %w", name, err)
		}
		s.files = append(s.files, f)
	}
	s.stopCh = make(chan struct{})
	s.wg.Add(len(s.files))
	for _, f := range s.files {
		go s.work(f)
	}
	return nil
}

func (s *ioStress) stop() {
	close(s.stopCh)
	s.wg.Wait()
	s.closeFiles()
}

// closeFiles closes and removes the workers' files.
func (s *ioStress) closeFiles() {
	for _, f := range s.files {
		err := errors.Join(f.Close(), os.Remove(f.Name()))
		if err != nil {
			s.log.Warn("io-stress: remove file", "file", f.Name(), "err", err)
		}
	}
	s.files = nil
}

func (s *ioStress) effect() map[string]float64 {
	return map[string]float64{
		"io_bytes_written": float64(s.bytes.Load()),
		"io_syncs":         float64(s.syncs.Load()),
		"io_errors":        float64(s.errs.Load()),
	}
}

func (s *ioStress) work(f *os.File) {
	defer s.wg.Done()
	m := ioMethods[s.method]
	buf := make([]byte, m.block)
	x := uint64(len(f.Name())) + 1
	for i := range buf {
		buf[i] = byte(next(&x))
	}
	var off int64
	unsynced := 0
	for {
		select {
		case <-s.stopCh:
			return
		default:
		}
		if off+int64(len(buf)) > ioFileCap {
			off = 0
		}
		n, err := f.WriteAt(buf, off)
		off += int64(n)
		unsynced += n
		s.bytes.Add(int64(n))
		if err == nil && m.syncEvery > 0 && unsynced >= m.syncEvery {
			err = f.Sync()
			if err == nil {
				s.syncs.Add(1)
				unsynced = 0
			}
		}
		if err != nil {
			s.errs.Add(1)
			s.log.Error("io-stress worker stopped", "file", f.Name(), "err", err)
			return
		}
	}
}

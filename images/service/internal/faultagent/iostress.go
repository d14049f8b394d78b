package faultagent

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// io-stress: workers writing and syncing files in the service's data dir.
//
// Model. Each worker owns one file in the data dir (hidden, named after the
// fault) and writes to it without pause: method write (the default,
// behavior.IOMethods[0]) writes 1 MiB at a time and never syncs (page-cache and
// write-back pressure); fsync writes 4 KiB and fsyncs after each write
// (journal and device latency, like a database committing); mixed writes
// 64 KiB at a time and fsyncs every 1 MiB (like the service's own io
// workload). No method reads. A file is truncated and
// rewritten from the start when it reaches 64 MiB, so the fault uses at most
// workers × 64 MiB of disk. The files are removed when the fault ends.
// Units: workers a count (default 1).
//
// Switch-off. A worker checks for the end before every system call, and
// issues a 1 MiB write as 64 KiB calls: one big write held by the kernel's
// dirty-page throttling, and closing files with tens of MiB of dirty pages
// (the kernel frees their blocks in that close), made the fault end 10–115
// ms after its plan. Now the applied end comes once no worker is in a
// write or fsync and the names are unlinked; the descriptors are closed, and
// the blocks freed, after it. Freeing is the kernel's housekeeping, not the
// fault's load, as it would be when stress-ng's process exits.
//
// Effect: io_bytes_written, io_syncs, io_errors (a worker stops at its first
// error, e.g. a full disk; the error is logged).
type ioStress struct {
	dir     string
	id      string
	method  string
	workers int
	log     *slog.Logger

	files   []*os.File
	stopped atomic.Bool
	wg      sync.WaitGroup

	bytes atomic.Int64
	syncs atomic.Int64
	errs  atomic.Int64
}

const (
	ioFileCap = 64 << 20
	// ioCall is the most one write call asks for.
	ioCall = 64 << 10
)

// ioMethods: write size and bytes between fsyncs (0: never).
var ioMethods = map[string]struct{ block, syncEvery int }{
	"write": {block: 1 << 20, syncEvery: 0},
	"fsync": {block: 4 << 10, syncEvery: 4 << 10},
	"mixed": {block: 64 << 10, syncEvery: 1 << 20},
}

func parseIOStress(a *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.IOStress
	if err := decodeParams(f.Params, &p); err != nil {
		return nil, "", err
	}
	method := cmp.Or(p.Method, behavior.IOMethods[0])
	if _, ok := ioMethods[method]; !ok {
		// Validate knows the method; this agent does not implement it.
		return nil, "", fmt.Errorf("method %q: this agent does not implement it", method)
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
			s.closeFiles(false)
			return fmt.Errorf("io-stress: create %s: %w", name, err)
		}
		s.files = append(s.files, f)
	}
	s.wg.Add(len(s.files))
	for _, f := range s.files {
		go s.work(f)
	}
	return nil
}

func (s *ioStress) stop() {
	s.stopped.Store(true)
	s.wg.Wait()
	s.closeFiles(true)
}

// closeFiles removes the workers' files and closes them, in the background
// when lazy.
func (s *ioStress) closeFiles(lazy bool) {
	files := s.files
	s.files = nil
	for _, f := range files {
		if err := os.Remove(f.Name()); err != nil {
			s.log.Warn("io-stress: remove file", "file", f.Name(), "err", err)
		}
	}
	closeAll := func() {
		for _, f := range files {
			if err := f.Close(); err != nil {
				s.log.Warn("io-stress: close file", "file", f.Name(), "err", err)
			}
		}
	}
	if lazy {
		go closeAll()
		return
	}
	closeAll()
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
	for !s.stopped.Load() {
		if off+int64(len(buf)) > ioFileCap {
			off = 0
		}
		var err error
		for done := 0; done < len(buf) && err == nil && !s.stopped.Load(); {
			var n int
			n, err = f.WriteAt(buf[done:min(done+ioCall, len(buf))], off)
			done += n
			off += int64(n)
			unsynced += n
			s.bytes.Add(int64(n))
		}
		if err == nil && m.syncEvery > 0 && unsynced >= m.syncEvery && !s.stopped.Load() {
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

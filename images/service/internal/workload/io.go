package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// The original's io unit: N × 64 KiB in 1 KiB writes, fsync every 512 KiB.
const (
	IOUnit      = 64 << 10
	IOWriteSize = 1 << 10
	IOSyncEvery = 512 << 10
)

// ioBlock is the content of every write: not zeros, so that no layer can
// short-cut them.
var ioBlock = func() []byte {
	b := make([]byte, IOWriteSize)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// File is what WriteIO writes to: an *os.File, or a wrapper around one.
type File interface {
	io.Writer
	Sync() error
}

// WriteIO writes n × 64 KiB to f in 1 KiB writes and syncs it every 512 KiB
// and at the end. It stops between syncs when ctx ends. It returns the
// bytes written.
func WriteIO(ctx context.Context, f File, n int) (int64, error) {
	total := int64(n) * IOUnit
	var written int64
	for written < total {
		m, err := f.Write(ioBlock)
		written += int64(m)
		if err != nil {
			return written, fmt.Errorf("write: %w", err)
		}
		if written%IOSyncEvery == 0 || written == total {
			if err := f.Sync(); err != nil {
				return written, fmt.Errorf("fsync: %w", err)
			}
			if written < total {
				if err := ctx.Err(); err != nil {
					return written, context.Cause(ctx)
				}
			}
		}
	}
	return written, nil
}

// WriteTempFile runs WriteIO on a new file in dir and deletes the file.
func WriteTempFile(ctx context.Context, dir string, n int) (int64, error) {
	f, err := os.CreateTemp(dir, "vecro-io-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("io %d: %w", n, err)
	}
	written, err := WriteIO(ctx, f, n)
	err = errors.Join(err, f.Close(), os.Remove(f.Name()))
	if err != nil {
		return written, fmt.Errorf("io %d in %s: %w", n, f.Name(), err)
	}
	return written, nil
}

package faultagent

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"

	"github.com/vecrosim/vecro/framework/agent"
	"github.com/vecrosim/vecro/framework/behavior"
)

// mem-stress: size bytes allocated, touched and kept live while the fault is
// on.
//
// Model. On switch-on the agent allocates size bytes in 16 MiB blocks and
// writes one byte in every page, so the memory is really resident (RSS and
// the cgroup's working set show it), unlike the original service's untouched
// allocation. The blocks stay referenced until the fault ends; then they are
// dropped and debug.FreeOSMemory returns them to the kernel at once instead
// of when the scavenger gets to them. The applied start is taken after the
// last page is touched. Sizes above the machine's RAM are refused. Units:
// size in bytes (behavior.Size; the fault file may write "64MiB").
//
// Effect: memory_bytes_held, the bytes touched while the fault was on.
type memStress struct {
	size   int64
	blocks [][]byte
	held   atomic.Int64
}

const memBlock = 16 << 20

func parseMemStress(_ *Agent, f agent.Fault) (behaviour, string, error) {
	var p behavior.MemStress
	if err := decodeParams(f.Params, &p); err != nil {
		return nil, "", err
	}
	if total := totalMemory(); total > 0 && int64(p.Size) > total {
		return nil, "", fmt.Errorf("size %d bytes exceeds the machine's memory (%d bytes)", int64(p.Size), total)
	}
	return &memStress{size: int64(p.Size)}, f.Behavior, nil
}

func (m *memStress) start() error {
	page := os.Getpagesize()
	for left := m.size; left > 0; left -= memBlock {
		b := make([]byte, min(left, memBlock))
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		m.blocks = append(m.blocks, b)
		m.held.Add(int64(len(b)))
	}
	return nil
}

func (m *memStress) stop() {
	m.blocks = nil
	debug.FreeOSMemory()
}

func (m *memStress) effect() map[string]float64 {
	return map[string]float64{"memory_bytes_held": float64(m.held.Load())}
}

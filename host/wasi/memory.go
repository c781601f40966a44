package wasi

import (
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// The memory limit. wazero asks the allocator in the instantiation's
// context for every growth of the guest's linear memory; a growth past the
// limit is refused (memory.grow returns -1 to the guest) and recorded, and
// the instance is killed as the kernel's OOM killer kills a container over
// its cgroup limit. So ExitStatus.OOMKilled is a fact, never a guess from
// an exit code.

// limitedAllocator allocates the linear memory of one instance.
type limitedAllocator struct {
	limit uint64
	inst  *Instance
}

func (a *limitedAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	if capacity > a.limit {
		capacity = a.limit
	}
	return &limitedMemory{limit: a.limit, inst: a.inst, buf: make([]byte, 0, capacity)}
}

type limitedMemory struct {
	limit uint64
	inst  *Instance
	buf   []byte
}

func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.inst.end(true, fmt.Sprintf("out of memory: linear memory of %d bytes refused growth to %d bytes (limit %d)",
			len(m.buf), size, m.limit))
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow as append does (double, then by a quarter), never past the
	// limit, so that a guest growing page by page is not copied each time.
	newCap := uint64(cap(m.buf)) * 2
	if newCap > 1<<28 {
		newCap = uint64(cap(m.buf)) + uint64(cap(m.buf))/4
	}
	if newCap < size {
		newCap = size
	}
	if newCap > m.limit {
		newCap = m.limit
	}
	nb := make([]byte, size, newCap)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

func (m *limitedMemory) Free() { m.buf = nil }

// minMemoryBytes is the initial size of the module's memory.
func minMemoryBytes(mod wazero.CompiledModule) uint64 {
	var min uint64
	for _, d := range mod.ExportedMemories() {
		min = max(min, uint64(d.Min())*65536)
	}
	for _, d := range mod.ImportedMemories() {
		min = max(min, uint64(d.Min())*65536)
	}
	return min
}

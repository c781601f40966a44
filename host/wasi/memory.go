package wasi

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// The memory limit. wazero asks the allocator in the instantiation's
// context for every growth of the guest's linear memory; a growth past the
// limit is refused (memory.grow returns -1 to the guest) and recorded, and
// the instance is killed as the kernel's OOM killer kills a container over
// its cgroup limit. So ExitStatus.OOMKilled is a fact, never a guess from
// an exit code. The limit counts the guest's tables at their most
// (tables.go): linear memory may grow to the limit minus the tables.
//
// Linear memory lives outside Go's heap, in an anonymous private mapping
// grown with mremap(2). A growth moves page tables, never bytes, so the old
// and the new memory are never both resident (a Go slice grown by copying
// was, and the old one stayed until a collection and the scavenger: a
// guest at its limit took 2.3 times the limit), and the node's resident
// memory follows the pages the guest has touched, which is what a cgroup
// would charge it. The mapping grows as append grows a slice (doubling, a
// quarter at a time past 256 MiB), never past the limit, so that a guest
// growing page by page does not remap each time; pages mapped but not yet
// the guest's are never touched, and cost address space only (a few times
// the guest's memory, which fits 32-bit arm's 3 GiB as the guests do).

// memoryAllocator allocates the linear memory of one instance.
type memoryAllocator struct {
	inst *Instance
	// limit is what linear memory may reach; the container's limit until
	// the tables are known, then the limit minus the tables.
	limit uint64
	// mems are the memories it mapped (one: wazero runs a single memory).
	mems []*linearMemory
	// pool is the node's, nil for none; taken is what this instance holds
	// of it (guarded by the pool's lock).
	pool  *MemoryPool
	taken uint64
}

// newAllocator is the allocator of an instance with a memory limit of
// limit bytes (0: none beyond the module's own maximum), drawing on pool.
func (i *Instance) newAllocator(limit uint64, pool *MemoryPool) *memoryAllocator {
	if limit == 0 {
		limit = math.MaxUint64
	}
	i.mem = &memoryAllocator{inst: i, limit: limit, pool: pool}
	return i.mem
}

// MemoryPool is the memory every guest of a node may use together, the
// node's allocatable memory. Each container's limit keeps one guest from
// taking the node; the pool keeps many from doing it together: a pod of a
// hundred containers, or a thousand pods, each under its own limit but
// over the machine's memory all told. Kubernetes has the kernel's OOM
// killer for this, and the pool does what it does: when a growth does not
// fit, the guest that holds the most is OOMKilled, and the guest that
// asked waits for its memory to come back (at most oomWait). So a web
// guest growing a page is not the one to die because a hog took the rest;
// the asker is refused, as at its own limit, only when it holds the most
// itself, or when no memory came back in time.
type MemoryPool struct {
	limit uint64

	mu      sync.Mutex
	used    uint64
	holders map[*memoryAllocator]struct{}
	freed   chan struct{} // closed and replaced when memory comes back
}

// oomWait bounds how long a growth waits for the memory of a guest killed
// to make room for it (a killed guest ends within milliseconds).
const oomWait = 5 * time.Second

// NewMemoryPool returns a pool of limit bytes.
func NewMemoryPool(limit uint64) *MemoryPool {
	return &MemoryPool{limit: limit, holders: map[*memoryAllocator]struct{}{}, freed: make(chan struct{})}
}

// Used is what the guests hold of the pool now.
func (p *MemoryPool) Used() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Limit is the pool's size.
func (p *MemoryPool) Limit() uint64 { return p.limit }

// take draws n bytes for a, killing the largest holder to make room when
// it must (see MemoryPool).
func (p *MemoryPool) take(a *memoryAllocator, n uint64) bool {
	var timeout <-chan time.Time
	for {
		p.mu.Lock()
		if n <= p.limit && p.used <= p.limit-n {
			p.used += n
			a.taken += n
			p.holders[a] = struct{}{}
			p.mu.Unlock()
			return true
		}
		victim, most := a, a.taken
		for h := range p.holders {
			if h.taken > most {
				victim, most = h, h.taken
			}
		}
		freed := p.freed
		p.mu.Unlock()
		if victim == a {
			return false
		}
		victim.inst.end(true, fmt.Sprintf("out of memory: killed to make room in the node's memory for guests (%d bytes), of which it held the most (%d bytes)",
			p.limit, most))
		if timeout == nil {
			t := time.NewTimer(oomWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-freed:
		case <-timeout:
			return false
		case <-a.inst.kill:
			return false
		}
	}
}

// give returns what a holds.
func (p *MemoryPool) give(a *memoryAllocator) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.taken == 0 {
		return
	}
	p.used -= a.taken
	a.taken = 0
	delete(p.holders, a)
	close(p.freed)
	p.freed = make(chan struct{})
}

// take draws n more bytes from the node's pool for this instance.
func (a *memoryAllocator) take(n uint64) bool {
	return a.pool == nil || n == 0 || a.pool.take(a, n)
}

func (a *memoryAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	m := &linearMemory{a: a, max: max}
	a.mems = append(a.mems, m)
	return m
}

// countTables takes the module's tables out of the limit of its linear
// memory. It returns why the instance cannot start, "" when it can.
func (a *memoryAllocator) countTables(m api.Module) string {
	tables := tableBytes(m)
	if a.limit == math.MaxUint64 || tables == 0 {
		return ""
	}
	var used uint64
	for _, lm := range a.mems {
		used += uint64(len(lm.buf))
	}
	if tables > a.limit || used > a.limit-tables {
		return fmt.Sprintf("out of memory: the module's tables may take %d bytes and its memory %d at start, over its limit of %d",
			tables, used, a.limit)
	}
	if !a.take(tables) {
		return fmt.Sprintf("out of memory: the module's tables may take %d bytes, more than the node's memory for guests has left (%d of %d bytes in use)",
			tables, a.pool.Used(), a.pool.Limit())
	}
	a.limit -= tables
	return ""
}

// release unmaps the memories. Only the guest's goroutine calls it, once
// the guest no longer runs: after its _start returned and its module was
// closed, or when it never ran.
func (a *memoryAllocator) release() {
	if a == nil {
		return
	}
	for _, m := range a.mems {
		m.release()
	}
	a.mems = nil
	if a.pool != nil {
		a.pool.give(a)
	}
}

// linearMemory is one linear memory.
type linearMemory struct {
	a   *memoryAllocator
	max uint64 // the module's maximum, in bytes
	// mapping is the whole mapping (as unix.Mremap and Munmap take it), nil
	// before the first growth; buf is the guest's memory, a prefix of it.
	mapping []byte
	buf     []byte
	// started: the initial allocation is done. Start took it from the
	// pool before instantiating (wazero panics when an initial allocation
	// is refused), so only later growth is taken here.
	started bool
}

// mappingAlign is the unit mappings grow by: a wasm page, a multiple of
// every page size Linux uses (4, 16 and 64 KiB).
const mappingAlign = 64 << 10

// maxMapping is the largest mapping a slice can hold: 2 GiB less a page on
// 32-bit systems.
const maxMapping = uint64(math.MaxInt) &^ (mappingAlign - 1)

func (m *linearMemory) Reallocate(size uint64) []byte {
	limit := m.a.limit
	if size > limit {
		m.a.inst.end(true, fmt.Sprintf("out of memory: linear memory of %d bytes refused growth to %d bytes (limit %d)",
			len(m.buf), size, limit))
		return nil
	}
	initial := !m.started
	m.started = true
	if !initial && size > uint64(len(m.buf)) && !m.a.take(size-uint64(len(m.buf))) {
		p := m.a.pool
		m.a.inst.end(true, fmt.Sprintf("out of memory: linear memory of %d bytes refused growth to %d bytes: the node's memory for guests is taken (%d of %d bytes in use)",
			len(m.buf), size, p.Used(), p.Limit()))
		return nil
	}
	if size <= uint64(len(m.mapping)) {
		m.buf = m.mapping[:size]
		return m.buf
	}
	if size > maxMapping {
		m.a.inst.end(true, fmt.Sprintf("out of memory: linear memory of %d bytes does not fit this node's address space", size))
		return nil
	}
	// Grow as append does, never past the limit, the module's maximum or
	// what a slice can hold.
	have := uint64(len(m.mapping))
	want := have * 2
	if have > 1<<28 {
		want = have + have/4
	}
	want = min(want, limit, m.max, maxMapping)
	want = max(want&^(mappingAlign-1), (size+mappingAlign-1)&^(mappingAlign-1))
	var (
		b   []byte
		err error
	)
	if m.mapping == nil {
		b, err = unix.Mmap(-1, 0, int(want), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	} else {
		b, err = unix.Mremap(m.mapping, int(want), unix.MREMAP_MAYMOVE)
	}
	if err != nil {
		m.a.inst.end(true, fmt.Sprintf("out of memory: linear memory of %d bytes could not grow to %d bytes on the node: %v",
			len(m.buf), size, err))
		return nil
	}
	m.mapping = b
	m.buf = b[:size]
	return m.buf
}

// Free does nothing: the mapping outlives it until release. wazero frees a
// module's memory when the module is closed, and Runtime.Close closes
// modules from its own goroutine while their guests may still run; an
// unmapped memory would turn the guest's next access into a fault that
// ends the whole process.
func (m *linearMemory) Free() {}

func (m *linearMemory) release() {
	if m.mapping != nil {
		unix.Munmap(m.mapping)
	}
	m.mapping, m.buf = nil, nil
}

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

// oomAtStart ends an instance that cannot run within its memory limit,
// or whose start function was refused memory, as OOMKilled.
func (i *Instance) oomAtStart(msg string) (*Instance, error) {
	i.fds.closeAll()
	i.oom.Store(true)
	if msg == "" {
		msg, _ = i.oomMsg.Load().(string)
	}
	i.status = ExitStatus{Code: ExitCodeKilled, OOMKilled: true, Message: msg}
	close(i.done)
	return i, nil
}

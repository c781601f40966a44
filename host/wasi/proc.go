package wasi

import (
	"io"
	"math"
	"runtime"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Clock ids of clock_time_get and clock_res_get.
const (
	clockRealtime        = 0
	clockMonotonic       = 1
	clockProcessCPUTime  = 2
	clockThreadCPUTime   = 3
	clockResolutionNanos = 1000
	// randomChunk is how much random_get fills between looks for a kill.
	randomChunk = 1 << 20
)

func argsGet(i *Instance, mem api.Memory, s []uint64) errno {
	return writeStrings(mem, i.args, u32(s[0]), u32(s[1]))
}

func argsSizesGet(i *Instance, mem api.Memory, s []uint64) errno {
	return writeStringSizes(mem, i.args, u32(s[0]), u32(s[1]))
}

func environGet(i *Instance, mem api.Memory, s []uint64) errno {
	return writeStrings(mem, i.env, u32(s[0]), u32(s[1]))
}

func environSizesGet(i *Instance, mem api.Memory, s []uint64) errno {
	return writeStringSizes(mem, i.env, u32(s[0]), u32(s[1]))
}

// writeStrings writes each string NUL-terminated from buf, and a pointer to
// each in the array at ptrs. Both areas are checked whole before anything
// is written: the addresses of the later strings would otherwise wrap
// around at the end of a 4 GiB memory, and a guest given EFAULT would find
// half of the list written.
func writeStrings(mem api.Memory, list []string, ptrs, buf uint32) errno {
	size := uint64(0)
	for _, s := range list {
		size += uint64(len(s)) + 1
	}
	if !fits(mem, ptrs, 4*uint64(len(list))) || !fits(mem, buf, size) {
		return errnoFault
	}
	for n, s := range list {
		if !mem.WriteUint32Le(ptrs+uint32(4*n), buf) {
			return errnoFault
		}
		if !mem.WriteString(buf, s) || !mem.WriteByte(buf+uint32(len(s)), 0) {
			return errnoFault
		}
		buf += uint32(len(s)) + 1
	}
	return errnoSuccess
}

func writeStringSizes(mem api.Memory, list []string, countPtr, sizePtr uint32) errno {
	size := 0
	for _, s := range list {
		size += len(s) + 1
	}
	if !mem.WriteUint32Le(countPtr, uint32(len(list))) || !mem.WriteUint32Le(sizePtr, uint32(size)) {
		return errnoFault
	}
	return errnoSuccess
}

func clockResGet(i *Instance, mem api.Memory, s []uint64) errno {
	switch u32(s[0]) {
	case clockRealtime, clockMonotonic, clockProcessCPUTime, clockThreadCPUTime:
	default:
		return errnoInval
	}
	if !mem.WriteUint64Le(u32(s[1]), clockResolutionNanos) {
		return errnoFault
	}
	return errnoSuccess
}

func clockTimeGet(i *Instance, mem api.Memory, s []uint64) errno {
	t, e := i.now(u32(s[0]))
	if e != errnoSuccess {
		return e
	}
	if !mem.WriteUint64Le(u32(s[2]), t) {
		return errnoFault
	}
	return errnoSuccess
}

// now reads clock id in nanoseconds. The monotonic clock counts the time
// since the instance started (through the monotonic reading Go keeps in a
// time.Time) from the wall time it started at; the CPU time clocks are the
// monotonic one, as a guest cannot tell them apart.
func (i *Instance) now(id uint32) (uint64, errno) {
	switch id {
	case clockRealtime:
		return uint64(i.clock.Now().UnixNano()), errnoSuccess
	case clockMonotonic, clockProcessCPUTime, clockThreadCPUTime:
		return i.monotonic(), errnoSuccess
	}
	return 0, errnoInval
}

func (i *Instance) monotonic() uint64 {
	return uint64(i.clock.Since(i.started)) + uint64(i.started.UnixNano())
}

// randomGet fills the buffer in place, a chunk at a time: a guest may ask
// for the whole of its memory, seconds of work, and a kill must not wait
// for it.
func randomGet(i *Instance, mem api.Memory, s []uint64) errno {
	buf, ok := mem.Read(u32(s[0]), u32(s[1]))
	if !ok {
		return errnoFault
	}
	for len(buf) > 0 {
		if i.isKilled() {
			return errnoIntr
		}
		n := min(len(buf), randomChunk)
		if _, err := io.ReadFull(i.rand, buf[:n]); err != nil {
			return errnoIo
		}
		buf = buf[n:]
	}
	return errnoSuccess
}

func procExit(i *Instance, mem api.Memory, s []uint64) errno {
	// The panic unwinds the guest; wazero returns it from _start's Call.
	panic(sys.NewExitError(u32(s[0])))
}

// procRaise: signals do not exist in preview1 (the function was removed
// from later snapshots); a guest that raises one gets ENOSYS.
func procRaise(i *Instance, mem api.Memory, s []uint64) errno { return errnoNosys }

func schedYield(i *Instance, mem api.Memory, s []uint64) errno {
	runtime.Gosched()
	return errnoSuccess
}

func u32(v uint64) uint32 { return uint32(v) }

// fits reports whether n bytes at ptr are inside the guest's memory, for
// any n (wazero's Read takes a 32-bit length).
func fits(mem api.Memory, ptr uint32, n uint64) bool {
	if n > math.MaxUint32 {
		return false
	}
	_, ok := mem.Read(ptr, uint32(n))
	return ok
}

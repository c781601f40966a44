package host

import (
	"fmt"
	"syscall"
)

// Limits are what one container may use of the node when its pod names no
// limit, and the caps no pod can lift. Kubernetes leaves a container without
// limits unbounded and relies on the kernel's OOM killer and cgroups to keep
// the node alive; a wasmlet node has one process for every pod, so an
// unbounded guest would take every other pod down with it. Every container
// therefore runs under these defaults unless its pod asks for its own
// (docs/guest-abi.md lists them and what happens at each).
type Limits struct {
	// Memory is the memory limit, in bytes, of a container without
	// resources.limits.memory: linear memory, tables and what the node
	// allocates on the guest's behalf.
	Memory int64
	// CPUMilli is the CPU limit, in millicores, of a container without
	// resources.limits.cpu; NoCPULimit leaves such a container unthrottled.
	CPUMilli int64
	// OpenFiles caps the descriptors one container instance may hold open,
	// its pre-opened ones included.
	OpenFiles int
	// EmptyDir is the sizeLimit, in bytes, of an emptyDir volume without
	// one.
	EmptyDir int64
	// PodsMemory is the memory, in bytes, that every container of the
	// node may use together, the node's allocatable memory: a growth past
	// it is refused and the guest that asked is OOMKilled, whatever its
	// own limit (wasi.MemoryPool). Default: three quarters of the
	// machine's memory.
	PodsMemory int64
}

// Default limits of a node (wasmlet serve's flags show and change them).
const (
	DefaultMemoryLimit   = 512 << 20
	DefaultCPULimitMilli = 1000
	DefaultOpenFiles     = 1024
	DefaultEmptyDirLimit = 1 << 30
)

// NoCPULimit as Limits.CPUMilli: containers without a CPU limit of their
// own are not throttled.
const NoCPULimit = -1

// DefaultLimits returns the node's defaults.
func DefaultLimits() Limits {
	return Limits{
		Memory:    DefaultMemoryLimit,
		CPUMilli:  DefaultCPULimitMilli,
		OpenFiles: DefaultOpenFiles,
		EmptyDir:  DefaultEmptyDirLimit,
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.CPUMilli == 0 {
		l.CPUMilli = d.CPUMilli
	}
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = d.OpenFiles
	}
	if l.EmptyDir == 0 {
		l.EmptyDir = d.EmptyDir
	}
	if l.PodsMemory == 0 {
		l.PodsMemory = defaultPodsMemory()
	}
	return l
}

// validate names the first limit that cannot be used.
func (l Limits) validate() error {
	switch {
	case l.Memory < 0:
		return fmt.Errorf("default memory limit %d is negative", l.Memory)
	case l.CPUMilli < NoCPULimit:
		return fmt.Errorf("default CPU limit %dm is negative", l.CPUMilli)
	case l.OpenFiles < 0:
		return fmt.Errorf("open files limit %d is negative", l.OpenFiles)
	case l.PodsMemory < 0:
		return fmt.Errorf("memory for pods %d is negative", l.PodsMemory)
	case l.EmptyDir < 0:
		return fmt.Errorf("default emptyDir size limit %d is negative", l.EmptyDir)
	}
	return nil
}

// defaultPodsMemory is three quarters of the machine's memory, leaving the
// rest to the node's own process (store, API, compiled code) and the
// system, as a kubelet's system-reserved and eviction threshold do; 4 GiB
// when the machine does not say.
func defaultPodsMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 4 << 30
	}
	total := uint64(si.Totalram) * uint64(si.Unit)
	return int64(min(total/4*3, 1<<62))
}

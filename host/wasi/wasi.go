// Package wasi is the host's own WASI preview1 layer: a wazero host module
// named wasi_snapshot_preview1 whose state lives per instance, so that the
// host owns every socket, pipe and file of a guest, can wait for readiness on
// Go's netpoller, and can end every blocking call when the pod is killed.
//
// It uses wazero's public API only, and never touches a file outside the
// directories it is given nor a socket it was not handed.
//
// An instance finds its state through the context of the call into the
// guest: Start puts the *Instance in the context it passes to wazero, and
// wazero hands that context to every host function the guest calls. No table
// of instances exists, so nothing outlives an instance by accident.
//
// A guest that runs its own code, rather than waiting in a host call, is
// stopped in one of three ways. A module compiled by Compile carries a stop
// flag that it checks at the head of every loop, and Kill sets it; it also
// returns to Go (wasmlet.yield) every so many loop heads and entries of
// functions that call, so that the garbage collector can pause it, its
// CPU limit and the run slots apply, and Kill ends it even in a recursion
// without loops (see Instrument, cpu.go). That is how a node runs guests
// on wazero's compiler. A module compiled by CompileWithYields has the
// yields only, and Kill ends it at the next one, which reads what Kill
// wrote through an atomic: that is how a node runs guests on wazero's
// interpreter (32-bit arm; the tests under the race detector), whose
// reads of the flag would be Go code racing with Kill's write. Any other
// module needs a runtime created with wazero's
// WithCloseOnContextDone(true), whose checks Kill triggers by cancelling
// the context of the call; such a guest has no CPU limit.
package wasi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// Mount is one pre-opened directory.
type Mount struct {
	// GuestPath is the path the guest sees ("/data").
	GuestPath string
	// Root is the directory on the node, opened by the host; every access
	// of the guest is resolved under it. The layer never opens a mount by
	// its path: the directory the host resolved is the one the guest gets,
	// whatever is renamed or linked on the way to it afterwards. The
	// instance owns Root from Start on (it closes it when it ends, and
	// Start closes it when it fails); Config.Release closes it otherwise.
	Root     *os.Root
	ReadOnly bool
	// Quota, when not nil, is the size limit of the volume the directory
	// is in, shared by every mount of that volume.
	Quota *Quota
}

// Listener is one pre-opened socket, bound by the host.
type Listener struct {
	// Name is the port's name for LISTEN_FDNAMES ("" becomes "unknown").
	Name string
	// L is a *net.TCPListener the host bound; the instance closes it when it
	// ends.
	L net.Listener
}

// Config is what one instance is given.
type Config struct {
	Args []string
	// Env is "KEY=VALUE" pairs, in order.
	Env    []string
	Stdout io.Writer
	Stderr io.Writer
	// Mounts become pre-opened fds 3.., in order.
	Mounts []Mount
	// Listeners follow the mounts as pre-opened fds; the layer adds
	// LISTEN_FDS, LISTEN_FDNAMES and LISTEN_FDS_START to Env.
	Listeners []Listener
	// MemoryLimitBytes caps the guest's memory: its linear memory and, for
	// a module prepared by Compile or CompileWithoutStopChecks, its tables
	// (tables.go); 0 = no limit beyond the module's own maximum.
	MemoryLimitBytes uint64
	// MemoryPool, when set, is shared by every instance of a node: their
	// linear memories and tables together stay within it, whatever each
	// one's own limit (nil = no bound but each instance's).
	MemoryPool *MemoryPool
	// CPUMilli is the guest's CPU limit in millicores (resources.limits.cpu,
	// throttled as CFS does, cpu.go); 0 = none.
	CPUMilli int64
	// RunSlots, when not nil, is the node's bound on guests running their
	// own code at once (cpu.go), shared by all its instances.
	RunSlots *RunSlots
	// MaxOpenFiles caps the fds the instance holds, the pre-opened ones
	// included: a call that would open one more fails with EMFILE, as
	// Linux's calls do at RLIMIT_NOFILE. 0 (or more than 65536) = 65536.
	MaxOpenFiles int
	// Clock drives clock_time_get, poll_oneoff timeouts and sleeps; nil = the
	// real clock.
	Clock clock.Clock
	// Rand feeds random_get; nil = crypto/rand.
	Rand io.Reader
}

// ExitStatus is how an instance ended.
type ExitStatus struct {
	// Code: proc_exit's code; 134 (128+6) for a trap; 137 when killed or
	// out of memory.
	Code uint32
	// OOMKilled: the guest was refused memory growth beyond its limit and
	// was killed for it.
	OOMKilled bool
	// Killed: ended by Kill (or by the end of Start's context).
	Killed bool
	// Message describes a trap or a start error ("" for a plain exit).
	Message string
}

// Exit codes the layer gives on its own.
const (
	ExitCodeTrap   = 128 + 6 // SIGABRT
	ExitCodeKilled = 128 + 9 // SIGKILL
)

// ModuleName is the name of the host module guests import.
const ModuleName = "wasi_snapshot_preview1"

// Errors of Start and Instantiate.
var (
	// ErrNoStart: the module exports no _start (it is not a WASI command).
	ErrNoStart = errors.New("wasi: the module exports no _start function")
	// ErrListener: a listener cannot be handed over (not a TCP listener).
	ErrListener = errors.New("wasi: listener cannot be handed over")
	// ErrNotStarted: a guest called the layer without being started by
	// Start (instantiated directly in the runtime).
	ErrNotStarted = errors.New("wasi: module was not started by wasi.Start")
)

// Instance is one running guest.
type Instance struct {
	clock   clock.Clock
	started time.Time // for the monotonic clock
	rand    io.Reader
	args    []string
	env     []string

	fds fdTable

	// terminated ends with Terminate: stdin reaches EOF. A context rather
	// than a channel, so that a wait can ask to be ended by it
	// (context.AfterFunc) without a goroutine of its own.
	terminated context.Context
	terminate  context.CancelFunc

	kill     chan struct{} // closed by Kill
	killOnce sync.Once
	killed   atomic.Bool
	oom      atomic.Bool
	oomMsg   atomic.Value // string
	cancel   context.CancelFunc

	// stop is the module's stop flag (StopGlobal), nil when the module has
	// none or has ended. stopMu orders Kill's write with Start and run.
	stopMu sync.Mutex
	stop   api.MutableGlobal

	mem         *memoryAllocator // its linear memory (memory.go)
	stackBudget int32            // its call stack's budget (callstack.go)
	cpu         cpuState         // its CPU limit and run slot (cpu.go)

	done   chan struct{}
	status ExitStatus
}

type instanceKey struct{}

// Instantiate registers the layer's host module in rt. It must be called
// once per runtime, before any guest is started.
func Instantiate(ctx context.Context, rt wazero.Runtime) error {
	if err := instantiateYield(ctx, rt); err != nil {
		return err
	}
	b := rt.NewHostModuleBuilder(ModuleName)
	for _, f := range hostFuncs() {
		var results []api.ValueType
		if !f.noResult {
			results = []api.ValueType{api.ValueTypeI32}
		}
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.wrap(), f.params, results).
			WithName(f.name).
			Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// Start runs the compiled command module's _start in its own goroutine.
// An error here (a listener that cannot be handed over, a mount that cannot
// be opened, a module that does not link) means nothing started and every
// listener in cfg was closed. When ctx ends, the instance is killed.
func Start(ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule, cfg Config) (*Instance, error) {
	if _, ok := mod.ExportedFunctions()["_start"]; !ok {
		cfg.Release()
		return nil, ErrNoStart
	}
	i, err := newInstance(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		i.fds.closeAll()
		cfg.Release()
		return nil, err
	}

	// A module whose initial memory is already over the limit is killed
	// at once, as a container whose first allocation exceeds its limit.
	if limit := cfg.MemoryLimitBytes; limit > 0 {
		if min := minMemoryBytes(mod); min > limit {
			return i.oomAtStart(fmt.Sprintf("out of memory: the module needs %d bytes of memory at start, over its limit of %d", min, limit))
		}
	}

	// The guest runs under a context of its own: Kill cancels it, which
	// ends the layer's waits, and which wazero watches when the runtime has
	// WithCloseOnContextDone; ctx's values pass through.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	i.cancel = cancel
	runCtx = context.WithValue(runCtx, instanceKey{}, i)
	runCtx = experimental.WithMemoryAllocator(runCtx, i.newAllocator(cfg.MemoryLimitBytes, cfg.MemoryPool))
	if min := minMemoryBytes(mod); !i.mem.take(min) {
		cancel()
		return i.oomAtStart(fmt.Sprintf("out of memory: the module needs %d bytes of memory at start, more than the node's memory for guests has left (%d of %d bytes in use)",
			min, cfg.MemoryPool.Used(), cfg.MemoryPool.Limit()))
	}
	i.initCPU(cfg, mod)
	m, err := rt.InstantiateModule(runCtx, mod, moduleConfig)
	if err != nil {
		cancel()
		i.cpuStop()
		i.mem.release()
		if i.oom.Load() { // its start function was refused memory
			return i.oomAtStart("")
		}
		return fail(err)
	}
	if msg := i.mem.countTables(m); msg != "" {
		cancel()
		i.cpuStop()
		m.Close(context.WithoutCancel(ctx))
		i.mem.release()
		return i.oomAtStart(msg)
	}
	i.stackBudget = StackBudget(cfg.MemoryLimitBytes)
	setStackBudget(m, i.stackBudget)
	if g, ok := m.ExportedGlobal(StopGlobal).(api.MutableGlobal); ok {
		i.stopMu.Lock()
		i.stop = g
		i.stopMu.Unlock()
		if i.isKilled() { // killed while it was instantiated
			i.raiseStop()
		}
	}
	stop := context.AfterFunc(ctx, i.Kill)
	go i.run(runCtx, m, stop)
	return i, nil
}

// moduleConfig is every instance's wazero configuration: no name (guests
// of the same module run side by side), and no start function (Start calls
// _start itself). Its random source is crypto/rand's, which costs nothing to
// set up: without one, wazero seeds a deterministic generator for every
// instance (a fifth of a tiny guest's start), which the layer never reads,
// since random_get is the layer's.
var moduleConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(rand.Reader)

// newInstance opens the fds of cfg (releasing cfg when it fails).
func newInstance(cfg Config) (*Instance, error) {
	i := &Instance{
		clock: cfg.Clock,
		rand:  cfg.Rand,
		args:  cfg.Args,
		kill:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	i.terminated, i.terminate = context.WithCancel(context.Background())
	if i.clock == nil {
		i.clock = clock.Real()
	}
	i.started = i.clock.Now()
	if i.rand == nil {
		i.rand = rand.Reader
	}
	if err := i.fds.init(cfg); err != nil {
		i.fds.closeAll()
		cfg.Release()
		return nil, err
	}
	i.env = listenEnv(cfg)
	return i, nil
}

// Release closes what cfg holds, its mounts' roots and its listeners: for
// a Config that is not handed to Start after all. Start itself releases
// cfg when it fails, and the instance releases it when it ends.
func (cfg Config) Release() {
	for _, m := range cfg.Mounts {
		if m.Root != nil {
			m.Root.Close()
		}
	}
	for _, l := range cfg.Listeners {
		if l.L != nil {
			l.L.Close()
		}
	}
}

func (i *Instance) run(ctx context.Context, m api.Module, stop func() bool) {
	var err error
	if i.cpuResume(true) { // false: killed while it waited for a run slot
		_, err = m.ExportedFunction("_start").Call(ctx)
	}
	i.cpuStop()
	stop()
	st := ExitStatus{}
	var exit *sys.ExitError
	switch {
	case i.oom.Load():
		msg, _ := i.oomMsg.Load().(string)
		st = ExitStatus{Code: ExitCodeKilled, OOMKilled: true, Message: msg}
	case i.killed.Load():
		st = ExitStatus{Code: ExitCodeKilled, Killed: true}
	case err == nil:
	case errors.As(err, &exit):
		st.Code = exit.ExitCode()
	case stackExhausted(m):
		st = ExitStatus{Code: ExitCodeTrap, Message: stackMessage(i.stackBudget, err)}
	default:
		st = ExitStatus{Code: ExitCodeTrap, Message: err.Error()}
	}
	i.fds.closeAll()
	i.stopMu.Lock()
	i.stop = nil
	i.stopMu.Unlock()
	m.Close(context.WithoutCancel(ctx))
	i.mem.release()
	i.cancel()
	i.status = st
	close(i.done)
}

// Terminate delivers SIGTERM: the guest's stdin reaches end-of-file.
func (i *Instance) Terminate() {
	i.terminate()
}

// Kill ends the guest: every blocking call returns within 10 ms, the module
// is closed with exit code 137, and every fd of the instance is closed.
func (i *Instance) Kill() { i.end(false, "") }

// end kills the instance, for Kill or for refused memory growth.
func (i *Instance) end(oom bool, msg string) {
	i.killOnce.Do(func() {
		if oom {
			i.oomMsg.Store(msg)
			i.oom.Store(true)
		}
		i.killed.Store(true)
		i.raiseStop()
		close(i.kill)
		if i.cancel != nil {
			i.cancel()
		}
		// Closing the sockets wakes every wait on the netpoller.
		i.fds.closeAll()
	})
}

// raiseStop sets the module's stop flag, if it has one: the guest traps at
// the next loop head it reaches. The write is a plain store that compiled
// code reads at every check; the lock keeps Go's own accesses (Start's and
// run's) ordered with it.
func (i *Instance) raiseStop() {
	i.stopMu.Lock()
	defer i.stopMu.Unlock()
	if i.stop != nil {
		i.stop.Set(1)
	}
}

// Done is closed when the instance has ended and released everything.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Wait blocks until the instance ends and returns how.
func (i *Instance) Wait() ExitStatus {
	<-i.done
	return i.status
}

// isKilled reports whether Kill was called.
func (i *Instance) isKilled() bool { return i.killed.Load() }

// listenEnv is cfg.Env with the socket-activation variables for the
// listeners; variables of those names already in cfg.Env are dropped so that
// the guest reads the layer's.
func listenEnv(cfg Config) []string {
	if len(cfg.Listeners) == 0 {
		return cfg.Env
	}
	env := make([]string, 0, len(cfg.Env)+3)
	for _, kv := range cfg.Env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LISTEN_FDS" || k == "LISTEN_FDNAMES" || k == "LISTEN_FDS_START" {
			continue
		}
		env = append(env, kv)
	}
	names := make([]string, len(cfg.Listeners))
	for n, l := range cfg.Listeners {
		names[n] = l.Name
		if names[n] == "" {
			names[n] = "unknown"
		}
	}
	return append(env,
		"LISTEN_FDS="+strconv.Itoa(len(cfg.Listeners)),
		"LISTEN_FDNAMES="+strings.Join(names, ":"),
		"LISTEN_FDS_START="+strconv.Itoa(3+len(cfg.Mounts)),
	)
}

// hostFunc is one function of the host module. fn returns the WASI errno,
// which the wrapper stores as the result.
type hostFunc struct {
	name     string
	params   []api.ValueType
	noResult bool
	fn       func(i *Instance, mem api.Memory, stack []uint64) errno
}

func (f hostFunc) wrap() api.GoModuleFunc {
	waits := !quickCalls[f.name] // gives up the guest's run slot (cpu.go)
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		i, _ := ctx.Value(instanceKey{}).(*Instance)
		if i == nil {
			panic(ErrNotStarted)
		}
		if i.isKilled() {
			panic(sys.NewExitError(ExitCodeKilled))
		}
		if waits {
			i.cpuPause()
		}
		e := f.fn(i, mod.Memory(), stack)
		if i.isKilled() || waits && !i.cpuResume(true) {
			panic(sys.NewExitError(ExitCodeKilled))
		}
		if !f.noResult {
			stack[0] = uint64(e)
		}
	}
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func params(ts ...api.ValueType) []api.ValueType { return ts }

// hostFuncs lists every function of wasi_snapshot_preview1.
func hostFuncs() []hostFunc {
	return []hostFunc{
		{name: "args_get", params: params(i32, i32), fn: argsGet},
		{name: "args_sizes_get", params: params(i32, i32), fn: argsSizesGet},
		{name: "environ_get", params: params(i32, i32), fn: environGet},
		{name: "environ_sizes_get", params: params(i32, i32), fn: environSizesGet},
		{name: "clock_res_get", params: params(i32, i32), fn: clockResGet},
		{name: "clock_time_get", params: params(i32, i64, i32), fn: clockTimeGet},
		{name: "fd_advise", params: params(i32, i64, i64, i32), fn: fdAdvise},
		{name: "fd_allocate", params: params(i32, i64, i64), fn: fdAllocate},
		{name: "fd_close", params: params(i32), fn: fdClose},
		{name: "fd_datasync", params: params(i32), fn: fdDatasync},
		{name: "fd_fdstat_get", params: params(i32, i32), fn: fdFdstatGet},
		{name: "fd_fdstat_set_flags", params: params(i32, i32), fn: fdFdstatSetFlags},
		{name: "fd_fdstat_set_rights", params: params(i32, i64, i64), fn: fdFdstatSetRights},
		{name: "fd_filestat_get", params: params(i32, i32), fn: fdFilestatGet},
		{name: "fd_filestat_set_size", params: params(i32, i64), fn: fdFilestatSetSize},
		{name: "fd_filestat_set_times", params: params(i32, i64, i64, i32), fn: fdFilestatSetTimes},
		{name: "fd_pread", params: params(i32, i32, i32, i64, i32), fn: fdPread},
		{name: "fd_prestat_get", params: params(i32, i32), fn: fdPrestatGet},
		{name: "fd_prestat_dir_name", params: params(i32, i32, i32), fn: fdPrestatDirName},
		{name: "fd_pwrite", params: params(i32, i32, i32, i64, i32), fn: fdPwrite},
		{name: "fd_read", params: params(i32, i32, i32, i32), fn: fdRead},
		{name: "fd_readdir", params: params(i32, i32, i32, i64, i32), fn: fdReaddir},
		{name: "fd_renumber", params: params(i32, i32), fn: fdRenumber},
		{name: "fd_seek", params: params(i32, i64, i32, i32), fn: fdSeek},
		{name: "fd_sync", params: params(i32), fn: fdSync},
		{name: "fd_tell", params: params(i32, i32), fn: fdTell},
		{name: "fd_write", params: params(i32, i32, i32, i32), fn: fdWrite},
		{name: "path_create_directory", params: params(i32, i32, i32), fn: pathCreateDirectory},
		{name: "path_filestat_get", params: params(i32, i32, i32, i32, i32), fn: pathFilestatGet},
		{name: "path_filestat_set_times", params: params(i32, i32, i32, i32, i64, i64, i32), fn: pathFilestatSetTimes},
		{name: "path_link", params: params(i32, i32, i32, i32, i32, i32, i32), fn: pathLink},
		{name: "path_open", params: params(i32, i32, i32, i32, i32, i64, i64, i32, i32), fn: pathOpen},
		{name: "path_readlink", params: params(i32, i32, i32, i32, i32, i32), fn: pathReadlink},
		{name: "path_remove_directory", params: params(i32, i32, i32), fn: pathRemoveDirectory},
		{name: "path_rename", params: params(i32, i32, i32, i32, i32, i32), fn: pathRename},
		{name: "path_symlink", params: params(i32, i32, i32, i32, i32), fn: pathSymlink},
		{name: "path_unlink_file", params: params(i32, i32, i32), fn: pathUnlinkFile},
		{name: "poll_oneoff", params: params(i32, i32, i32, i32), fn: pollOneoff},
		{name: "proc_exit", params: params(i32), noResult: true, fn: procExit},
		{name: "proc_raise", params: params(i32), fn: procRaise},
		{name: "sched_yield", fn: schedYield},
		{name: "random_get", params: params(i32, i32), fn: randomGet},
		{name: "sock_accept", params: params(i32, i32, i32), fn: sockAccept},
		{name: "sock_recv", params: params(i32, i32, i32, i32, i32, i32), fn: sockRecv},
		{name: "sock_send", params: params(i32, i32, i32, i32, i32), fn: sockSend},
		{name: "sock_shutdown", params: params(i32, i32), fn: sockShutdown},
	}
}

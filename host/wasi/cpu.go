package wasi

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// CPU. A guest is one thread (preview1 has no threads), and while it runs
// its own compiled code the Go runtime can neither preempt it nor count
// it: the layer does both where an instrumented guest returns to Go, at
// its calls of wasmlet.yield (every yieldEvery loop heads, see Instrument)
// and at the WASI calls that may wait.
//
//   - The CPU limit (Config.CPUMilli) is CFS's bandwidth control: in each
//     period of 100 ms the guest may run CPUMilli/1000 of it, and a guest
//     that has used its quota sleeps until the period in which its use is
//     repaid. Its time is what it spends in its own code and in the host
//     calls that never wait (quickCalls); the others, which may wait
//     (poll_oneoff, reads and writes, accept, sched_yield, the file
//     system's calls), are not counted, as a process is not charged for
//     its sleeps. A limit of 1000m or more leaves a single thread
//     unthrottled.
//   - The run slots (Config.RunSlots) bound how many guests run at once on
//     the node. Guest code that cannot be preempted holds an OS thread and
//     one of GOMAXPROCS Ps until it next returns to Go; with as many busy
//     guests as Ps, every goroutine of the node (its API, its pod workers)
//     waits for a preemption at a yield, about 10 ms each time, and a
//     request that takes a few such waits takes a fifth of a second. With
//     fewer slots than Ps (the node uses GOMAXPROCS-1), one P is always
//     free of guest code. A guest waits for a slot before it runs its own
//     code, and gives it up in every wait, when throttled, and at a yield
//     while a guest back from a wait asks for one, or after holding it
//     runSlice while any other guest does. Guests back from a wait get
//     slots before guests that gave theirs up at a yield (as CFS favours
//     a task that slept): a web server guest answering a request waits
//     for the next yield of the guest that holds the slot, tens of
//     microseconds, not for every busy guest in turn.
//
// Both apply to modules that import wasmlet.yield (compiled by Compile,
// or by CompileWithYields for wazero's interpreter): a guest that never
// returns to Go would hold its slot for ever. A module compiled otherwise
// gets neither.

const (
	// cpuPeriod is the period of the CPU limit, CFS's default.
	cpuPeriod = 100 * time.Millisecond
	// minCPUQuota is the least quota a limit gives, the kubelet's
	// (1 ms per period, so limits under 10m act as 10m).
	minCPUQuota = time.Millisecond
	// runSlice is how long a guest keeps a run slot that another guest
	// waits for: the handover costs microseconds.
	runSlice = 2 * time.Millisecond
)

// cpuQuota is the CPU limit of one guest, a decision on the times it is
// given.
type cpuQuota struct {
	quota time.Duration // per period; 0: no limit
	start time.Time     // the current period's
	// used is the running time charged to the current period, with what
	// earlier periods have not repaid.
	used time.Duration
}

// newCPUQuota is the quota of a limit of milli millicores, its first
// period starting at now.
func newCPUQuota(milli int64, now time.Time) cpuQuota {
	if milli <= 0 || milli >= 1000 {
		return cpuQuota{}
	}
	return cpuQuota{quota: max(time.Duration(milli)*cpuPeriod/1000, minCPUQuota), start: now}
}

// charge adds ran of running time at now, and returns when the guest may
// run again: not after now when it may run on. Each period that begins
// repays a quota of what was used.
func (q *cpuQuota) charge(now time.Time, ran time.Duration) time.Time {
	if q.quota == 0 {
		return now
	}
	if elapsed := now.Sub(q.start); elapsed >= cpuPeriod {
		n := elapsed / cpuPeriod
		q.start = q.start.Add(n * cpuPeriod)
		if q.used/q.quota < n {
			q.used = 0
		} else {
			q.used -= n * q.quota
		}
	}
	q.used += max(ran, 0)
	if q.used < q.quota {
		return now
	}
	return q.start.Add(q.used / q.quota * cpuPeriod)
}

// RunSlots bounds how many guests run their own code at once (see the
// comment at the top of this file). One value serves a node: every
// Config of its instances points to it. Guests waiting for a slot get it
// in the order they asked, those back from a wait first.
type RunSlots struct {
	mu   sync.Mutex
	free int
	// woken are the guests back from a wait (or starting), yielded those
	// that gave their slot up at a yield, in the order they asked.
	woken, yielded []chan struct{}
	// waiters and wokenWaiters count them, read without mu at every
	// yield.
	waiters, wokenWaiters atomic.Int32
}

// NewRunSlots returns n slots (at least one).
func NewRunSlots(n int) *RunSlots {
	return &RunSlots{free: max(n, 1)}
}

// acquire takes a slot, waiting for one, as a guest back from a wait
// (woken) or one that gave its slot up at a yield; it gives up, with
// false, when stop is closed first.
func (s *RunSlots) acquire(stop <-chan struct{}, woken bool) bool {
	s.mu.Lock()
	if s.free > 0 && len(s.woken)+len(s.yielded) == 0 {
		s.free--
		s.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	q := &s.yielded
	if woken {
		q = &s.woken
	}
	*q = append(*q, ch)
	s.count()
	s.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-stop:
	}
	s.mu.Lock()
	if k := slices.Index(*q, ch); k >= 0 {
		*q = slices.Delete(*q, k, k+1)
		s.count()
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	// The slot was handed over as stop closed: pass it on.
	s.release()
	return false
}

// release gives a slot back, to the first guest waiting for one.
func (s *RunSlots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &s.woken
	if len(*q) == 0 {
		q = &s.yielded
	}
	if len(*q) == 0 {
		s.free++
		return
	}
	ch := (*q)[0]
	*q = slices.Delete(*q, 0, 1)
	s.count()
	close(ch)
}

// count updates the counts of waiters; mu is held.
func (s *RunSlots) count() {
	s.wokenWaiters.Store(int32(len(s.woken)))
	s.waiters.Store(int32(len(s.woken) + len(s.yielded)))
}

// cpuState is an instance's share of the CPU. Only the guest's own
// goroutine uses it: Start's during instantiation (a start function runs
// then), run's afterwards.
type cpuState struct {
	on      bool // a limit or slots apply
	slots   *RunSlots
	quota   cpuQuota
	holding bool      // the guest holds a slot
	took    time.Time // when it took it
	// resumed is when the guest last went back to its own code; zero
	// while it is not running (before its start, in a wait).
	resumed time.Time
}

// initCPU sets the instance's CPU limit and slots up, for a module that
// yields.
func (i *Instance) initCPU(cfg Config, mod wazero.CompiledModule) {
	if !importsYield(mod) {
		return
	}
	now := i.clock.Now()
	i.cpu = cpuState{slots: cfg.RunSlots, quota: newCPUQuota(cfg.CPUMilli, now)}
	i.cpu.on = i.cpu.slots != nil || i.cpu.quota.quota > 0
}

func importsYield(mod wazero.CompiledModule) bool {
	for _, f := range mod.ImportedFunctions() {
		if m, n, ok := f.Import(); ok && m == yieldModule && n == yieldName {
			return true
		}
	}
	return false
}

// cpuResume is called as the guest goes back to its own code: at its
// start, and after a host call that may have waited (woken), or at a
// yield. It sleeps while the guest is throttled and waits for a slot;
// false means the guest was killed meanwhile.
func (i *Instance) cpuResume(woken bool) bool {
	c := &i.cpu
	if !c.on {
		return true
	}
	now := i.clock.Now()
	if until := c.quota.charge(now, 0); until.After(now) {
		if c.holding {
			c.slots.release()
			c.holding = false
		}
		if !i.sleepUntil(now, until) {
			return false
		}
		woken = false // throttled: busy, not back from a wait
	}
	if c.slots != nil && !c.holding {
		if !c.slots.acquire(i.kill, woken) {
			return false
		}
		c.holding = true
		c.took = i.clock.Now()
	}
	c.resumed = i.clock.Now()
	return true
}

// cpuPause is called as the guest enters a host call that may wait: its
// time so far is charged and its slot given back.
func (i *Instance) cpuPause() {
	c := &i.cpu
	if !c.on {
		return
	}
	i.charge()
	c.resumed = time.Time{}
	if c.holding {
		c.slots.release()
		c.holding = false
	}
}

// charge charges the time since the guest resumed, and returns now and
// when it may run again.
func (i *Instance) charge() (now, until time.Time) {
	c := &i.cpu
	now = i.clock.Now()
	var ran time.Duration
	if !c.resumed.IsZero() {
		ran = now.Sub(c.resumed)
	}
	c.resumed = now
	return now, c.quota.charge(now, ran)
}

// cpuYield is wasmlet.yield: the guest's time is charged, and it sleeps
// if throttled, or lets a waiting guest run: at once one back from a wait,
// any other once it has had its slice. False means it was killed
// meanwhile.
func (i *Instance) cpuYield() bool {
	c := &i.cpu
	if !c.on {
		return true
	}
	now, until := i.charge()
	switch {
	case until.After(now):
		return i.cpuResume(false)
	case c.slots == nil:
		return true
	case !c.holding: // yielding from a start function, before run took one
		return i.cpuResume(false)
	case c.slots.wokenWaiters.Load() > 0,
		c.slots.waiters.Load() > 0 && now.Sub(c.took) >= runSlice:
		c.slots.release()
		c.holding = false
		return i.cpuResume(false)
	}
	return true
}

// cpuStop gives the slot back when the guest has ended.
func (i *Instance) cpuStop() {
	if i.cpu.holding {
		i.cpu.slots.release()
		i.cpu.holding = false
	}
}

// sleepUntil sleeps on the instance's clock until until; false means it
// was killed first.
func (i *Instance) sleepUntil(now, until time.Time) bool {
	t := i.clock.NewTimer(until.Sub(now))
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-i.kill:
		return false
	}
}

// quickCalls are the WASI calls that never wait: a guest keeps its slot
// through them and their time is its own. Every other call may wait (on a
// socket, a pipe, stdin, a clock, or a slow disk) and gives the slot up.
var quickCalls = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true, "random_get": true,
	"fd_fdstat_get": true, "fd_fdstat_set_flags": true, "fd_fdstat_set_rights": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true, "fd_seek": true, "fd_tell": true,
	"proc_exit": true, "proc_raise": true,
}

// instantiateYield registers the host module that instrumented guests
// import wasmlet.yield from.
func instantiateYield(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(yieldModule).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(yieldHost), nil, nil).
		WithName(yieldName).
		Export(yieldName).
		Instantiate(ctx)
	return err
}

// yieldHost is wasmlet.yield. A module instantiated without Start only
// returns to Go here, which is all the garbage collector needs of it.
func yieldHost(ctx context.Context, _ []uint64) {
	i, _ := ctx.Value(instanceKey{}).(*Instance)
	if i == nil {
		return
	}
	if i.isKilled() || !i.cpuYield() {
		panic(sys.NewExitError(ExitCodeKilled))
	}
}

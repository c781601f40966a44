// Package host is wasmlet's node agent, the kubelet of a node whose
// containers are WebAssembly modules: it registers the v1 Node, binds new
// pods to it, and runs one pod worker per pod that starts and stops the
// containers as instances of the host's WASI layer and owns the pod's status.
//
// # Pod workers
//
// A worker is driven by the store (a watch of pods, a re-list when the watch
// expires, and a slow resync) and by its own containers (an instance ending)
// and timers on the injected clock (a back-off ending, a termination
// deadline): an idle pod costs no CPU. Each sync is level-triggered: it
// reads the pod, decides what to start or stop with pure functions
// (GetPhase, ShouldContainerBeRestarted, RestartBackoff, ImageBackoff,
// EffectiveGracePeriod, KillDeadline), acts, and writes the status only when
// it changed. Status writes therefore grow with status changes, not with
// pods x time.
//
// # State that outlives the node process
//
// Everything a restarted node needs is data, not goroutines. In the store:
// restart counts and last states in the container statuses; crash-loop and
// image back-off entries (delay and time of the last raise) in the pod
// annotation wasmlet.io/backoff; termination deadlines as the pod's
// deletionTimestamp; pod IPs in status.podIP (the allocation table is
// rebuilt from them at start). What the store cannot have, because the node
// may die before it writes it, is in the run journal in each pod's
// directory: every instance is recorded there before its module runs, and
// removed when it ended. A container whose instance was alive when the
// previous process died (recorded in the journal, or Running in the store
// without a graceful shutdown) crashed with the node: it becomes terminated
// Unknown with exit code 255, restartCount+1, and starts again only at the
// end of the crash-loop back-off, so that a pod that kills the node cannot
// keep it down. A graceful Shutdown first writes the annotation
// wasmlet.io/node-shutdown on each pod it stops, then, once they stopped,
// how its containers ended; the next start restarts those containers at
// once, outside the back-off. Either way the restart counts and the run the
// node stopped is the container's lastState and its previous log.
//
// # Two contexts
//
// Start's context is supervision: when it ends the workers stop without
// writing anything, and the instances are then killed (the node's process
// is going away; its store keeps them as running, so the next start sees
// them lost, as after kill -9). Shutdown is the graceful path: every pod's
// containers get SIGTERM with their grace period capped by
// Options.ShutdownGracePeriod, and are killed when it runs out.
//
// # Probes and hooks
//
// The probes package plugs in through ProbeManager, which the host calls
// when a container instance has started (it answers the initial started and
// ready values, true and true without probes), when one stopped, when a
// pod's worker ends, and to run the postStart and preStop hooks. The prober
// reports back with SetContainerStarted, SetContainerReady and
// KillContainer, and runs exec probes and hooks with RunInContainer: a fresh
// instance of the container's module with its mounts and environment and
// the given argv.
//
// # What the host never does
//
// It never writes a pod's spec (except spec.nodeName when binding), never
// creates or deletes pods other than removing a pod whose containers are
// gone after a graceful deletion, and never polls.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// Annotations the host keeps on pods.
const (
	// AnnotationBackoff holds the pod's back-off entries as JSON.
	AnnotationBackoff = "wasmlet.io/backoff"
	// AnnotationNodeShutdown marks a pod whose containers were stopped by a
	// graceful node shutdown.
	AnnotationNodeShutdown = "wasmlet.io/node-shutdown"
)

const (
	// DefaultPodCIDR is where pod IPs come from unless Options say otherwise.
	DefaultPodCIDR = "127.42.0.0/16"
	// resyncPeriod is how often every worker looks at its pod again
	// without an event (the kubelet's 1 minute sync frequency).
	resyncPeriod = time.Minute
)

// Options configure a Host.
type Options struct {
	// NodeName is the name of the v1 Node (required).
	NodeName string
	// DataDir holds the compilation cache, pod volumes and logs (required).
	DataDir string
	// CompilationCacheDir holds the compilation cache instead of DataDir,
	// so that it can outlive a node whose data dir does not (wasmlet up).
	CompilationCacheDir string
	// ImageRoot is where relative image paths are resolved ("" = the
	// working directory).
	ImageRoot string
	// PodCIDR is the loopback range of pod IPs (default DefaultPodCIDR).
	PodCIDR string
	// ShutdownGracePeriod caps each pod's grace period in Shutdown
	// (0 = no cap).
	ShutdownGracePeriod time.Duration
	// Clock is the source of time (default the real clock).
	Clock clock.Clock
	// Logger receives the host's logs (default slog.Default()).
	Logger *slog.Logger
	// HTTPClient fetches http(s) images (default http.DefaultClient).
	HTTPClient *http.Client
	// ProbeManager runs probes and lifecycle hooks (default none: every
	// started container is started and ready).
	ProbeManager ProbeManager
	// MaxLogSize rotates a container's log file at this size (default
	// 10 MiB).
	MaxLogSize int64
	// Limits are the per-container defaults and caps (zero fields take
	// DefaultLimits).
	Limits Limits
	// AllowedHostPaths are the directories under which hostPath volumes
	// may be mounted, as the API allows them: each hostPath is opened under
	// one of them, so that a link on its way leading out is refused. With
	// none, hostPath volumes are refused.
	AllowedHostPaths []string
	// MaxImageSize bounds the size of a module read from a file or over
	// http(s) (default DefaultMaxImageSize).
	MaxImageSize int64
	// Images configure registry images: insecure registries and image
	// garbage collection (zero fields take the kubelet's defaults).
	Images ImageOptions
}

// ProbeManager is the probes package's side of the host. Its methods are
// called from pod workers and must not block, except the hooks, which
// return when the hook finished or ctx ended.
type ProbeManager interface {
	// ContainerStarted is called when an instance of a container has
	// started and its postStart hook succeeded; it returns the container's
	// initial started and ready values.
	ContainerStarted(pod *api.Pod, container, containerID string) (started, ready bool)
	// ContainerStopped is called when that instance ended.
	ContainerStopped(podUID, container, containerID string)
	// PodRemoved is called when the pod's worker ends.
	PodRemoved(podUID string)
	// PostStart runs the container's postStart hook, if any; an error
	// kills the container (FailedPostStartHook).
	PostStart(ctx context.Context, pod *api.Pod, container, containerID string) error
	// PreStop runs the container's preStop hook, if any, before SIGTERM;
	// ctx ends at the kill deadline.
	PreStop(ctx context.Context, pod *api.Pod, container, containerID string)
}

// noProbes is the ProbeManager of a host without probes.
type noProbes struct{}

func (noProbes) ContainerStarted(*api.Pod, string, string) (bool, bool) { return true, true }
func (noProbes) ContainerStopped(string, string, string)                {}
func (noProbes) PodRemoved(string)                                      {}
func (noProbes) PostStart(context.Context, *api.Pod, string, string) error {
	return nil
}
func (noProbes) PreStop(context.Context, *api.Pod, string, string) {}

// Host is the node agent. Create it with New, run it with Start.
type Host struct {
	st        *store.Store
	opts      Options
	clock     clock.Clock
	log       *slog.Logger
	recorder  *events.Recorder
	scheduler *events.Recorder
	rt        moduleRuntime
	images    *imageManager
	ips       *ipAllocator
	probes    ProbeManager
	podsDir   string
	// memory is what every guest of the node may take together.
	memory  *wasi.MemoryPool
	volumes volumeQuotas

	// workloads is the context instances run under; cancelling it kills
	// every one of them.
	workloads      context.Context
	cancelWorkload context.CancelFunc

	mu           sync.Mutex
	workers      map[string]*podWorker // by pod UID
	shuttingDown bool
	started      bool
	wg           sync.WaitGroup // worker goroutines
	closeOnce    sync.Once
}

// Errors of the Host's own API.
var (
	// ErrNotStarted: a call that needs Start running came before it.
	ErrNotStarted = errors.New("host: not started")
)

// New returns a host for the pods of st, with the node's wasm runtime (one
// wazero runtime with the WASI layer). Nothing runs until Start.
func New(st *store.Store, opts Options) (*Host, error) {
	if opts.DataDir == "" {
		return nil, errors.New("host: Options.DataDir is required")
	}
	cacheDir := opts.CompilationCacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(opts.DataDir, "cache")
	}
	rt, err := newWazeroRuntime(context.Background(), cacheDir)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	h, err := newHost(st, opts, rt)
	if err != nil {
		rt.Close(context.Background())
		return nil, err
	}
	rt.setLogger(h.log)
	return h, nil
}

func newHost(st *store.Store, opts Options, rt moduleRuntime) (*Host, error) {
	if st == nil {
		return nil, errors.New("host: nil store")
	}
	if opts.NodeName == "" {
		return nil, errors.New("host: Options.NodeName is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("host: Options.DataDir is required")
	}
	if opts.PodCIDR == "" {
		opts.PodCIDR = DefaultPodCIDR
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ProbeManager == nil {
		opts.ProbeManager = noProbes{}
	}
	if opts.MaxLogSize <= 0 {
		opts.MaxLogSize = defaultMaxLogSize
	}
	if err := opts.Limits.validate(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	opts.Limits = opts.Limits.withDefaults()
	if err := opts.Images.Validate(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	opts.Images = opts.Images.withDefaults()
	if opts.ImageRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("host: image root: %w", err)
		}
		opts.ImageRoot = wd
	}
	ips, err := newIPAllocator(opts.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	// The pods' volumes and logs are private to the node's user, whatever
	// the mode of the data directory.
	podsDir := filepath.Join(opts.DataDir, "pods")
	if err := os.MkdirAll(podsDir, volumeDirMode); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if err := os.Chmod(podsDir, volumeDirMode); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	log := opts.Logger.With("node", opts.NodeName)
	h := &Host{
		st:        st,
		opts:      opts,
		clock:     opts.Clock,
		log:       log,
		recorder:  events.NewRecorder(st, "kubelet", opts.NodeName, opts.Clock).WithLogger(log),
		scheduler: events.NewRecorder(st, "default-scheduler", "", opts.Clock).WithLogger(log),
		rt:        rt,
		images:    newImageManager(rt, opts.ImageRoot, opts.HTTPClient, opts.MaxImageSize),
		ips:       ips,
		probes:    opts.ProbeManager,
		podsDir:   podsDir,
		memory:    wasi.NewMemoryPool(uint64(opts.Limits.PodsMemory)),
		workers:   map[string]*podWorker{},
	}
	h.images.registryDir = filepath.Join(opts.DataDir, "oci")
	h.images.insecure, h.images.now = opts.Images.InsecureRegistries, h.clock.Now
	h.workloads, h.cancelWorkload = context.WithCancel(context.Background())
	return h, nil
}

// NodeName is the name of the node's v1 Node.
func (h *Host) NodeName() string { return h.opts.NodeName }

func podsResource() *api.ResourceInfo {
	r, ok := api.LookupResource("pods")
	if !ok {
		panic("host: the api package serves no pods resource")
	}
	return r
}

// Start registers the Node, then runs the pods bound to this node until
// ctx ends. It returns nil when ctx ended, or the error that stopped it.
// When it returns, no worker writes anything and every instance is killed.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("host: Start called twice")
	}
	h.started = true
	h.mu.Unlock()

	superCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		h.stopWorkers()
		h.cancelWorkload()
		h.waitInstances()
	}()

	if err := h.registerNode(superCtx); err != nil {
		return err
	}
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); h.heartbeat(superCtx) }()
	defer func() { cancel(); <-hbDone }()
	gcDone := make(chan struct{})
	go func() { defer close(gcDone); h.imageGC(superCtx) }()
	defer func() { cancel(); <-gcDone }()
	cfgDone := make(chan struct{})
	go func() { defer close(cfgDone); h.watchConfigSources(superCtx) }()
	defer func() { cancel(); <-cfgDone }()

	err := h.runPods(superCtx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runPods lists and watches pods, dispatching them to workers, re-listing
// when the watch expires, until ctx ends.
func (h *Host) runPods(ctx context.Context) error {
	pods := podsResource()
	first := true
	resync := h.clock.NewTimer(resyncPeriod)
	defer resync.Stop()
	for ctx.Err() == nil {
		objs, rv, err := h.st.List(ctx, pods, "", store.ListOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("host: listing pods: %w", err)
		}
		seen := map[string]bool{}
		if first {
			// Rebuild the IP table before any worker allocates.
			ours := map[string]bool{}
			for _, o := range objs {
				p, ok := o.(*api.Pod)
				if !ok || p.Spec.NodeName != h.opts.NodeName {
					continue
				}
				ours[p.UID] = true
				if p.Status.PodIP != "" && !h.ips.Reserve(p.UID, p.Status.PodIP) {
					h.log.Warn("pod IP not reusable", "pod", p.Namespace+"/"+p.Name, "ip", p.Status.PodIP)
				}
			}
			h.removeOrphanPodDirs(ours)
			first = false
		}
		for _, o := range objs {
			if p, ok := o.(*api.Pod); ok {
				seen[p.UID] = true
				h.dispatch(ctx, p)
			}
		}
		h.forgetMissing(seen)

		w, err := h.st.Watch(ctx, pods, "", store.ListOptions{ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if api.IsExpired(err) {
				continue
			}
			return fmt.Errorf("host: watching pods: %w", err)
		}
		expired := h.watchLoop(ctx, w, resync)
		w.Stop()
		if !expired {
			return nil
		}
	}
	return nil
}

// removeOrphanPodDirs removes the volumes and logs of pods deleted while
// the node was down.
func (h *Host) removeOrphanPodDirs(ours map[string]bool) {
	entries, err := os.ReadDir(h.podsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && !ours[e.Name()] {
			if err := os.RemoveAll(filepath.Join(h.podsDir, e.Name())); err != nil {
				h.log.Warn("removing the directory of a deleted pod", "dir", e.Name(), "err", err)
			}
		}
	}
}

// watchLoop dispatches watch events until ctx ends (false) or the watch
// must be re-listed (true).
func (h *Host) watchLoop(ctx context.Context, w store.Watch, resync clock.Timer) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-resync.C():
			h.resyncAll()
			resync.Reset(resyncPeriod)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return ctx.Err() == nil
			}
			switch ev.Type {
			case store.Added, store.Modified:
				if p, ok := ev.Object.(*api.Pod); ok {
					h.dispatch(ctx, p)
				}
			case store.Deleted:
				if p, ok := ev.Object.(*api.Pod); ok {
					h.podGone(p.UID)
				}
			case store.Error:
				return true
			}
		}
	}
}

// dispatch hands a pod to its worker, binding it to the node first when it
// is not bound.
func (h *Host) dispatch(ctx context.Context, p *api.Pod) {
	if p.Spec.NodeName == "" {
		if p.DeletionTimestamp == nil {
			h.bind(ctx, p)
		}
		return
	}
	if p.Spec.NodeName != h.opts.NodeName {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.workers[p.UID]
	if w == nil {
		if h.shuttingDown {
			return
		}
		w = newPodWorker(h, p)
		h.workers[p.UID] = w
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer close(w.exited)
			w.run(ctx)
		}()
	}
	w.update(p)
}

// bind assigns an unscheduled pod to this node, as the scheduler's Binding
// does, with its event and PodScheduled condition.
func (h *Host) bind(ctx context.Context, p *api.Pod) {
	var bound *api.Pod
	_, err := h.st.GuaranteedUpdate(ctx, podsResource(), p.Namespace, p.Name, func(o api.Object) (api.Object, error) {
		q, ok := o.(*api.Pod)
		if !ok || q.UID != p.UID {
			return nil, errPodReplaced
		}
		if q.Spec.NodeName != "" {
			return nil, errAlreadyBound
		}
		q.Spec.NodeName = h.opts.NodeName
		now := api.NewTime(h.clock.Now())
		setCondition(&q.Status.Conditions, api.PodCondition{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: now})
		if q.Status.Phase == "" {
			q.Status.Phase = api.PodPending
		}
		bound = q
		return q, nil
	})
	switch {
	case err == nil:
		h.scheduler.Eventf(bound, events.Normal, "Scheduled", "Successfully assigned %s/%s to %s", p.Namespace, p.Name, h.opts.NodeName)
	case errors.Is(err, errAlreadyBound), errors.Is(err, errPodReplaced), api.IsNotFound(err):
	default:
		if ctx.Err() == nil {
			h.log.Error("binding pod", "pod", p.Namespace+"/"+p.Name, "err", err)
		}
	}
}

var (
	errAlreadyBound = errors.New("pod already bound")
	errPodReplaced  = errors.New("pod replaced by another of the same name")
	errNoChange     = errors.New("no change")
)

// setCondition replaces the condition of c's type, or appends it.
func setCondition(conds *[]api.PodCondition, c api.PodCondition) {
	for i := range *conds {
		if (*conds)[i].Type == c.Type {
			if (*conds)[i].Status == c.Status {
				c.LastTransitionTime = (*conds)[i].LastTransitionTime
			}
			(*conds)[i] = c
			return
		}
	}
	*conds = append(*conds, c)
}

func (h *Host) podGone(uid string) {
	h.mu.Lock()
	w := h.workers[uid]
	h.mu.Unlock()
	if w != nil {
		w.gone()
	}
}

// forgetMissing tells workers whose pods were not in a re-list that their
// pod is gone.
func (h *Host) forgetMissing(seen map[string]bool) {
	h.mu.Lock()
	var gone []*podWorker
	for uid, w := range h.workers {
		if !seen[uid] {
			gone = append(gone, w)
		}
	}
	h.mu.Unlock()
	for _, w := range gone {
		w.gone()
	}
}

func (h *Host) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.workers {
		w.kick()
	}
}

// workerDone removes a finished worker.
func (h *Host) workerDone(w *podWorker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.workers[w.uid] == w {
		delete(h.workers, w.uid)
	}
}

// stopWorkers ends every worker's supervision and waits for them.
func (h *Host) stopWorkers() {
	h.mu.Lock()
	for _, w := range h.workers {
		w.stopSupervising()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// waitInstances waits until every instance has released its resources.
func (h *Host) waitInstances() {
	h.mu.Lock()
	ws := make([]*podWorker, 0, len(h.workers))
	for _, w := range h.workers {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	for _, w := range ws {
		w.waitInstances()
	}
}

// Shutdown stops every pod gracefully, for a node that is going down: each
// container gets SIGTERM and its grace period, capped by
// Options.ShutdownGracePeriod, then it is killed. Pods are marked first so
// that the next start does not count the stop as a crash. It returns when
// every container has stopped, or ctx ended (the rest are then killed).
// Call it before cancelling Start's context.
func (h *Host) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shuttingDown = true
	ws := make([]*podWorker, 0, len(h.workers))
	for _, w := range h.workers {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.shutdown(ctx)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.cancelWorkload()
		<-done
		return ctx.Err()
	}
}

// Close releases the runtime. Call it after Start returned.
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() {
		h.cancelWorkload()
		err = h.rt.Close(context.Background())
	})
	return err
}

// worker returns the worker of a pod UID.
func (h *Host) worker(uid string) *podWorker {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.workers[uid]
}

// SetContainerStarted records a startup probe's verdict for the instance
// containerID of a container.
func (h *Host) SetContainerStarted(podUID, container, containerID string, started bool) {
	if w := h.worker(podUID); w != nil {
		w.probeResult(container, containerID, &started, nil)
	}
}

// SetContainerReady records a readiness probe's verdict.
func (h *Host) SetContainerReady(podUID, container, containerID string, ready bool) {
	if w := h.worker(podUID); w != nil {
		w.probeResult(container, containerID, nil, &ready)
	}
}

// KillContainer stops the instance containerID of a container (a failed
// liveness or startup probe, a failed postStart hook): event Killing with
// message, preStop, SIGTERM, kill after grace (the pod's when nil), then
// the restart policy applies.
func (h *Host) KillContainer(podUID, container, containerID, message string, grace *int64) {
	if w := h.worker(podUID); w != nil {
		w.requestKill(container, containerID, message, grace)
	}
}

// RunInContainer runs a fresh instance of a container's module with the
// container's mounts and environment and the given argv (exec probes and
// hooks), writing its output to stdout and stderr, and returns its exit
// code. It is killed when ctx ends.
func (h *Host) RunInContainer(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error) {
	var c *api.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == container {
			c = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers { // a sidecar's exec probe or hook
		if pod.Spec.InitContainers[i].Name == container {
			c = &pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return 0, fmt.Errorf("container %q not found in pod %s/%s", container, pod.Namespace, pod.Name)
	}
	img, err := h.images.Pull(ctx, c.Image)
	if err != nil {
		return 0, err
	}
	cfg, err := h.containerConfig(pod, c, pod.Status.PodIP)
	if err != nil {
		return 0, err
	}
	cfg.Args = append([]string(nil), argv...)
	cfg.Stdout, cfg.Stderr = stdout, stderr
	runCtx, cancel := context.WithCancel(h.workloads)
	defer cancel()
	inst, err := h.rt.Start(runCtx, img.Module, cfg)
	if err != nil {
		return 0, err
	}
	select {
	case <-inst.Done():
	case <-ctx.Done():
		inst.Kill()
		<-inst.Done()
		return 0, ctx.Err()
	}
	return int32(inst.Wait().Code), nil
}

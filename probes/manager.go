package probes

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// Runtime is what the Manager needs of the node agent (*host.Host
// implements it).
type Runtime interface {
	// SetContainerStarted records a startup probe's verdict.
	SetContainerStarted(podUID, container, containerID string, started bool)
	// SetContainerReady records a readiness probe's verdict.
	SetContainerReady(podUID, container, containerID string, ready bool)
	// KillContainer stops an instance whose liveness or startup probe
	// failed: event Killing with message, grace (nil: the pod's).
	KillContainer(podUID, container, containerID, message string, grace *int64)
	// RunInContainer runs argv as a fresh instance of the container's
	// module and returns its exit code; it is killed when ctx ends.
	RunInContainer(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error)
}

// EventRecorder records Kubernetes Events (*events.Recorder implements it).
type EventRecorder interface {
	Eventf(obj api.Object, eventType, reason, messageFmt string, args ...any)
}

// Options configure a Manager. Every field is optional.
type Options struct {
	// Runtime is the node agent; it may instead be given later with
	// SetRuntime, before the first container starts.
	Runtime Runtime
	// Recorder receives the probes' events. When nil and Store is set, a
	// recorder for component kubelet on NodeName writes them to Store;
	// when both are nil, events are only logged.
	Recorder EventRecorder
	// Store and NodeName make the default Recorder.
	Store    *store.Store
	NodeName string
	// Clock is the source of time (default the real clock).
	Clock clock.Clock
	// Logger receives the probes' logs (default slog.Default()).
	Logger *slog.Logger
}

// Manager runs the probes and hooks of a node's containers. It implements
// the host's ProbeManager. Create it with New.
type Manager struct {
	clock     clock.Clock
	log       *slog.Logger
	recorder  EventRecorder
	transport *http.Transport // probes: no keep-alives, no verification
	hookHTTP  *http.Client    // hooks: the same, with Go's redirect rules

	// ctx ends when Start returns; every worker and probe runs under it.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	rt        Runtime
	instances map[containerKey]*instance
	closed    bool
	wg        sync.WaitGroup // worker goroutines
}

// containerKey names a container of a pod.
type containerKey struct{ podUID, container string }

// New returns a Manager. Workers start with the containers; Start only
// bounds their life.
func New(opts Options) *Manager {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "prober")
	rec := opts.Recorder
	if rec == nil {
		if opts.Store != nil {
			rec = events.NewRecorder(opts.Store, "kubelet", opts.NodeName, opts.Clock).WithLogger(opts.Logger)
		} else {
			rec = logRecorder{log}
		}
	}
	tr := newProbeTransport()
	m := &Manager{
		clock:     opts.Clock,
		log:       log,
		recorder:  rec,
		transport: tr,
		hookHTTP:  &http.Client{Transport: tr},
		rt:        opts.Runtime,
		instances: map[containerKey]*instance{},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// SetRuntime gives the Manager its node agent, for callers that must
// create the Manager before the host (the host takes the Manager in its
// Options).
func (m *Manager) SetRuntime(rt Runtime) {
	m.mu.Lock()
	m.rt = rt
	m.mu.Unlock()
}

func (m *Manager) runtime() Runtime {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rt
}

// Start blocks until ctx ends, then stops every worker and waits for them.
// Containers started before Start are probed as well.
func (m *Manager) Start(ctx context.Context) error {
	<-ctx.Done()
	m.Close()
	return nil
}

// Close stops every worker and waits for them; containers started later
// are not probed. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	insts := m.instances
	m.instances = map[containerKey]*instance{}
	m.mu.Unlock()
	m.cancel()
	for _, in := range insts {
		in.stop()
	}
	m.wg.Wait()
	m.transport.CloseIdleConnections()
	return nil
}

// ContainerStarted starts the probes of a new instance and returns its
// initial started and ready values: started unless it has a startup probe,
// ready unless it has a readiness probe.
func (m *Manager) ContainerStarted(pod *api.Pod, container, containerID string) (started, ready bool) {
	c := findContainer(pod, container)
	if c == nil {
		return true, true
	}
	started = c.StartupProbe == nil
	ready = c.ReadinessProbe == nil
	if c.StartupProbe == nil && c.LivenessProbe == nil && c.ReadinessProbe == nil {
		m.remove(containerKey{pod.UID, container}, "")
		return started, ready
	}
	in := newInstance(m, pod, c, containerID, m.clock.Now())
	in.started.Store(started)
	key := containerKey{pod.UID, container}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return started, ready
	}
	old := m.instances[key]
	m.instances[key] = in
	in.startWorkers() // under mu, so that Close waits for them
	m.mu.Unlock()
	if old != nil {
		old.stop()
	}
	return started, ready
}

// ContainerStopped stops the probes of an instance that ended.
func (m *Manager) ContainerStopped(podUID, container, containerID string) {
	m.remove(containerKey{podUID, container}, containerID)
}

// remove stops the probes of key's instance (of any ID when id is "").
func (m *Manager) remove(key containerKey, id string) {
	m.mu.Lock()
	in := m.instances[key]
	if in != nil && (id == "" || in.id == id) {
		delete(m.instances, key)
	} else {
		in = nil
	}
	m.mu.Unlock()
	if in != nil {
		in.stop()
	}
}

// PodRemoved stops every probe of a pod.
func (m *Manager) PodRemoved(podUID string) {
	m.mu.Lock()
	var gone []*instance
	for k, in := range m.instances {
		if k.podUID == podUID {
			gone = append(gone, in)
			delete(m.instances, k)
		}
	}
	m.mu.Unlock()
	for _, in := range gone {
		in.stop()
	}
}

// lookup returns the running instance containerID of a container.
func (m *Manager) lookup(podUID, container, containerID string) *instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	in := m.instances[containerKey{podUID, container}]
	if in == nil || in.id != containerID {
		return nil
	}
	return in
}

// activeWorkers counts the worker goroutines (for tests).
func (m *Manager) activeWorkers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, in := range m.instances {
		n += in.running()
	}
	return n
}

// pendingKicks counts the runs asked for and not yet taken (for tests).
func (m *Manager) pendingKicks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, in := range m.instances {
		for _, w := range in.workers {
			if w != nil {
				n += len(w.trigger)
			}
		}
	}
	return n
}

func findContainer(pod *api.Pod, name string) *api.Container {
	if pod == nil {
		return nil
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	// A sidecar init container has probes and hooks too.
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// podString is a pod as the kubelet's messages name it: name_namespace(uid).
func podString(pod *api.Pod) string {
	return pod.Name + "_" + pod.Namespace + "(" + pod.UID + ")"
}

// logRecorder is the recorder of a Manager without a store.
type logRecorder struct{ log *slog.Logger }

func (r logRecorder) Eventf(obj api.Object, eventType, reason, messageFmt string, args ...any) {
	m := obj.GetObjectMeta()
	r.log.Info("event", "object", m.Namespace+"/"+m.Name, "type", eventType, "reason", reason, "message", sprintf(messageFmt, args...))
}

// timeoutOf is a probe's timeoutSeconds as a duration (default 1 s).
func timeoutOf(p *api.Probe) time.Duration {
	if p.TimeoutSeconds <= 0 {
		return time.Second
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

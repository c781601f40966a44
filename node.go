// Package wasmlet runs WebAssembly modules as Kubernetes pods on one machine,
// inside a Go program.
//
// A Node is the whole of a one-node cluster: the object store, the node agent
// that runs pods as WASI modules, the ReplicaSet, ReplicationController and
// garbage-collector controllers, and (optionally) the HTTPS API that kubectl
// and `wasmlet` talk to. Objects are the api package's types; the generic
// functions Create, Get, List, Update, Patch, Delete and Watch read and write
// them with the same defaulting and validation as the HTTP API.
//
//	node, err := wasmlet.New(ctx, wasmlet.NewConfig().WithDataDir(dir))
//	if err != nil { ... }
//	if err := node.Start(ctx); err != nil { ... }
//	defer node.Close()
//	pod, err := wasmlet.Create(ctx, node, &api.Pod{...})
package wasmlet

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
	"github.com/wasmlet/wasmlet/apiserver"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/controller"
	"github.com/wasmlet/wasmlet/host"
	"github.com/wasmlet/wasmlet/internal/clock"
	"github.com/wasmlet/wasmlet/probes"
	"github.com/wasmlet/wasmlet/proxy"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// Errors of the Node's own life cycle.
var (
	// ErrNotStarted: a call needs Start to have returned first.
	ErrNotStarted = errors.New("wasmlet: node not started")
	// ErrClosed: the node was closed.
	ErrClosed = errors.New("wasmlet: node closed")
)

// DefaultDataDir is where a node keeps its data when no data dir is set.
func DefaultDataDir() string { return client.DefaultDataDir() }

// UserCompilationCacheDir is the user's compilation cache,
// $XDG_CACHE_HOME/wasmlet/compilation (~/.cache/... by default), or "" when
// the user has no cache directory. Entries are kept per build of wazero and
// sealed with their checksum (internal/compilecache), so that several
// versions of the node share it safely.
func UserCompilationCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "wasmlet", "compilation")
}

// Node is a running one-node cluster. Create it with New, start it with
// Start, end it with Close.
type Node struct {
	cfg     Config
	dataDir string
	tmpDir  string // removed by Close: the data dir of an in-memory node
	clock   clock.Clock
	log     *slog.Logger

	st     *store.Store
	reg    *registry.Registry
	host   *host.Host
	probes *probes.Manager
	ctrl   *controller.Manager
	proxy  *proxy.Proxier
	api    *apiserver.Server

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errs    chan error

	closeOnce sync.Once
	closeErr  error
}

// New opens the node's store and builds its parts. Nothing runs until
// Start. ctx bounds only the opening.
func New(ctx context.Context, cfg Config) (*Node, error) {
	n := &Node{cfg: cfg, clock: cfg.clock, log: cfg.logger}
	if n.clock == nil {
		n.clock = clock.Real()
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if cfg.nodeName == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "wasmlet"
		}
		n.cfg.nodeName = h
	}
	n.dataDir = cfg.dataDir
	switch {
	case n.dataDir != "":
	case cfg.inMemory:
		d, err := os.MkdirTemp("", "wasmlet-node-")
		if err != nil {
			return nil, fmt.Errorf("wasmlet: %w", err)
		}
		n.dataDir, n.tmpDir = d, d
	default:
		n.dataDir = DefaultDataDir()
	}
	if err := privateDataDir(n.dataDir, n.log); err != nil {
		n.cleanup()
		return nil, fmt.Errorf("wasmlet: data dir: %w", err)
	}
	if err := n.build(); err != nil {
		n.cleanup()
		return nil, err
	}
	return n, nil
}

// privateDataDir makes the data dir, or makes an existing one private: it
// holds the API's token and CA key, the pods' volumes and logs. A wider
// mode is narrowed rather than refused: it is most often the mode a
// `mkdir` before the first start gave, and the node is the directory's
// only user.
func privateDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == 0o700 {
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	log.Warn("the data dir was not private; its mode is now 0700", "dir", dir, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	return nil
}

func (n *Node) build() error {
	var err error
	n.st, err = store.Open(filepath.Join(n.dataDir, "store"), store.Options{InMemory: n.cfg.inMemory, Now: n.clock.Now, Clock: n.clock})
	if err != nil {
		return fmt.Errorf("wasmlet: opening the store in %s: %w", n.dataDir, err)
	}
	n.recordDiskPressure()
	ropts := registry.Options{Clock: n.clock, AllowedHostPaths: n.cfg.allowedHostPaths}
	if ropts.Services, err = n.cfg.registryServiceRanges(); err != nil {
		return err
	}
	if n.cfg.runPods {
		// Pods are bound to this node as they are created, by whichever
		// writer creates them.
		ropts.NodeName = n.cfg.nodeName
	}
	n.reg = registry.New(n.st, ropts)
	if n.cfg.runPods {
		n.probes = probes.New(probes.Options{Store: n.st, NodeName: n.cfg.nodeName, Clock: n.clock, Logger: n.log})
		n.host, err = host.New(n.st, host.Options{
			NodeName:            n.cfg.nodeName,
			DataDir:             n.dataDir,
			CompilationCacheDir: n.cfg.compilationCacheDir,
			ImageRoot:           n.cfg.imageRoot,
			PodCIDR:             n.cfg.podCIDR,
			ShutdownGracePeriod: n.cfg.shutdownGracePeriod,
			Clock:               n.clock,
			Logger:              n.log,
			ProbeManager:        n.probes,
			Limits:              n.cfg.podLimits,
			AllowedHostPaths:    n.cfg.allowedHostPaths,
			Images:              n.cfg.images,
		})
		if err != nil {
			return fmt.Errorf("wasmlet: %w", err)
		}
		n.probes.SetRuntime(n.host)
	}
	if n.cfg.runControllers {
		n.ctrl, err = controller.NewManager(n.st, controller.Options{Clock: n.clock, Logger: n.log, Registry: n.reg})
		if err != nil {
			return fmt.Errorf("wasmlet: %w", err)
		}
	}
	if err := n.buildProxy(); err != nil {
		return err
	}
	if n.cfg.serveAPI {
		var logs apiserver.LogFunc
		var proxy apiserver.NodeProxyFunc
		if n.host != nil {
			logs = n.logs
			agent, name := n.host.NodeProxy(), n.cfg.nodeName
			proxy = func(node string) http.Handler {
				if node != name {
					return nil
				}
				return agent
			}
		}
		n.api, err = apiserver.New(n.reg, apiserver.Options{
			Listen:    n.cfg.listen,
			DataDir:   n.dataDir,
			Logs:      logs,
			NodeProxy: proxy,
			Logger:    n.log,
		})
		if err != nil {
			return fmt.Errorf("wasmlet: %w", err)
		}
	}
	return nil
}

// Start runs the node's parts and returns once the API serves (when it is
// on) and the node agent has registered the Node. The parts run until Close
// or until ctx ends.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.started {
		n.mu.Unlock()
		return errors.New("wasmlet: Start called twice")
	}
	n.started = true
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.errs = make(chan error, 4)
	n.mu.Unlock()

	// ctx ending stops the node as Close does, pods gracefully.
	context.AfterFunc(ctx, func() { _ = n.Close() })

	run := func(name string, f func(context.Context) error) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := f(runCtx); err != nil && runCtx.Err() == nil {
				n.log.Error("node part stopped", "part", name, "err", err)
				n.errs <- fmt.Errorf("wasmlet: %s: %w", name, err)
			}
		}()
	}
	// The API and the controllers run before the node agent starts any
	// pod: a pod whose container takes the node down must find, at the
	// next start, an API that can delete it (the agent holds such a
	// container in its crash-loop back-off meanwhile).
	if n.probes != nil {
		run("probes", n.probes.Start)
	}
	if n.ctrl != nil {
		run("controllers", n.ctrl.Start)
	}
	if n.proxy != nil {
		run("proxy", n.proxy.Start)
	}
	if n.api != nil {
		run("apiserver", n.api.Start)
		select {
		case <-n.api.Ready():
		case err := <-n.errs:
			_ = n.Close()
			return err
		case <-ctx.Done():
			_ = n.Close()
			return ctx.Err()
		}
	}
	if n.host != nil {
		run("host", n.host.Start)
		if err := n.waitRegistered(ctx); err != nil {
			_ = n.Close()
			return err
		}
	}
	return nil
}

// waitRegistered returns when the node agent has stored the v1 Node, so
// that `get nodes` right after Start finds it.
func (n *Node) waitRegistered(ctx context.Context) error {
	nodes, ok := api.LookupResource("nodes")
	if !ok {
		return errors.New("wasmlet: the api package serves no nodes resource")
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	name := n.cfg.nodeName
	for {
		_, rv, err := n.st.List(wctx, nodes, "", store.ListOptions{})
		if err != nil {
			return fmt.Errorf("wasmlet: waiting for node %s: %w", name, err)
		}
		if _, err := n.st.Get(wctx, nodes, "", name); err == nil {
			return nil
		}
		w, err := n.st.Watch(wctx, nodes, "", store.ListOptions{ResourceVersion: rv})
		if err != nil {
			return fmt.Errorf("wasmlet: waiting for node %s: %w", name, err)
		}
		expired := false
		for !expired {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok || ev.Type == store.Error {
					expired = true // list and watch again
					break
				}
				if ev.Object != nil && ev.Object.GetObjectMeta().Name == name && ev.Type != store.Deleted {
					w.Stop()
					return nil
				}
			case err := <-n.errs:
				w.Stop()
				return err
			case <-ctx.Done():
				w.Stop()
				return ctx.Err()
			}
		}
		w.Stop()
	}
}

// Close stops the node: pods get SIGTERM and their grace period (capped by
// the configured shutdown grace period), then every part stops and the
// store is closed. Every call returns when the node has stopped, with the
// first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	n.mu.Lock()
	n.closed = true
	started := n.started
	n.mu.Unlock()

	var errs []error
	if started && n.host != nil {
		grace := n.cfg.shutdownGracePeriod + 5*time.Second
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		if err := n.host.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("wasmlet: stopping pods: %w", err))
		}
		cancel()
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	n.cleanup()
	return errors.Join(errs...)
}

func (n *Node) cleanup() {
	if n.st != nil {
		if err := n.st.Close(); err != nil {
			n.log.Error("closing the store", "err", err)
		}
	}
	if n.tmpDir != "" {
		_ = os.RemoveAll(n.tmpDir)
	}
}

// APIAddr is the address the HTTPS API listens on ("" when it is off or
// not started).
func (n *Node) APIAddr() string {
	if n.api == nil {
		return ""
	}
	return n.api.Addr()
}

// KubeconfigPath is the kubeconfig that points kubectl at this node.
func (n *Node) KubeconfigPath() string { return filepath.Join(n.dataDir, "kubeconfig.yaml") }

// DataDir is the directory that holds the node's store and files.
func (n *Node) DataDir() string { return n.dataDir }

// NodeName is the name of the node's v1 Node.
func (n *Node) NodeName() string { return n.cfg.nodeName }

// LogOptions select what Logs writes, as `kubectl logs` does.
type LogOptions = host.LogOptions

// Logs writes a container's log to w.
func (n *Node) Logs(ctx context.Context, namespace, pod string, opts LogOptions, w io.Writer) error {
	if n.host == nil {
		return api.NewBadRequest("this node runs no pods: it has no logs")
	}
	return n.host.Logs(ctx, namespace, pod, opts, w)
}

func (n *Node) logs(ctx context.Context, namespace, pod string, opts apiserver.LogOptions, w io.Writer) error {
	return n.Logs(ctx, namespace, pod, host.LogOptions(opts), w)
}

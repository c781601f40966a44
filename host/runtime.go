package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/host/wasi"
	"github.com/wasmlet/wasmlet/internal/compilecache"
)

// moduleRuntime is all the pod workers need of the wasm runtime: compiling
// modules and starting instances of them. The node has one; tests of the
// worker logic use a struct of functions instead.
type moduleRuntime interface {
	// Compile compiles a module; the result is passed back to Start.
	Compile(ctx context.Context, wasm []byte) (compiledModule, error)
	// Start starts an instance; ctx ending kills it. cfg's directories
	// and listeners are the instance's from then on, released by Start
	// when it fails.
	Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error)
	Close(ctx context.Context) error
}

// compiledModule is a runtime's compiled module, opaque to the workers.
type compiledModule any

// instance is one running container instance; *wasi.Instance is one.
type instance interface {
	// Terminate delivers SIGTERM (stdin reaches end-of-file).
	Terminate()
	// Kill ends it with exit code 137.
	Kill()
	Done() <-chan struct{}
	Wait() wasi.ExitStatus
}

// wazeroRuntime is the node's runtime: one wazero runtime with the host's
// WASI layer, and a compilation cache on disk.
type wazeroRuntime struct {
	rt    wazero.Runtime
	cache *compilecache.Cache
	// log receives what the cache found and whether a module came from it
	// (setLogger; discarded until then).
	log *slog.Logger
	// opened is what the cache found when it was opened, logged by
	// setLogger.
	opened compilecache.Report
	// stopChecks: modules are compiled with the layer's stop checks
	// (wasi.Compile), for wazero's compiler; without them, with its yields
	// only (wasi.CompileWithYields), for its interpreter. Neither runtime
	// has wazero's WithCloseOnContextDone: the yields carry Kill, the CPU
	// limit and the run slots on both.
	stopChecks bool
	// slots bound the guests running their own code at once to one less
	// than GOMAXPROCS, so that one P is always free for the node's own
	// goroutines (host/wasi/cpu.go).
	slots *wasi.RunSlots
}

func newWazeroRuntime(ctx context.Context, cacheDir string) (*wazeroRuntime, error) {
	return newWazeroRuntimeWith(ctx, wazero.NewRuntimeConfig(), compilerArch, cacheDir)
}

// compilerArch: wazero compiles for this architecture, so that the stop
// flag is read by compiled code only (see package wasi); elsewhere (32-bit
// arm) guests run on its interpreter, with the yields only.
const compilerArch = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// newWazeroRuntimeWith is newWazeroRuntime on a given configuration (tests
// under the race detector take the interpreter, without stop checks).
func newWazeroRuntimeWith(ctx context.Context, cfg wazero.RuntimeConfig, stopChecks bool, cacheDir string) (*wazeroRuntime, error) {
	cfg = cfg.WithCloseOnContextDone(false)
	var (
		cache  *compilecache.Cache
		opened compilecache.Report
	)
	if cacheDir != "" {
		c, rep, err := compilecache.Open(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
		}
		cache = c
		cfg = cfg.WithCompilationCache(c.Wazero())
		opened = rep
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := wasi.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		if cache != nil {
			cache.Close(ctx)
		}
		return nil, fmt.Errorf("WASI layer: %w", err)
	}
	w := &wazeroRuntime{rt: rt, cache: cache, log: slog.New(slog.DiscardHandler), opened: opened, stopChecks: stopChecks,
		slots: wasi.NewRunSlots(runtime.GOMAXPROCS(0) - 1)}
	return w, nil
}

// setLogger sets where the runtime logs, and logs what the cache found
// when it was opened.
func (w *wazeroRuntime) setLogger(log *slog.Logger) {
	w.log = log
	logRemoved(log, w.opened)
}

func (w *wazeroRuntime) Compile(ctx context.Context, wasm []byte) (compiledModule, error) {
	if w.cache == nil {
		return w.compile(ctx, wasm)
	}
	var mod wazero.CompiledModule
	start := time.Now()
	cached, rep, err := w.cache.Compile(func() (err error) {
		mod, err = w.compile(ctx, wasm)
		return err
	})
	logRemoved(w.log, rep)
	if err != nil {
		if mod != nil {
			mod.Close(ctx)
		}
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	// Whether the machine code came from the cache is for the user who
	// waits on a pull to know why, and for the tests of the cache.
	w.log.Info("module compiled", "digest", "sha256:"+hex.EncodeToString(sum[:]),
		"size", len(wasm), "cached", cached, "took", time.Since(start).Round(time.Millisecond))
	return mod, nil
}

func (w *wazeroRuntime) compile(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	if w.stopChecks {
		return wasi.Compile(ctx, w.rt, wasm)
	}
	return wasi.CompileWithYields(ctx, w.rt, wasm)
}

// logRemoved says which entries of the compilation cache were refused.
func logRemoved(log *slog.Logger, rep compilecache.Report) {
	for _, e := range rep.Removed {
		log.Warn("compilation cache: removed an entry that was not sealed or whose bytes changed", "entry", e)
	}
}

func (w *wazeroRuntime) Start(ctx context.Context, mod compiledModule, cfg wasi.Config) (instance, error) {
	cm, ok := mod.(wazero.CompiledModule)
	if !ok {
		cfg.Release()
		return nil, fmt.Errorf("not a compiled module: %T", mod)
	}
	cfg.RunSlots = w.slots
	inst, err := wasi.Start(ctx, w.rt, cm, cfg)
	if err != nil {
		if st, ok := instantiationExit(err); ok {
			return newEndedInstance(st), nil
		}
		return nil, err
	}
	return inst, nil
}

func (w *wazeroRuntime) Close(ctx context.Context) error {
	err := w.rt.Close(ctx)
	if w.cache != nil {
		w.cache.Close(ctx)
	}
	return err
}

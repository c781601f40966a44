// Package wasi is the host's own WASI preview1 layer: a wazero host module
// named wasi_snapshot_preview1 whose state lives per instance, so that the
// host owns every socket, pipe and file of a guest, can wait for readiness on
// Go's netpoller, and can end every blocking call when the pod is killed.
//
// It uses wazero's public API only.
package wasi

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// Mount is one pre-opened directory.
type Mount struct {
	// GuestPath is the path the guest sees ("/data").
	GuestPath string
	// HostDir is the directory on the node; access is confined to it.
	HostDir  string
	ReadOnly bool
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
	// MemoryLimitBytes caps the guest's linear memory; 0 = no limit beyond
	// the module's own maximum.
	MemoryLimitBytes uint64
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
	// then trapped or was killed.
	OOMKilled bool
	// Killed: ended by Kill.
	Killed bool
	// Message describes a trap or a start error ("" for a plain exit).
	Message string
}

// Instance is one running guest.
type Instance struct{}

var errNotImplemented = errors.New("wasi: not implemented")

// Instantiate registers the layer's host module in rt. It must be called
// once per runtime, before any guest is started.
func Instantiate(ctx context.Context, rt wazero.Runtime) error { return errNotImplemented }

// Start runs the compiled command module's _start in its own goroutine.
// An error here (a listener that cannot be handed over, a mount that cannot
// be opened, a module that does not link) means nothing started and every
// listener in cfg was closed.
func Start(ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule, cfg Config) (*Instance, error) {
	return nil, errNotImplemented
}

// Terminate delivers SIGTERM: the guest's stdin reaches end-of-file.
func (i *Instance) Terminate() {}

// Kill ends the guest: every blocking call returns within 10 ms, the module
// is closed with exit code 137, and every fd of the instance is closed.
func (i *Instance) Kill() {}

// Done is closed when the instance has ended and released everything.
func (i *Instance) Done() <-chan struct{} { return nil }

// Wait blocks until the instance ends and returns how.
func (i *Instance) Wait() ExitStatus { return ExitStatus{} }

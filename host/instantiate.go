package host

import (
	"errors"
	"runtime"
	"strings"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmlet/wasmlet/host/wasi"
)

// A module's code can run before _start: its start section (and the
// functions it calls) runs while the module is instantiated, inside
// wasi.Start. A trap there, or a proc_exit, is the guest's own end, as it
// would be one instruction later in _start: the container ends Error with
// the layer's trap code (134) and the trap's message, or with the exit's
// code, and the restart policy and the crash-loop back-off apply as to any
// exit. Only a failure before any guest code ran (a module that does not
// link, a mount that cannot be opened, a listener) is a StartError.

// instantiationExit tells whether an error of wasi.Start is the end of guest
// code that ran while the module was instantiated, and how it ended.
func instantiationExit(err error) (wasi.ExitStatus, bool) {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return wasi.ExitStatus{Code: exit.ExitCode()}, true
	}
	// wazero reports a trap of running code, and a panic of a host
	// function it called, through its stack-trace builder, which gives
	// these forms; a link or validation error has neither.
	var rerr runtime.Error
	msg := err.Error()
	if errors.As(err, &rerr) || strings.Contains(msg, "wasm error: ") || strings.Contains(msg, "(recovered by wazero)") {
		return wasi.ExitStatus{Code: wasi.ExitCodeTrap, Message: msg}, true
	}
	return wasi.ExitStatus{}, false
}

// endedInstance is an instance that ended while it was instantiated.
type endedInstance struct {
	status wasi.ExitStatus
	done   chan struct{}
}

func newEndedInstance(st wasi.ExitStatus) *endedInstance {
	e := &endedInstance{status: st, done: make(chan struct{})}
	close(e.done)
	return e
}

func (e *endedInstance) Terminate()            {}
func (e *endedInstance) Kill()                 {}
func (e *endedInstance) Done() <-chan struct{} { return e.done }
func (e *endedInstance) Wait() wasi.ExitStatus { return e.status }

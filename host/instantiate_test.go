package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
)

// Modules whose code runs while they are instantiated, written out byte by
// byte: a start section (section 8) names a function that runs before
// _start can be called.
var (
	// startTrapModule's start function executes unreachable; _start
	// returns.
	startTrapModule = []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
		0x03, 0x03, 0x02, 0x00, 0x00, // functions 0, 1 of type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01, // export _start = func 1
		0x08, 0x01, 0x00, // start = func 0
		0x0a, 0x08, 0x02,
		0x03, 0x00, 0x00, 0x0b, // func 0: unreachable
		0x02, 0x00, 0x0b, // func 1: nothing
	}
	// startExitModule's start function calls proc_exit(3).
	startExitModule = []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00, // type 0: (i32) -> (), type 1: () -> ()
		0x02, 0x24, 0x01, 0x16, 'w', 'a', 's', 'i', '_', 's', 'n', 'a', 'p', 's', 'h', 'o', 't', '_', 'p', 'r', 'e', 'v', 'i', 'e', 'w', '1',
		0x09, 'p', 'r', 'o', 'c', '_', 'e', 'x', 'i', 't', 0x00, 0x00, // import func 0 = proc_exit
		0x03, 0x03, 0x02, 0x01, 0x01, // functions 1, 2 of type 1
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x02, // export _start = func 2
		0x08, 0x01, 0x01, // start = func 1
		0x0a, 0x0b, 0x02,
		0x06, 0x00, 0x41, 0x03, 0x10, 0x00, 0x0b, // func 1: proc_exit(3)
		0x02, 0x00, 0x0b, // func 2: nothing
	}
	// unlinkedModule imports a function the layer does not have.
	unlinkedModule = []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
		0x02, 0x0c, 0x01, 0x03, 'e', 'n', 'v', 0x04, 'n', 'o', 'p', 'e', 0x00, 0x00, // import env.nope
		0x03, 0x02, 0x01, 0x00,
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01,
		0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
	}
)

// TestInstantiationExit pins what the node reads of wazero's errors: a
// trap in a start function and a proc_exit there are the guest's end; a
// module that does not link never ran.
func TestInstantiationExit(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	if err := wasi.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		module []byte
		ok     bool
		code   uint32
		msg    string
	}{
		{"trap in the start function", startTrapModule, true, wasi.ExitCodeTrap, "unreachable"},
		{"proc_exit in the start function", startExitModule, true, 3, ""},
		{"unlinked import", unlinkedModule, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod, err := rt.CompileModule(ctx, tt.module)
			if err != nil {
				t.Fatal(err)
			}
			_, err = wasi.Start(ctx, rt, mod, wasi.Config{})
			if err == nil {
				t.Fatal("wasi.Start: no error")
			}
			st, ok := instantiationExit(err)
			if ok != tt.ok || st.Code != tt.code || !strings.Contains(st.Message, tt.msg) {
				t.Errorf("%v: got %+v, %v; want code %d, %v, message with %q", err, st, ok, tt.code, tt.ok, tt.msg)
			}
		})
	}
}

// TestRealStartFunctionTrap: a module whose start function traps is a
// container that crashed (Error, 134, the trap's message), restarted in
// the crash-loop back-off or, with restartPolicy Never, the pod Failed; not
// a container that could not start, nor one the node lost.
func TestRealStartFunctionTrap(t *testing.T) {
	dir := t.TempDir()
	for name, b := range map[string][]byte{"trap.wasm": startTrapModule, "exit3.wasm": startExitModule} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	image := func(name string) string { return filepath.Join(dir, name) }
	n.createPod("always", api.PodSpec{Containers: []api.Container{{Name: "c", Image: image("trap.wasm")}}})
	n.createPod("never", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: image("trap.wasm")}}})
	n.createPod("exit", api.PodSpec{RestartPolicy: api.RestartPolicyNever, Containers: []api.Container{{Name: "c", Image: image("exit3.wasm")}}})

	trapped := func(s *api.ContainerStateTerminated) bool {
		return s != nil && s.Reason == ReasonError && s.ExitCode == wasi.ExitCodeTrap && strings.Contains(s.Message, "unreachable")
	}
	p := n.waitPod("always", "CrashLoopBackOff", inCrashLoop("c", 1, "10s"))
	if cs := containerStatus(p, "c"); !trapped(cs.LastTerminationState.Terminated) {
		t.Errorf("always: %s", describe(p))
	}
	if !hasEvent(n.events("always"), "Normal Started Started container c") {
		t.Errorf("always: events %q", n.events("always"))
	}
	p = n.waitPod("never", "Failed", phaseIs(api.PodFailed))
	if cs := containerStatus(p, "c"); !trapped(cs.State.Terminated) || cs.RestartCount != 0 {
		t.Errorf("never: %s", describe(p))
	}
	p = n.waitPod("exit", "Failed", phaseIs(api.PodFailed))
	if s := containerStatus(p, "c").State.Terminated; s == nil || s.Reason != ReasonError || s.ExitCode != 3 {
		t.Errorf("exit: %s", describe(p))
	}
}

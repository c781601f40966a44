package wasi

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmlet/wasmlet/internal/hostile"
)

// The tests of this file call the layer's functions one at a time, as a
// guest would, through a module built here: it imports each function of
// wasi_snapshot_preview1 and exports a function that calls it, and a page
// of memory for the arguments.

// callModule builds that module's binary.
func callModule() []byte {
	funcs := hostFuncs()
	var m hostile.Module
	m.Memory(1)
	valTypes := func(ts []api.ValueType) []hostile.ValType {
		out := make([]hostile.ValType, len(ts))
		for k, t := range ts {
			out[k] = hostile.ValType(t)
		}
		return out
	}
	results := func(f hostFunc) []hostile.ValType {
		if f.noResult {
			return nil
		}
		return []hostile.ValType{hostile.I32}
	}
	imported := make([]uint32, len(funcs))
	for k, f := range funcs {
		imported[k] = m.ImportFunc(ModuleName, f.name, valTypes(f.params), results(f))
	}
	for k, f := range funcs {
		var body [][]byte
		for p := range f.params {
			body = append(body, hostile.LocalGet(uint32(p)))
		}
		body = append(body, hostile.Call(imported[k]))
		m.ExportFunc(f.name, m.Func(valTypes(f.params), results(f), nil, body...))
	}
	return m.Bytes()
}

// guest is an instance driven call by call from a test.
type guest struct {
	t    testing.TB
	inst *Instance
	mod  api.Module
	ctx  context.Context
	// next is the next free address of the memory for arguments.
	next uint32
}

var callRuntime struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

func newGuest(t testing.TB, cfg Config) *guest {
	t.Helper()
	ctx := context.Background()
	if callRuntime.rt == nil {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
		if err := Instantiate(ctx, rt); err != nil {
			t.Fatal(err)
		}
		m, err := rt.CompileModule(ctx, callModule())
		if err != nil {
			t.Fatal(err)
		}
		callRuntime.rt, callRuntime.mod = rt, m
	}
	inst, err := newInstance(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithCancel(context.WithValue(ctx, instanceKey{}, inst))
	inst.cancel = cancel
	mod, err := callRuntime.rt.InstantiateModule(gctx, callRuntime.mod, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		inst.fds.closeAll()
		mod.Close(ctx)
		cancel()
	})
	return &guest{t: t, inst: inst, mod: mod, ctx: gctx, next: 1024}
}

// call calls the function fn and returns its errno; a call that ends the
// guest returns the error.
func (g *guest) call(fn string, args ...uint64) (errno, error) {
	g.t.Helper()
	res, err := g.mod.ExportedFunction(fn).Call(g.ctx, args...)
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, nil
	}
	return uint32(res[0]), nil
}

// errno calls fn and fails the test if it ended the guest.
func (g *guest) errno(fn string, args ...uint64) errno {
	g.t.Helper()
	e, err := g.call(fn, args...)
	if err != nil {
		g.t.Fatalf("%s: %v", fn, err)
	}
	return e
}

// alloc reserves n bytes of the guest's memory.
func (g *guest) alloc(n uint32) uint32 {
	p := g.next
	g.next += (n + 7) &^ 7
	return p
}

// str writes s into the guest's memory and returns its address and length.
func (g *guest) str(s string) (uint64, uint64) {
	p := g.alloc(uint32(len(s)))
	g.mod.Memory().WriteString(p, s)
	return uint64(p), uint64(len(s))
}

func (g *guest) u32(p uint32) uint32 {
	v, _ := g.mod.Memory().ReadUint32Le(p)
	return v
}

// open opens path below dirfd with the rights of a read-write file, and
// returns the fd and the errno.
func (g *guest) open(dirfd uint32, path string, oflags uint16, base uint64) (uint32, errno) {
	g.t.Helper()
	p, l := g.str(path)
	out := g.alloc(4)
	e := g.errno("path_open", uint64(dirfd), lookupSymlinkFollow, p, l, uint64(oflags), base, base, 0, uint64(out))
	return g.u32(out), e
}

// iov writes an iovec of n bytes (holding data) and returns its address
// and the buffer's.
func (g *guest) iov(data string, n uint32) (uint64, uint32) {
	buf := g.alloc(n)
	g.mod.Memory().WriteString(buf, data)
	iov := g.alloc(8)
	g.mod.Memory().WriteUint32Le(iov, buf)
	g.mod.Memory().WriteUint32Le(iov+4, n)
	return uint64(iov), buf
}

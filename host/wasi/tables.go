package wasi

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Tables. wazero keeps a table as a Go slice of one pointer-sized word per
// element, allocated at instantiation with the table's initial size and
// grown by table.grow up to its maximum, or up to 2^32-1 elements when it
// declares none: 32 GiB that no memory limit saw, for a module of a few
// hundred bytes. So the node rewrites every module's table section before
// compiling it (Compile, CompileWithoutStopChecks):
//
//   - the module's own tables hold at most MaxTableElements elements in
//     all; a module whose tables start with more is refused;
//   - a table without a maximum gets one: its initial size, or
//     growableTableElements if that is more;
//   - maxima are lowered, in the order of the tables, so that their sum
//     stays within MaxTableElements;
//   - the sum of the maxima, the most its tables can ever hold, is exported
//     as the immutable i64 global TablesGlobal, and Start counts it, at
//     wazero's bytes per element, against the container's memory limit:
//     linear memory may grow to the limit minus the tables.
//
// A table.grow past a table's maximum returns -1 to the guest, as the
// specification allows any grow to fail. Imported tables belong to the
// module that exports them and are not counted here (a guest imports only
// the layer's functions, so a module that imports a table does not link).

// TablesGlobal is the name under which a module prepared by Compile or
// CompileWithoutStopChecks exports the number of elements its tables may
// hold at most.
const TablesGlobal = "wasmlet.tables"

// MaxTableElements is how many elements a module's tables may hold in all.
// Go's compiler puts every function whose address is taken into one table
// (5,856 elements for a hello world, 9,909 for a web server with gRPC);
// wasm-ld (C, Rust) only those called indirectly, with a maximum equal to
// the initial size (at most 104 in the WASI test suite).
const MaxTableElements = 1 << 20

// growableTableElements is the maximum a table declared without one gets
// when it starts smaller.
const growableTableElements = 1 << 16

// tableElementBytes is what wazero stores per element (a uintptr).
const tableElementBytes = uint64(unsafe.Sizeof(uintptr(0)))

// ErrTables: a module's tables start larger than the node allows.
var ErrTables = errors.New("wasi: tables over the node's limit")

// LimitTables returns the module with its tables bounded and their most
// exported as TablesGlobal, and its call stack given a budget
// (callstack.go), without stop checks: for wazero's interpreter, which a
// node runs with WithCloseOnContextDone. Compile's rewrite (Instrument)
// does the same, with the checks.
func LimitTables(wasm []byte) ([]byte, error) {
	return rewrite(wasm, noChecks)
}

// CompileWithoutStopChecks is Compile for a runtime with wazero's
// WithCloseOnContextDone: the module is compiled as LimitTables rewrites
// it (its tables bounded, its call stack given a budget), without stop
// checks. Errors are as Compile's.
func CompileWithoutStopChecks(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	return compileRewritten(ctx, rt, wasm, LimitTables, "bounding the tables of")
}

// compileRewritten compiles the module as rewritten, if it is within the
// module limits (CheckLimits); when the rewrite or
// its result fails, the original is compiled to tell why, so that the
// error is wazero's about the file as the user gave it, and an original
// that compiles while its rewrite did not is a fault (or a refusal) of the
// rewrite, which says so.
func compileRewritten(ctx context.Context, rt wazero.Runtime, wasm []byte, rewrite func([]byte) ([]byte, error), what string) (wazero.CompiledModule, error) {
	// A module over the limits is never compiled, not even to tell why
	// (limits.go).
	if err := CheckLimits(wasm); errors.Is(err, ErrModuleLimits) {
		return nil, err
	}
	out, err := rewrite(wasm)
	if err == nil {
		m, cerr := rt.CompileModule(ctx, out)
		if cerr == nil {
			return m, nil
		}
		err = cerr
	}
	m, oerr := rt.CompileModule(ctx, wasm)
	if oerr != nil {
		return nil, oerr
	}
	m.Close(ctx)
	return nil, fmt.Errorf("%s a module that compiles as it is: %w", what, err)
}

// limitTableSection rewrites the table section's body: maxima bounded as
// the comment at the top of this file says. It returns the new body and
// the sum of the maxima. expr copies a table's initialiser (a constant
// expression, function references renumbered).
func limitTableSection(body []byte, expr func(out []byte, r *reader) []byte) ([]byte, uint64, error) {
	type table struct {
		head     []byte // the 0x40 0x00 prefix if any, and the reference type
		min, max uint64
		hasMax   bool
		init     []byte // the initialiser, for the form with one
	}
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, 0, r.fail("table section")
	}
	var tables []table
	var mins uint64
	for k := uint32(0); k < n && r.err == nil; k++ {
		start := r.pos
		withInit := false
		if r.pos+1 < len(body) && body[r.pos] == 0x40 && body[r.pos+1] == 0x00 {
			withInit = true
			r.pos += 2
		}
		r.refType()
		t := table{head: body[start:r.pos]}
		switch flags := r.byte(); flags {
		case 0x00:
			t.min = uint64(r.u32())
		case 0x01:
			t.min = uint64(r.u32())
			t.max = uint64(r.u32())
			t.hasMax = true
		default:
			if r.err == nil {
				return nil, 0, fmt.Errorf("table %d: limits of kind 0x%02x", k, flags)
			}
		}
		if withInit {
			t.init = expr(nil, r)
		}
		if r.err != nil {
			break
		}
		if t.hasMax && t.max < t.min {
			return nil, 0, fmt.Errorf("table %d: maximum %d under its initial size %d", k, t.max, t.min)
		}
		mins += t.min
		if mins > MaxTableElements {
			return nil, 0, fmt.Errorf("%w: the module's tables start with %d elements or more, over the node's limit of %d in all",
				ErrTables, mins, MaxTableElements)
		}
		tables = append(tables, t)
	}
	if r.err != nil {
		return nil, 0, r.fail("table section")
	}
	if r.pos != len(body) {
		return nil, 0, fmt.Errorf("table section: %d bytes after the last table", len(body)-r.pos)
	}
	// Growth beyond the initial sizes is shared out in order.
	room := MaxTableElements - mins
	var most uint64
	out := appendU32(make([]byte, 0, len(body)+4*len(tables)), n)
	for _, t := range tables {
		want := t.max
		if !t.hasMax {
			want = max(t.min, growableTableElements)
		}
		grow := min(want-t.min, room)
		room -= grow
		t.max = t.min + grow
		most += t.max
		out = append(out, t.head...)
		out = append(out, 0x01)
		out = appendU32(out, uint32(t.min))
		out = appendU32(out, uint32(t.max))
		out = append(out, t.init...)
	}
	return out, most, nil
}

// appendTablesGlobal appends the global TablesGlobal exports: an immutable
// i64 of the tables' most.
func appendTablesGlobal(content []byte, most uint64) []byte {
	content = append(content, 0x7e, 0x00, 0x42)
	content = appendS64(content, int64(most))
	return append(content, 0x0b)
}

// tableBytes is what the module's tables may take at most, read from the
// instance's TablesGlobal (0 for a module not prepared by the node).
func tableBytes(m api.Module) uint64 {
	g := m.ExportedGlobal(TablesGlobal)
	if g == nil || g.Type() != api.ValueTypeI64 {
		return 0
	}
	return min(g.Get(), MaxTableElements) * tableElementBytes
}

// refType reads a table's reference type: funcref, externref, or a typed
// reference (0x63/0x64 and a heap type), which wazero accepts in tables.
func (r *reader) refType() {
	switch b := r.byte(); b {
	case 0x70, 0x6f:
	case 0x63, 0x64:
		r.sleb()
	default:
		r.bad(b, "reference type")
	}
}

// appendS64 appends v as signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

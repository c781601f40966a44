package wasi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
)

// StopGlobal is the name under which an instrumented module exports its
// stop flag: a mutable i32 global, 0 while the guest may run. Kill sets it
// to 1, and the guest traps at the head of the next loop it enters or
// repeats.
const StopGlobal = "wasmlet.stop"

// The host function an instrumented module imports and calls every
// yieldEvery loop heads (see Instrument and cpu.go).
const (
	yieldModule = "wasmlet"
	yieldName   = "yield"
)

// Compile compiles the module instrumented with stop checks (Instrument),
// for a runtime on wazero's compiler without WithCloseOnContextDone. When
// the module cannot be instrumented or the result does not compile, the
// original is compiled to tell why, so that the error is wazero's about the
// file as the user gave it; an original that compiles while its
// instrumented copy did not is a fault of Instrument, or a module the node
// refuses (ErrTables), and says so.
func Compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	return compileRewritten(ctx, rt, wasm, Instrument, "adding stop checks to")
}

// Instrument returns the module with a check at the head of every loop:
//
//	global.get $stop          ;; killed?
//	if
//	  unreachable
//	end
//	global.get $budget        ;; every yieldEvery loop heads, call the host
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget
//	i32.eqz
//	if
//	  call $yield             ;; imported: wasmlet.yield
//	  i32.const yieldEvery
//	  global.set $budget
//	end
//
// with the globals $stop (exported as StopGlobal) and $budget added, and
// the function $yield imported from the layer's module "wasmlet" after the
// module's own imports. Start finds the export and Kill sets it, so a
// guest that runs its own code without ever calling the host (a busy loop)
// still ends. Code without a loop or a call ends by itself; so a function
// that calls the module's code counts its entry towards $yield too (the
// same code without the flag's check), and a recursion without loops
// (wazero's WithCloseOnContextDone checks loop heads only, and missed it)
// ends at its next yield, where Kill ends it. Its tables are bounded as
// LimitTables bounds them (tables.go), and its call stack is given a
// budget (callstack.go).
//
// $yield is Go code, so the Go runtime can preempt the guest there:
// compiled code that never returns to Go cannot be preempted, and a
// garbage collection waits for every goroutine to stop, so one busy guest
// would stop the whole node at the next collection.
// TestBusyGuestLetsTheGarbageCollectorRun holds wazero to it. $yield is
// also where the guest's CPU time is counted and its CPU limit and the
// node's run slots are applied (cpu.go).
//
// WithCloseOnContextDone stops a guest at the same places, but leaves
// compiled code for Go at every loop head, and Go's wasm code passes a
// loop head at nearly every call and jump: a Go guest ran at about half
// its speed. These checks are two loads, a store and two branches (wazero
// reuses the value the budget was just set to). docs/RATIONALE.md,
// "Stopping a guest that never calls the host", has the measurements.
//
// The import takes the function index after the module's imported
// functions, so every index of a defined function grows by one: in calls,
// return calls, ref.func, exports, the start function, element segments,
// the initialisers of globals and tables, and the name section (whose
// function names wazero prints in a trap's stack trace). Debug sections
// (".debug_*") are dropped, since the code they describe moves. A module
// the rewrite does not understand (malformed, or with instructions or
// types wazero does not run either) is an error; the caller compiles the
// original to learn why.
func Instrument(wasm []byte) ([]byte, error) {
	return rewrite(wasm, stopChecks)
}

// InstrumentYields is Instrument without the stop flag's check: the count
// of loop heads and function entries and the call of $yield only. It is
// for wazero's interpreter, where the guest's code is Go code and a read
// of the flag would race with Kill's write; Kill ends such a guest in
// $yield instead, which reads what Kill wrote under the Go memory model
// (an atomic), within yieldEvery loop heads or entries. The global $stop
// is still added, at the same index, but neither read nor exported.
func InstrumentYields(wasm []byte) ([]byte, error) {
	return rewrite(wasm, yieldChecks)
}

// CompileWithYields is Compile for a runtime on wazero's interpreter,
// without WithCloseOnContextDone: the module as InstrumentYields rewrites
// it. Its guests get the CPU limit, the run slots and Kill at their
// yields, as a compiled guest does. Errors are as Compile's.
func CompileWithYields(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	return compileRewritten(ctx, rt, wasm, InstrumentYields, "adding yields to")
}

// checkMode is what the rewrite adds to a module's code.
type checkMode uint8

const (
	// noChecks: the table section, TablesGlobal and the call stack's
	// budget change, nothing else (LimitTables).
	noChecks checkMode = iota
	// yieldChecks: $yield is imported and called every yieldEvery loop
	// heads and entries (InstrumentYields).
	yieldChecks
	// stopChecks: yieldChecks and the stop flag read at every loop head
	// (Instrument).
	stopChecks
)

// rewrite is Instrument, InstrumentYields or LimitTables, by mode.
func rewrite(wasm []byte, mode checkMode) ([]byte, error) {
	checks := mode != noChecks
	r := &reader{b: wasm}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm module: no \\0asm header")
	}
	if v := wasm[4:8]; v[0] != 1 || v[1] != 0 || v[2] != 0 || v[3] != 0 {
		return nil, fmt.Errorf("not a wasm module of version 1: version bytes % x", v)
	}
	r.pos = 8
	out := make([]byte, 0, len(wasm)+len(wasm)/8+64)
	out = append(out, wasm[:8]...)

	var (
		imports                    imported
		yieldType                  uint32
		wroteTypes, wroteImports   bool
		wroteGlobals, wroteExports bool
		firstGlobal                uint32 // index of the first added global
		tables                     uint64 // the tables' most
		memory                     bool   // the module defines a memory
		shift                      funcShift
		lastRank                   int
		frames                     frameTypes // for the call stack's budget (callstack.go)
	)
	// The globals and exports added: $stop, $budget, TablesGlobal and
	// StackGlobal, and the exports of $stop, TablesGlobal and StackGlobal;
	// only the last two without the checks.
	addedGlobals, addedExports := addedGlobalCount(checks), uint32(2)
	if mode == stopChecks {
		addedExports = 3
	}
	// newSections writes the sections the module lacks, before the first
	// section that must follow them; once the imports are known, function
	// indices move.
	newSections := func(rank int) {
		if checks && !wroteTypes && rank > sectionRank[sectionType] {
			out = appendSection(out, sectionType, appendYieldType(appendU32(nil, 1)))
			wroteTypes = true
		}
		if checks && !wroteImports && rank > sectionRank[sectionImport] {
			out = appendSection(out, sectionImport, appendYieldImport(appendU32(nil, 1), yieldType))
			wroteImports = true
		}
		if rank > sectionRank[sectionImport] {
			shift = funcShift{on: checks, from: imports.funcs}
		}
		if !wroteGlobals && rank > sectionRank[sectionGlobal] {
			firstGlobal = imports.globals
			out = appendSection(out, sectionGlobal, appendAddedGlobals(appendU32(nil, addedGlobals), checks, tables))
			wroteGlobals = true
		}
		if !wroteExports && rank > sectionRank[sectionExport] {
			out = appendSection(out, sectionExport, appendAddedExports(appendU32(nil, addedExports+exportedMemory(memory)), mode, firstGlobal, memory))
			wroteExports = true
		}
	}
	for r.pos < len(wasm) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, r.fail("section header")
		}
		start := r.pos
		if uint64(start)+uint64(size) > uint64(len(wasm)) {
			return nil, fmt.Errorf("section %d at offset %d: size %d runs past the end of the module", id, start, size)
		}
		body := wasm[start : start+int(size)]
		r.pos = start + int(size)

		if id == sectionCustom {
			name, err := customName(body)
			if err != nil {
				return nil, fmt.Errorf("custom section at offset %d: %w", start, err)
			}
			switch {
			case !checks:
				out = appendSection(out, id, body)
			case strings.HasPrefix(name, ".debug_"):
			case name == "name" && shift.on:
				names, err := shift.names(body)
				if err != nil {
					return nil, fmt.Errorf("name section: %w", err)
				}
				out = appendSection(out, id, names)
			default:
				out = appendSection(out, id, body)
			}
			continue
		}
		rank, ok := sectionRank[id]
		if !ok {
			return nil, fmt.Errorf("section at offset %d: unknown section id %d", start, id)
		}
		if rank <= lastRank {
			return nil, fmt.Errorf("section %d at offset %d: out of order", id, start)
		}
		lastRank = rank
		newSections(rank)

		var (
			content = body
			err     error
		)
		switch id {
		case sectionType:
			frames.params, err = typeParams(body)
		case sectionFunction:
			frames.funcs, err = functionTypes(body)
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", id, err)
		}
		switch {
		case id == sectionType && checks:
			var entries int
			if yieldType, entries, err = countFuncTypes(body); err != nil {
				return nil, fmt.Errorf("type section: %w", err)
			}
			content = appendU32(nil, yieldType+1)
			content = appendYieldType(append(content, body[entries:]...))
			wroteTypes = true
		case id == sectionImport:
			if imports, err = countImports(body); err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			if checks {
				content = appendU32(nil, imports.count+1)
				content = append(content, body[imports.entries:]...)
				content = appendYieldImport(content, yieldType)
				wroteImports = true
			}
			shift = funcShift{on: checks, from: imports.funcs}
		case id == sectionTable:
			content, tables, err = limitTableSection(body, shift.constExpr)
		case id == sectionMemory:
			mr := &reader{b: body}
			memory = mr.u32() > 0
			err = mr.err
		case id == sectionGlobal:
			var defined uint32
			content, defined, err = shift.globals(body, checks)
			firstGlobal = imports.globals + defined
			content = appendAddedGlobals(content, checks, tables)
			wroteGlobals = true
		case id == sectionExport:
			content, err = shift.exports(body, addedExports+exportedMemory(memory), mode, firstGlobal, memory)
			wroteExports = true
		case id == sectionStart && checks:
			sr := &reader{b: body}
			content = appendU32(nil, shift.index(sr, sr.u32()))
			if sr.err == nil && sr.pos != len(body) {
				sr.err = errors.New("bytes after the start function")
			}
			err = sr.err
		case id == sectionElement && checks:
			content, err = shift.elements(body)
		case id == sectionCode:
			var check, count []byte
			if checks {
				check = loopCheck(firstGlobal, imports.funcs, mode == stopChecks)
				count = loopCheck(firstGlobal, imports.funcs, false)
			}
			frames.global = firstGlobal + addedGlobals - 1
			frames.globals = firstGlobal
			frames.imported = imports.funcs
			content, err = instrumentCode(body, check, count, shift, frames)
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", id, err)
		}
		out = appendSection(out, id, content)
	}
	newSections(len(sectionRank) + 1)
	return out, nil
}

// yieldEvery is how many loop heads a guest passes between two calls of
// the host: a collection waits for a busy guest that long (tens of
// microseconds for a tight loop), the CPU limit is applied at that
// granularity, and the call, about 0.1 µs, costs the guest well under 1 %.
const yieldEvery = 10000

// Section ids, and the order the binary format requires of them (the tag
// section of exception handling sits between memory and global).
const (
	sectionCustom   = 0
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionTable    = 4
	sectionMemory   = 5
	sectionGlobal   = 6
	sectionExport   = 7
	sectionStart    = 8
	sectionElement  = 9
	sectionCode     = 10
)

var sectionRank = map[byte]int{
	1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

// appendAddedGlobals appends the globals the rewrite adds: $stop (mutable
// i32, 0) and $budget (mutable i32, yieldEvery) with checks, then
// TablesGlobal and StackGlobal.
func appendAddedGlobals(content []byte, checks bool, tables uint64) []byte {
	if checks {
		content = append(content, 0x7f, 0x01, 0x41, 0x00, 0x0b)
		content = append(content, 0x7f, 0x01, 0x41)
		content = appendS32(content, yieldEvery)
		content = append(content, 0x0b)
	}
	return appendStackGlobal(appendTablesGlobal(content, tables))
}

// addedGlobalCount is how many globals appendAddedGlobals appends.
func addedGlobalCount(checks bool) uint32 {
	if checks {
		return 4
	}
	return 2
}

// appendAddedExports appends the exports of the added globals, the first
// of which has the index first, and MemoryExport when the module defines
// a memory. Only stopChecks exports the stop flag.
func appendAddedExports(content []byte, mode checkMode, first uint32, memory bool) []byte {
	tables := first
	if mode != noChecks {
		tables = first + 2
	}
	if mode == stopChecks {
		content = appendGlobalExport(content, StopGlobal, first)
	}
	content = appendGlobalExport(content, TablesGlobal, tables)
	content = appendGlobalExport(content, StackGlobal, tables+1)
	if memory {
		content = appendU32(content, uint32(len(MemoryExport)))
		content = append(content, MemoryExport...)
		content = append(content, 0x02) // memory 0: a module that defines one imports none
		content = appendU32(content, 0)
	}
	return content
}

// MemoryExport is the name under which a module prepared by Compile or
// CompileWithoutStopChecks exports the memory it defines, whether or not
// it exports it itself: wazero tells the size of exported and imported
// memories only, and Start must see a memory's initial size before it is
// allocated, to refuse one over the container's limit (a memory the
// module kept to itself was allocated unchecked, and wazero panicked on
// its refusal).
const MemoryExport = "wasmlet.memory"

func exportedMemory(memory bool) uint32 {
	if memory {
		return 1
	}
	return 0
}

func appendGlobalExport(content []byte, name string, index uint32) []byte {
	content = appendU32(content, uint32(len(name)))
	content = append(content, name...)
	content = append(content, 0x03)
	return appendU32(content, index)
}

// appendYieldType appends $yield's type, [] -> [].
func appendYieldType(content []byte) []byte { return append(content, 0x60, 0x00, 0x00) }

// appendYieldImport appends the import of $yield, of type typ.
func appendYieldImport(content []byte, typ uint32) []byte {
	content = appendU32(content, uint32(len(yieldModule)))
	content = append(content, yieldModule...)
	content = appendU32(content, uint32(len(yieldName)))
	content = append(content, yieldName...)
	content = append(content, 0x00)
	return appendU32(content, typ)
}

// loopCheck is the code put at the head of every loop (see Instrument),
// with the stop flag's check when flag; without it, it is also the count
// at the entry of a function that calls the module's code. $budget is the
// global after $stop.
func loopCheck(stop, yield uint32, flag bool) []byte {
	budget := stop + 1
	var c []byte
	if flag {
		c = appendU32([]byte{0x23}, stop)     // global.get $stop
		c = append(c, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
	}
	c = appendU32(append(c, 0x23), budget)
	c = append(c, 0x41, 0x01, 0x6b) // i32.const 1, i32.sub
	c = appendU32(append(c, 0x24), budget)
	c = appendU32(append(c, 0x23), budget)
	c = append(c, 0x45, 0x04, 0x40) // i32.eqz, if
	c = appendU32(append(c, 0x10), yield)
	c = appendS32(append(c, 0x41), yieldEvery)
	c = appendU32(append(c, 0x24), budget)
	return append(c, 0x0b) // end
}

func customName(body []byte) (string, error) {
	r := &reader{b: body}
	name := r.name()
	if r.err != nil {
		return "", fmt.Errorf("malformed name: %w", r.err)
	}
	return name, nil
}

// imported counts what the import section imports of the kinds whose index
// spaces the rewrite adds to.
type imported struct {
	count          uint32 // imports of every kind
	entries        int    // where the entries start, after the count
	funcs, globals uint32
}

// countImports reads the import section: imported functions and globals
// come first in their index spaces.
func countImports(body []byte) (imported, error) {
	r := &reader{b: body}
	n := imported{count: r.u32(), entries: r.pos}
	for k := n.count; k > 0 && r.err == nil; k-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
			n.funcs++
		case 0x01: // table: reference type, limits
			r.refType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
		case 0x03: // global: value type, mutability
			r.skipValType()
			r.byte()
			n.globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return imported{}, fmt.Errorf("import of unknown kind 0x%02x at offset %d", kind, r.pos-1)
		}
	}
	if r.err != nil {
		return imported{}, r.fail("import")
	}
	return n, nil
}

// countFuncTypes reads the type section: its number of entries, each a
// function type (the rewrite reads no other kind), and where they start.
func countFuncTypes(body []byte) (uint32, int, error) {
	r := &reader{b: body}
	n := r.u32()
	entries := r.pos
	for k := n; k > 0 && r.err == nil; k-- {
		if b := r.byte(); b != 0x60 {
			r.bad(b, "type form")
		}
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			r.skipValType()
		}
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			r.skipValType()
		}
	}
	if r.err != nil {
		return 0, 0, r.fail("types")
	}
	if r.pos != len(body) {
		return 0, 0, fmt.Errorf("%d bytes after the last type", len(body)-r.pos)
	}
	return n, entries, nil
}

// funcShift renumbers function indices for the import the rewrite adds:
// with on, every index from `from` (the first defined function) grows by
// one.
type funcShift struct {
	on   bool
	from uint32
}

func (s funcShift) moves(i uint32) bool { return s.on && i >= s.from }

// index is i renumbered; an index that cannot grow (one wazero would refuse
// anyway) is an error of r.
func (s funcShift) index(r *reader, i uint32) uint32 {
	if !s.moves(i) {
		return i
	}
	if i == 1<<32-1 {
		if r.err == nil {
			r.err = fmt.Errorf("function index %d at offset %d", i, r.pos)
		}
		return 0
	}
	return i + 1
}

// constExpr copies a constant expression from r, up to and including its
// end, with function references renumbered.
func (s funcShift) constExpr(out []byte, r *reader) []byte {
	start := r.pos
	for r.err == nil {
		switch op := r.byte(); {
		case op == 0x0b: // end
			return append(out, r.b[start:r.pos]...)
		case op == 0x41, op == 0x42, op == 0xd0: // i32.const, i64.const, ref.null heap type
			r.sleb()
		case op == 0x43:
			r.skip(4)
		case op == 0x44:
			r.skip(8)
		case op == 0x23: // global.get
			r.u32()
		case op == 0xd2: // ref.func
			out = append(out, r.b[start:r.pos]...)
			out = appendU32(out, s.index(r, r.u32()))
			start = r.pos
		case op == 0x6a, op == 0x6b, op == 0x6c, op == 0x7c, op == 0x7d, op == 0x7e:
			// extended constants: add, sub, mul
		case op == 0xfd: // v128.const
			if sub := r.u32(); sub != 12 {
				if r.err == nil {
					r.err = fmt.Errorf("instruction 0xfd %d in a constant expression at offset %d", sub, r.pos)
				}
			}
			r.skip(16)
		default:
			r.bad(op, "instruction in a constant expression")
		}
	}
	return out
}

// globals copies the global section's entries, initialisers renumbered,
// and returns their number; the count in front of them includes the
// globals the rewrite adds (addedGlobalCount), which the caller appends.
func (s funcShift) globals(body []byte, checks bool) ([]byte, uint32, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, 0, r.fail("global count")
	}
	out := appendU32(make([]byte, 0, len(body)+32), n+addedGlobalCount(checks))
	if !s.on {
		return append(out, body[r.pos:]...), n, nil
	}
	for k := n; k > 0 && r.err == nil; k-- {
		start := r.pos
		r.skipValType()
		r.byte() // mutability
		out = append(out, body[start:r.pos]...)
		out = s.constExpr(out, r)
	}
	if r.err != nil {
		return nil, 0, r.fail("globals")
	}
	if r.pos != len(body) {
		return nil, 0, fmt.Errorf("%d bytes after the last global", len(body)-r.pos)
	}
	return out, n, nil
}

// exports copies the export section with function indices renumbered and
// the exports of the added globals (added of them, the first global at
// index first) appended. A module that exports a name the node reserves
// is refused.
func (s funcShift) exports(body []byte, added uint32, mode checkMode, first uint32, memory bool) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(body)+40), n+added)
	for k := n; k > 0 && r.err == nil; k-- {
		start := r.pos
		switch r.name() {
		case StopGlobal:
			return nil, fmt.Errorf("the module exports %q itself, a name the node reserves for its stop flag", StopGlobal)
		case TablesGlobal:
			return nil, fmt.Errorf("the module exports %q itself, a name the node reserves for the size of its tables", TablesGlobal)
		case StackGlobal:
			return nil, fmt.Errorf("the module exports %q itself, a name the node reserves for its call stack's budget", StackGlobal)
		case MemoryExport:
			return nil, fmt.Errorf("the module exports %q itself, a name the node reserves for its memory", MemoryExport)
		}
		kind := r.byte()
		out = append(out, body[start:r.pos]...)
		i := r.u32()
		if kind == 0x00 {
			i = s.index(r, i)
		}
		out = appendU32(out, i)
	}
	if r.err != nil {
		return nil, r.fail("export section")
	}
	if r.pos != len(body) {
		return nil, fmt.Errorf("%d bytes after the last export", len(body)-r.pos)
	}
	return appendAddedExports(out, mode, first, memory), nil
}

// elements copies the element section with function indices renumbered,
// in each of its eight forms (flags 0-7: bit 0 passive or declarative,
// bit 1 an explicit table index when active, or declarative when not, bit 2
// expressions rather than function indices).
func (s funcShift) elements(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(body)+len(body)/8), n)
	for k := n; k > 0 && r.err == nil; k-- {
		start := r.pos
		flags := r.u32()
		if flags > 7 {
			if r.err == nil {
				r.err = fmt.Errorf("element segment %d: flags %d", n-k, flags)
			}
			break
		}
		if flags&0x03 == 0x02 { // table index
			r.u32()
		}
		out = append(out, body[start:r.pos]...)
		if flags&0x01 == 0 { // active: offset
			out = s.constExpr(out, r)
		}
		exprs := flags&0x04 != 0
		if flags&0x03 != 0 { // element kind or reference type
			start = r.pos
			if exprs {
				r.refType()
			} else if kind := r.byte(); kind != 0x00 {
				r.bad(kind, "element kind")
			}
			out = append(out, body[start:r.pos]...)
		}
		c := r.u32()
		out = appendU32(out, c)
		for ; c > 0 && r.err == nil; c-- {
			if exprs {
				out = s.constExpr(out, r)
			} else {
				out = appendU32(out, s.index(r, r.u32()))
			}
		}
	}
	if r.err != nil {
		return nil, r.fail("element section")
	}
	if r.pos != len(body) {
		return nil, fmt.Errorf("%d bytes after the last element segment", len(body)-r.pos)
	}
	return out, nil
}

// names copies the name section (body starts with the section's name)
// with function indices renumbered: in function names (subsection 1),
// local names (2) and label names (3), each a map ordered by function
// index, which the shift keeps in order.
func (s funcShift) names(body []byte) ([]byte, error) {
	r := &reader{b: body}
	r.name()
	out := append(make([]byte, 0, len(body)+len(body)/8), body[:r.pos]...)
	for r.pos < len(body) && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(body)-r.pos) {
			return nil, fmt.Errorf("subsection at offset %d: malformed size", r.pos)
		}
		sub := body[r.pos : r.pos+int(size)]
		r.pos += int(size)
		if id >= 1 && id <= 3 {
			var err error
			if sub, err = s.nameMap(sub, id != 1); err != nil {
				return nil, fmt.Errorf("subsection %d: %w", id, err)
			}
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	if r.err != nil {
		return nil, r.fail("subsection")
	}
	return out, nil
}

// nameMap renumbers the function indices of a name map, or of an indirect
// one (a map of a function's locals or labels for each function).
func (s funcShift) nameMap(sub []byte, indirect bool) ([]byte, error) {
	r := &reader{b: sub}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(sub)+8), n)
	for ; n > 0 && r.err == nil; n-- {
		out = appendU32(out, s.index(r, r.u32()))
		start := r.pos
		if indirect {
			for m := r.u32(); m > 0 && r.err == nil; m-- {
				r.u32()
				r.name()
			}
		} else {
			r.name()
		}
		out = append(out, sub[start:r.pos]...)
	}
	if r.err != nil {
		return nil, r.fail("names")
	}
	if r.pos != len(sub) {
		return nil, fmt.Errorf("%d bytes after the last name", len(sub)-r.pos)
	}
	return out, nil
}

// instrumentCode rewrites the code section's function bodies: check
// (nil: none) at the head of every loop, count (nil: none) at the entry of
// every function that calls the module's code, function indices shifted,
// and the call stack's budget kept (callstack.go).
func instrumentCode(body []byte, check, count []byte, shift funcShift, frames frameTypes) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, r.fail("code section")
	}
	if uint64(n) != uint64(len(frames.funcs)) {
		return nil, fmt.Errorf("code section: %d bodies for %d functions", n, len(frames.funcs))
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	out = appendU32(out, n)
	var fn []byte
	for f := uint32(0); f < n; f++ {
		size := r.u32()
		if r.err != nil || uint64(r.pos)+uint64(size) > uint64(len(body)) {
			return nil, fmt.Errorf("code section: body of function %d: malformed size", f)
		}
		start := r.pos
		r.pos += int(size)
		params, err := frames.paramsOf(f)
		if err == nil {
			fn, err = instrumentBody(fn[:0], body[start:r.pos], check, count, shift, frames.frame(params, false))
			if errors.Is(err, errCatches) {
				fn, err = instrumentBody(fn[:0], body[start:r.pos], check, count, shift, frames.frame(params, true))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("code section: body of defined function %d: %w", f, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.pos != len(body) {
		return nil, fmt.Errorf("code section: %d bytes after the last function body", len(body)-r.pos)
	}
	return out, nil
}

// instrumentBody copies one function body, with check after the block
// type of every loop, count after the frame's debit at entry when the
// body calls the module's code (a call or tail call of a defined function,
// or any indirect one), function indices renumbered, and the frame's debit
// at entry, its restore after every call and its credit before every tail
// call (callstack.go).
//
// Code without loops ends by itself only if it does not call: a function
// that calls itself twice, 60 deep, runs 2^60 calls without a loop head.
// The count at entry bounds such a guest as the one at loop heads bounds a
// loop: it passes a yield every yieldEvery calls, where Kill, the CPU
// limit and the garbage collector reach it.
func instrumentBody(out, body, check, count []byte, shift funcShift, fr frame) ([]byte, error) {
	r := &reader{b: body}
	groups := r.u32()
	var locals uint64
	for n := groups; n > 0 && r.err == nil; n-- { // locals: count and type
		locals += uint64(r.u32())
		r.skipValType()
	}
	if r.err != nil {
		return nil, r.fail("locals")
	}
	if locals+uint64(fr.params) >= maxFrameLocals {
		return nil, fmt.Errorf("%d locals and parameters", locals+uint64(fr.params))
	}
	// The frame's own local, after the others: groups+1, the groups as
	// they were, then one i32.
	fr.local = fr.params + uint32(locals)
	fr.cost = frameCost(uint64(fr.local), len(body))
	groupsEnd := len(appendU32(nil, groups))
	out = appendU32(out, groups+1)
	out = append(out, body[groupsEnd:r.pos]...)
	out = append(out, 0x01, 0x7f)
	out = fr.appendEntry(out)
	counted := len(out)
	out = append(out, count...)
	calls := false
	copied := r.pos
	for r.pos < len(body) && r.err == nil {
		at := r.pos
		op := r.byte()
		switch {
		case op == 0x03: // loop
			r.blockType()
			if r.err != nil {
				break
			}
			out = append(out, body[copied:r.pos]...)
			out = append(out, check...)
			if fr.catches {
				out = fr.appendRestore(out)
			}
			copied = r.pos
		case op == 0x10, op == 0x12: // call, return_call
			if op == 0x12 {
				out = fr.appendCredit(append(out, body[copied:at]...))
				copied = at
			}
			idx := r.pos
			i := r.u32()
			if r.err != nil {
				break
			}
			if shift.moves(i) {
				out = append(out, body[copied:idx]...)
				out = appendU32(out, shift.index(r, i))
				copied = r.pos
			}
			if i >= fr.imported { // a call of the module's own code
				calls = true
				if op == 0x10 {
					out = fr.appendRestore(append(out, body[copied:r.pos]...))
					copied = r.pos
				}
			}
		case op == 0x11: // call_indirect
			calls = true
			r.immediates(op)
			out = fr.appendRestore(append(out, body[copied:r.pos]...))
			copied = r.pos
		case op == 0x13: // return_call_indirect
			calls = true
			out = fr.appendCredit(append(out, body[copied:at]...))
			copied = at
			r.immediates(op)
		case op == 0xd2: // ref.func
			idx := r.pos
			i := r.u32()
			if r.err == nil && shift.moves(i) {
				out = append(out, body[copied:idx]...)
				out = appendU32(out, shift.index(r, i))
				copied = r.pos
			}
		case op >= 0x20 && op <= 0x24: // local.get, local.set, local.tee, global.get, global.set
			// An index past the module's own is invalid in the module as
			// written, and would name what the rewrite added (the stop flag,
			// the call stack's budget, the frame's local) once rewritten.
			i := r.u32()
			if op <= 0x22 && i >= fr.local || op >= 0x23 && i >= fr.globals {
				if r.err == nil {
					r.err = fmt.Errorf("index %d of instruction 0x%02x at offset %d past the module's own", i, op, r.pos)
				}
			}
		case op == 0x06, op == 0x1f: // try, try_table
			if !fr.catches {
				return nil, errCatches
			}
			r.immediates(op)
		case fr.catches && (op == 0x07 || op == 0x19 || op == 0x0b && r.pos < len(body)):
			// catch, catch_all, end: where an exception may land
			r.immediates(op)
			out = fr.appendRestore(append(out, body[copied:r.pos]...))
			copied = r.pos
		default:
			r.immediates(op)
		}
	}
	if r.err != nil {
		return nil, r.fail("code")
	}
	out = append(out, body[copied:]...)
	if !calls && len(count) > 0 { // a leaf: its entry needs no count
		out = append(out[:counted], out[counted+len(count):]...)
	}
	return out, nil
}

// immediates skips the immediates of the instruction op, whose opcode byte
// was just read (instrumentBody, limitCheck.body).
func (r *reader) immediates(op byte) {
	switch {
	case op == 0x02, op == 0x03, op == 0x04, op == 0x06: // block, loop, if, try
		r.blockType()
	case op == 0x10, op == 0x12, op == 0xd2: // call, return_call, ref.func
		r.u32()
	case op == 0x1f: // try_table
		r.blockType()
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			switch kind := r.byte(); kind {
			case 0x00, 0x01: // catch, catch_ref: tag, label
				r.u32()
				r.u32()
			case 0x02, 0x03: // catch_all, catch_all_ref: label
				r.u32()
			default:
				r.bad(kind, "catch clause")
			}
		}
	case op <= 0x01, op == 0x05, op == 0x0a, op == 0x0b, op == 0x0f, op == 0x19,
		op == 0x1a, op == 0x1b, op == 0xd1, op >= 0x45 && op <= 0xc4:
		// no immediate
	case op == 0x07, op == 0x08, op == 0x09, op == 0x0c, op == 0x0d,
		op == 0x18, op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40:
		// one index: catch/throw tag, rethrow/br/br_if/delegate label,
		// local/global/table index, memory.size/grow memory
		r.u32()
	case op == 0x0e: // br_table: labels, default
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect: type, table
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for c := r.u32(); c > 0 && r.err == nil; c-- {
			r.skipValType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x41, op == 0x42, op == 0xd0: // i32.const, i64.const, ref.null heap type
		r.sleb()
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xfc:
		r.miscOp()
	case op == 0xfd:
		r.vectorOp()
	case op == 0xfe:
		r.atomicOp()
	default:
		r.bad(op, "opcode")
	}
}

// reader decodes the binary format. The first error sticks; every read
// after it returns zero.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail(what string) error {
	return fmt.Errorf("%s: %w", what, r.err)
}

func (r *reader) bad(b byte, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("unknown %s 0x%02x at offset %d", what, b, r.pos-1)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.err = fmt.Errorf("unexpected end at offset %d", r.pos)
		return 0
	}
	b := r.b[r.pos]
	r.pos++
	return b
}

func (r *reader) skip(n int) {
	if r.err == nil && (n < 0 || n > len(r.b)-r.pos) {
		r.err = fmt.Errorf("unexpected end at offset %d", len(r.b))
		return
	}
	r.pos += n
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			if v > 1<<32-1 {
				break
			}
			return uint32(v)
		}
	}
	if r.err == nil {
		r.err = fmt.Errorf("malformed u32 at offset %d", r.pos)
	}
	return 0
}

// sleb skips a signed LEB128 of at most 10 bytes (i32, i64, s33).
func (r *reader) sleb() {
	for range 10 {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	if r.err == nil {
		r.err = fmt.Errorf("malformed integer at offset %d", r.pos)
	}
}

func (r *reader) name() string {
	n := r.u32()
	start := r.pos
	r.skip(int(n))
	if r.err != nil {
		return ""
	}
	return string(r.b[start:r.pos])
}

// skipValType skips a value or reference type; types of later proposals
// (typed references) are refused.
func (r *reader) skipValType() {
	switch b := r.byte(); b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
	default:
		r.bad(b, "value type")
	}
}

// blockType skips a block type: empty (0x40), one value type, or a type
// index as a signed 33-bit integer.
func (r *reader) blockType() {
	if r.err != nil || r.pos >= len(r.b) {
		r.byte()
		return
	}
	switch r.b[r.pos] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		r.pos++
	default:
		r.sleb()
	}
}

func (r *reader) limits() {
	flags := r.byte()
	r.sleb() // minimum (u32, or u64 for 64-bit memories)
	if flags&0x01 != 0 {
		r.sleb() // maximum
	}
}

// memArg skips an alignment (whose bit 6 says a memory index follows, with
// multiple memories) and an offset.
func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.u32()
	}
	r.sleb()
}

// miscOp skips the 0xfc-prefixed instructions: saturating truncation, bulk
// memory and table operations.
func (r *reader) miscOp() {
	switch op := r.u32(); {
	case op <= 7: // trunc_sat
	case op == 8, op == 10, op == 12, op == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case op == 9, op == 11, op == 13, op == 15, op == 16, op == 17:
		// data.drop, memory.fill, elem.drop, table.grow, table.size, table.fill
		r.u32()
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown instruction 0xfc %d at offset %d", op, r.pos)
		}
	}
}

// vectorOp skips the 0xfd-prefixed (SIMD) instructions.
func (r *reader) vectorOp() {
	switch op := r.u32(); {
	case op <= 11, op == 92, op == 93: // loads and stores
		r.memArg()
	case op == 12, op == 13: // v128.const, i8x16.shuffle
		r.skip(16)
	case op >= 21 && op <= 34: // extract and replace lane
		r.skip(1)
	case op >= 84 && op <= 91: // load and store lane
		r.memArg()
		r.skip(1)
	case op <= 0x113: // arithmetic, including relaxed SIMD: no immediate
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown instruction 0xfd %d at offset %d", op, r.pos)
		}
	}
}

// atomicOp skips the 0xfe-prefixed (threads) instructions.
func (r *reader) atomicOp() {
	switch op := r.u32(); {
	case op == 0x03: // atomic.fence
		r.skip(1)
	case op <= 0x02, op >= 0x10 && op <= 0x4e:
		r.memArg()
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown instruction 0xfe %d at offset %d", op, r.pos)
		}
	}
}

// appendS32 appends v as signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

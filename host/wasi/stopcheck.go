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

// Compile compiles the module instrumented with stop checks (Instrument),
// for a runtime on wazero's compiler without WithCloseOnContextDone. When
// the module cannot be instrumented or the result does not compile, the
// original is compiled to tell why, so that the error is wazero's about the
// file as the user gave it; an original that compiles while its
// instrumented copy did not is a fault of Instrument, and says so.
func Compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	inst, err := Instrument(wasm)
	if err == nil {
		m, cerr := rt.CompileModule(ctx, inst)
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
	return nil, fmt.Errorf("adding stop checks to a module that compiles as it is: %w", err)
}

// Instrument returns the module with a check at the head of every loop:
//
//	global.get $stop          ;; killed?
//	if
//	  unreachable
//	end
//	global.get $budget        ;; every yieldEvery loop heads, return to Go
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget
//	i32.eqz
//	if
//	  i32.const 0
//	  memory.grow             ;; grows by nothing; wazero runs it in Go
//	  drop
//	  i32.const yieldEvery
//	  global.set $budget
//	end
//
// with the globals $stop (exported as StopGlobal) and $budget added, and a
// memory of no pages added to a module that has none. Start finds the export
// and Kill sets it, so a guest that runs its own code without ever calling
// the host (a busy loop) still ends. Code without a loop ends by itself, so
// a check at every loop head is enough, as it is for wazero's own
// WithCloseOnContextDone.
//
// The budget is for the Go runtime: compiled code that never returns to Go
// cannot be preempted, and a garbage collection waits for every goroutine
// to stop, so one busy guest would stop the whole node at the next
// collection. wazero runs memory.grow in Go (MemoryInstance.Grow, whose
// stack check is a preemption point): a guest passes one every yieldEvery
// loop heads. TestBusyGuestLetsTheGarbageCollectorRun holds wazero to it.
//
// WithCloseOnContextDone does both at the same places, but leaves compiled
// code for Go at every loop head, and Go's wasm code passes a loop head at
// nearly every call and jump: a Go guest ran at about half its speed. These
// checks are two loads, a store and two branches (wazero reuses the value
// the budget was just set to). docs/RATIONALE.md,
// "Stopping a guest that never calls the host", has the measurements.
//
// Debug sections (".debug_*") are dropped, since the code they describe
// moves; the name section stays valid, as no function index changes. A
// module the rewrite does not understand (malformed, or with instructions
// wazero does not run either) is an error; the caller compiles the original
// to learn why.
func Instrument(wasm []byte) ([]byte, error) {
	r := &reader{b: wasm}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm module: no \\0asm header")
	}
	if v := wasm[4:8]; v[0] != 1 || v[1] != 0 || v[2] != 0 || v[3] != 0 {
		return nil, fmt.Errorf("not a wasm module of version 1: version bytes % x", v)
	}
	r.pos = 8
	out := make([]byte, 0, len(wasm)+len(wasm)/16+64)
	out = append(out, wasm[:8]...)

	var (
		imports                                 imported
		hasMemory                               bool
		wroteMemory, wroteGlobals, wroteExports bool
		stopIndex                               uint32
		lastRank                                int
	)
	// newSections writes the memory, global and export sections the module
	// lacks, before the first section that must follow them.
	newSections := func(rank int) {
		if !wroteMemory && rank > sectionRank[sectionMemory] {
			if !hasMemory && imports.memories == 0 {
				out = appendSection(out, sectionMemory, []byte{1, 0x00, 0x00}) // one memory, min 0
			}
			wroteMemory = true
		}
		if !wroteGlobals && rank > sectionRank[sectionGlobal] {
			stopIndex = imports.globals
			out = appendSection(out, sectionGlobal, appendCheckGlobals(appendU32(nil, 2)))
			wroteGlobals = true
		}
		if !wroteExports && rank > sectionRank[sectionExport] {
			out = appendSection(out, sectionExport, appendStopExport(appendU32(nil, 1), stopIndex))
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
			if !strings.HasPrefix(name, ".debug_") {
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
		if id == sectionMemory {
			hasMemory = true
		}
		newSections(rank)

		switch id {
		case sectionImport:
			var err error
			if imports, err = countImports(body); err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			out = appendSection(out, id, body)
		case sectionGlobal:
			sr := &reader{b: body}
			defined := sr.u32()
			if sr.err != nil {
				return nil, sr.fail("global section")
			}
			stopIndex = imports.globals + defined
			content := appendU32(nil, defined+2)
			content = append(content, body[sr.pos:]...)
			out = appendSection(out, id, appendCheckGlobals(content))
			wroteGlobals = true
		case sectionExport:
			sr := &reader{b: body}
			n := sr.u32()
			entries := sr.pos
			for k := n; k > 0 && sr.err == nil; k-- {
				if sr.name() == StopGlobal {
					return nil, fmt.Errorf("the module exports %q itself, a name the node reserves for its stop flag", StopGlobal)
				}
				sr.byte()
				sr.u32()
			}
			if sr.err != nil {
				return nil, sr.fail("export section")
			}
			content := appendU32(nil, n+1)
			content = append(content, body[entries:]...)
			out = appendSection(out, id, appendStopExport(content, stopIndex))
			wroteExports = true
		case sectionCode:
			content, err := instrumentCode(body, loopCheck(stopIndex))
			if err != nil {
				return nil, err
			}
			out = appendSection(out, id, content)
		default:
			out = appendSection(out, id, body)
		}
	}
	newSections(len(sectionRank) + 1)
	return out, nil
}

// yieldEvery is how many loop heads a guest passes between two returns to
// Go: a collection waits for a busy guest that long (tens of microseconds
// for a tight loop), and the return, about 0.1 µs, costs the guest well
// under 1 %.
const yieldEvery = 10000

// Section ids, and the order the binary format requires of them (the tag
// section of exception handling sits between memory and global).
const (
	sectionCustom = 0
	sectionImport = 2
	sectionMemory = 5
	sectionGlobal = 6
	sectionExport = 7
	sectionCode   = 10
)

var sectionRank = map[byte]int{
	1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

// appendCheckGlobals appends $stop (mutable i32, 0) and $budget (mutable
// i32, yieldEvery).
func appendCheckGlobals(content []byte) []byte {
	content = append(content, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	content = append(content, 0x7f, 0x01, 0x41)
	content = appendS32(content, yieldEvery)
	return append(content, 0x0b)
}

func appendStopExport(content []byte, index uint32) []byte {
	content = appendU32(content, uint32(len(StopGlobal)))
	content = append(content, StopGlobal...)
	content = append(content, 0x03)
	return appendU32(content, index)
}

// loopCheck is the code put at the head of every loop (see Instrument);
// $budget is the global after $stop.
func loopCheck(stop uint32) []byte {
	budget := stop + 1
	c := appendU32([]byte{0x23}, stop)    // global.get $stop
	c = append(c, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
	c = appendU32(append(c, 0x23), budget)
	c = append(c, 0x41, 0x01, 0x6b) // i32.const 1, i32.sub
	c = appendU32(append(c, 0x24), budget)
	c = appendU32(append(c, 0x23), budget)
	c = append(c, 0x45, 0x04, 0x40)                   // i32.eqz, if
	c = append(c, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x41) // i32.const 0, memory.grow 0, drop, i32.const
	c = appendS32(c, yieldEvery)
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
	globals, memories uint32
}

// countImports reads the import section: imported globals come first in
// the global index space, and an imported memory is the module's memory.
func countImports(body []byte) (imported, error) {
	r := &reader{b: body}
	var n imported
	for k := r.u32(); k > 0 && r.err == nil; k-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.skipValType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			n.memories++
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

// instrumentCode rewrites the code section's function bodies.
func instrumentCode(body []byte, check []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, r.fail("code section")
	}
	out := make([]byte, 0, len(body)+len(body)/16)
	out = appendU32(out, n)
	var fn []byte
	for f := uint32(0); f < n; f++ {
		size := r.u32()
		if r.err != nil || uint64(r.pos)+uint64(size) > uint64(len(body)) {
			return nil, fmt.Errorf("code section: body of function %d: malformed size", f)
		}
		start := r.pos
		r.pos += int(size)
		var err error
		fn, err = instrumentBody(fn[:0], body[start:r.pos], check)
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
// type of every loop.
func instrumentBody(out, body, check []byte) ([]byte, error) {
	r := &reader{b: body}
	for n := r.u32(); n > 0 && r.err == nil; n-- { // locals: count and type
		r.u32()
		r.skipValType()
	}
	if r.err != nil {
		return nil, r.fail("locals")
	}
	copied := 0
	for r.pos < len(body) && r.err == nil {
		op := r.byte()
		switch {
		case op == 0x03: // loop
			r.blockType()
			if r.err != nil {
				break
			}
			out = append(out, body[copied:r.pos]...)
			out = append(out, check...)
			copied = r.pos
		case op == 0x02, op == 0x04, op == 0x06: // block, if, try
			r.blockType()
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
		case op == 0x07, op == 0x08, op == 0x09, op == 0x0c, op == 0x0d, op == 0x10,
			op == 0x12, op == 0x18, op >= 0x20 && op <= 0x26, op == 0xd2,
			op == 0x3f, op == 0x40:
			// one index: catch/throw tag, rethrow/br/br_if/delegate label,
			// call/return_call function, local/global/table index,
			// ref.func, memory.size/grow memory
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
	if r.err != nil {
		return nil, r.fail("code")
	}
	return append(out, body[copied:]...), nil
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

package wasi

import (
	"errors"
	"fmt"
)

// Module limits. The node compiles a module in its own process, before any
// container limit applies, and wazero's compiler spends memory and time in
// proportion to numbers a module declares rather than to its size: seven
// bytes declaring 2^31-1 locals had it ask for 16 GiB, 200,000 nested
// blocks (600 KB) or one br_table of a million labels took minutes of a
// core, and 36 MB of code took the node past 2 GiB. So CheckLimits reads
// every module before wazero sees it (Compile, CompileWithoutStopChecks)
// and refuses one over any of the limits below, naming the limit and the
// value. The limits are the implementation limits of the WebAssembly JS
// API, which every browser holds modules to, where it sets one; the node's
// own where it sets none (nesting, br_table, the code section's size) or
// where wazero could not hold to it (element segments).
// docs/RATIONALE.md, "Module limits", has the measurements.
const (
	MaxTypes        = 1_000_000
	MaxFunctions    = 1_000_000 // imported and defined
	MaxImports      = 100_000
	MaxExports      = 100_000
	MaxGlobals      = 1_000_000 // imported and defined
	MaxDataSegments = 100_000
	MaxParams       = 1_000
	MaxResults      = 1_000
	MaxLocals       = 50_000 // of a function, its parameters included
	MaxFunctionSize = 7_654_321
	// MaxElementSegments is the node's: the JS API allows 10,000,000, and
	// wazero's decoder takes about 70 bytes and 1.2 µs a segment (1,000,000
	// empty ones: 68 MB, 1.2 s, from 3 MB of module). Go's compiler and
	// wasm-ld write one.
	MaxElementSegments = 100_000

	// MaxNesting is how deeply blocks, loops, ifs and trys may nest in a
	// function. Go's compiler nests a block per resume point of a function
	// (its jump table), the deepest code there is: 549 in the examples, 79
	// in the WASI test suite. wazero's compiler takes time in the square
	// of the depth: 10,000 nested blocks took it 0.4 s.
	MaxNesting = 10_000
	// MaxNestingSum bounds the sum, over every block, loop, if and try of
	// the module, of its depth: what the compiler's time grows with across
	// functions (each as deep as MaxNesting, ten took it 3.4 s). The
	// examples' largest is 6,812,432 (myweb).
	MaxNestingSum = 100_000_000
	// MaxBrTableLabels is how many labels one br_table may list, its
	// default not counted; MaxBrTableLabelsSum how many the module's
	// br_tables list in all. The compiler's time per label grows with the
	// table (1.5 µs a label in tables of 1,000, 6.9 µs in tables of 16,384,
	// 19 µs in tables of 65,520, V8's limit); Go's largest is 1,031, and
	// myweb's 188,994 in all.
	MaxBrTableLabels    = 16_384
	MaxBrTableLabelsSum = 1_000_000
	// MaxCodeSize is the size of the code section, every function body
	// together: five times myweb's (6.2 MB, which compiles in 3.5 s).
	// The compiler's memory grows with the largest function rather than
	// with the whole (MaxFunctionSize of the worst code: 450 MB).
	MaxCodeSize = 32 << 20
)

// ErrModuleLimits: a module is over one of the node's module limits.
var ErrModuleLimits = errors.New("wasi: module over the node's limits")

// CheckLimits returns an error wrapping ErrModuleLimits, naming the limit
// and the module's value, when the module is over one of the limits above,
// or an error saying where it cannot read the module, or nil. It reads
// each byte at most once and allocates in proportion to the numbers of
// types and functions, which it checks first.
func CheckLimits(wasm []byte) error {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return errors.New("not a wasm module: no \\0asm header")
	}
	c := limitCheck{}
	r := &reader{b: wasm, pos: 8}
	for r.pos < len(wasm) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return r.fail("section header")
		}
		if uint64(r.pos)+uint64(size) > uint64(len(wasm)) {
			return fmt.Errorf("section %d at offset %d: size %d runs past the end of the module", id, r.pos, size)
		}
		body := wasm[r.pos : r.pos+int(size)]
		r.pos += int(size)
		if err := checkCount(id, body); err != nil {
			return err
		}
		var err error
		switch id {
		case sectionCustom:
			if name, nerr := customName(body); nerr == nil && name == "name" {
				err = checkNames(body)
			}
		case sectionType:
			err = c.types(body)
		case sectionImport:
			err = c.imports(body)
		case 3: // function
			err = c.functions(body)
		case sectionGlobal:
			err = c.count(body, "globals", &c.globals, MaxGlobals)
		case sectionExport:
			var n uint32
			err = c.count(body, "exports", &n, MaxExports)
		case sectionElement:
			var n uint32
			if err = c.count(body, "element segments", &n, MaxElementSegments); err == nil {
				err = checkElements(body)
			}
		case 11: // data
			var n uint32
			if err = c.count(body, "data segments", &n, MaxDataSegments); err == nil {
				err = checkData(body)
			}
		case sectionCode:
			err = c.code(body)
		}
		if err != nil {
			return fmt.Errorf("section %d: %w", id, err)
		}
	}
	return nil
}

// limitCheck is what CheckLimits has read of the sections before the one
// it reads.
type limitCheck struct {
	params    []uint32 // of each type; 0 for a type of another form
	funcTypes []uint32 // type of each defined function
	funcs     uint32   // imported and defined
	globals   uint32   // imported and defined
	nesting   uint64   // sum of the depths of the blocks read
	labels    uint64   // br_table labels read
}

func over(what string, value uint64, limit uint64) error {
	return fmt.Errorf("%w: %s %d, over the limit of %d", ErrModuleLimits, what, value, limit)
}

// count reads a section's count of entries, added to *n, against limit.
func (c *limitCheck) count(body []byte, what string, n *uint32, limit uint64) error {
	r := &reader{b: body}
	k := r.u32()
	if r.err != nil {
		return r.fail(what)
	}
	if total := uint64(*n) + uint64(k); total > limit {
		return over(what, total, limit)
	}
	*n += k
	return nil
}

func (c *limitCheck) types(body []byte) error {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return r.fail("types")
	}
	if n > MaxTypes {
		return over("types", uint64(n), MaxTypes)
	}
	c.params = make([]uint32, 0, n)
	for k := n; k > 0 && r.err == nil; k-- {
		if form := r.byte(); form != 0x60 {
			// Another form (of proposals the node does not run): wazero
			// refuses it, so the count alone matters.
			r.bad(form, "type form")
			break
		}
		params := r.u32()
		if params > MaxParams {
			return over(fmt.Sprintf("type %d: parameters", len(c.params)), uint64(params), MaxParams)
		}
		for i := params; i > 0 && r.err == nil; i-- {
			r.skipValType()
		}
		results := r.u32()
		if results > MaxResults {
			return over(fmt.Sprintf("type %d: results", len(c.params)), uint64(results), MaxResults)
		}
		for i := results; i > 0 && r.err == nil; i-- {
			r.skipValType()
		}
		c.params = append(c.params, params)
	}
	if r.err != nil {
		return r.fail("types")
	}
	return nil
}

func (c *limitCheck) imports(body []byte) error {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return r.fail("imports")
	}
	if n > MaxImports {
		return over("imports", uint64(n), MaxImports)
	}
	in, err := countImports(body)
	if err != nil {
		return err
	}
	c.funcs, c.globals = in.funcs, in.globals
	return nil
}

func (c *limitCheck) functions(body []byte) error {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return r.fail("functions")
	}
	if total := uint64(c.funcs) + uint64(n); total > MaxFunctions {
		return over("functions", total, MaxFunctions)
	}
	c.funcs += n
	c.funcTypes = make([]uint32, 0, n)
	for k := n; k > 0 && r.err == nil; k-- {
		c.funcTypes = append(c.funcTypes, r.u32())
	}
	if r.err != nil {
		return r.fail("functions")
	}
	return nil
}

func (c *limitCheck) code(body []byte) error {
	if len(body) > MaxCodeSize {
		return over("code section: bytes", uint64(len(body)), MaxCodeSize)
	}
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return r.fail("code section")
	}
	for f := uint32(0); f < n; f++ {
		size := r.u32()
		if r.err != nil || uint64(r.pos)+uint64(size) > uint64(len(body)) {
			return fmt.Errorf("code section: body of function %d: malformed size", f)
		}
		if size > MaxFunctionSize {
			return over(fmt.Sprintf("defined function %d: body size", f), uint64(size), MaxFunctionSize)
		}
		var params uint32
		if int(f) < len(c.funcTypes) {
			if t := c.funcTypes[f]; int(t) < len(c.params) {
				params = c.params[t]
			}
		}
		if err := c.body(body[r.pos:r.pos+int(size)], params); err != nil {
			return fmt.Errorf("defined function %d: %w", f, err)
		}
		r.pos += int(size)
	}
	return nil
}

// body checks one function body's locals, nesting and br_tables.
func (c *limitCheck) body(body []byte, params uint32) error {
	r := &reader{b: body}
	locals := uint64(params)
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		locals += uint64(r.u32())
		if locals > MaxLocals {
			return over("locals", locals, MaxLocals)
		}
		r.skipValType()
	}
	if r.err != nil {
		return r.fail("locals")
	}
	depth := 0
	for r.pos < len(body) && r.err == nil {
		switch op := r.byte(); op {
		case 0x02, 0x03, 0x04, 0x06, 0x1f: // block, loop, if, try, try_table
			if depth++; depth > MaxNesting {
				return over("nesting depth", uint64(depth), MaxNesting)
			}
			if c.nesting += uint64(depth); c.nesting > MaxNestingSum {
				return over("sum of the nesting depths of the module's blocks", c.nesting, MaxNestingSum)
			}
			r.immediates(op)
		case 0x0b: // end
			depth--
		case 0x18: // delegate: ends a try
			r.u32()
			depth--
		case 0x0e: // br_table: labels, default
			n := r.u32()
			if n > MaxBrTableLabels {
				return over("br_table labels", uint64(n), MaxBrTableLabels)
			}
			if c.labels += uint64(n); c.labels > MaxBrTableLabelsSum {
				return over("br_table labels of the module", c.labels, MaxBrTableLabelsSum)
			}
			for ; n > 0 && r.err == nil; n-- {
				r.u32()
			}
			r.u32()
		default:
			r.immediates(op)
		}
	}
	if r.err != nil {
		return r.fail("code")
	}
	return nil
}

// Counts against the bytes that hold them. wazero's decoder allocates a
// vector's entries by the count in front of it before it reads one, so 20
// bytes declaring 2^32-1 element expressions or function names had it ask
// for 96 GiB, a fatal error of the Go runtime rather than a decoding error.
// A count is refused when the bytes left cannot hold that many entries of
// at least a byte each, in every vector wazero allocates by: the sections
// that are vectors, element segments' expressions, data segments' bytes,
// and the name section's maps.

// vectorSections are the ids of the sections that are a vector of entries.
var vectorSections = map[byte]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 9: true, 10: true, 11: true, 13: true}

func checkCount(id byte, body []byte) error {
	if !vectorSections[id] {
		return nil
	}
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil // the section's own check says why
	}
	return entriesFit(fmt.Sprintf("section %d: entries", id), n, len(body)-r.pos)
}

// entriesFit refuses a count of entries of at least a byte each over the bytes
// left to hold them.
func entriesFit(what string, n uint32, left int) error {
	if uint64(n) > uint64(max(left, 0)) {
		return fmt.Errorf("%w: %s %d, more than the %d bytes left can hold", ErrModuleLimits, what, n, max(left, 0))
	}
	return nil
}

// checkElements checks the count of each element segment's entries, in
// each of the eight forms (see funcShift.elements).
func checkElements(body []byte) error {
	r := &reader{b: body}
	skip := funcShift{}
	var scratch []byte // what constExpr copies, unused
	for k := r.u32(); k > 0 && r.err == nil; k-- {
		flags := r.u32()
		if flags > 7 {
			return nil // malformed: wazero stops here too
		}
		if flags&0x03 == 0x02 {
			r.u32()
		}
		if flags&0x01 == 0 {
			scratch = skip.constExpr(scratch[:0], r)
		}
		exprs := flags&0x04 != 0
		if flags&0x03 != 0 {
			if exprs {
				r.refType()
			} else {
				r.byte()
			}
		}
		c := r.u32()
		if r.err != nil {
			return nil
		}
		if err := entriesFit("element segment: entries", c, len(body)-r.pos); err != nil {
			return err
		}
		for ; c > 0 && r.err == nil; c-- {
			if exprs {
				scratch = skip.constExpr(scratch[:0], r)
			} else {
				r.u32()
			}
		}
	}
	return nil
}

// checkData checks each data segment's size.
func checkData(body []byte) error {
	r := &reader{b: body}
	var scratch []byte // what constExpr copies, unused
	for k := r.u32(); k > 0 && r.err == nil; k-- {
		switch flags := r.u32(); flags {
		case 0:
			scratch = funcShift{}.constExpr(scratch[:0], r)
		case 1:
		case 2:
			r.u32()
			scratch = funcShift{}.constExpr(scratch[:0], r)
		default:
			return nil
		}
		n := r.u32()
		if r.err != nil {
			return nil
		}
		if err := entriesFit("data segment: bytes", n, len(body)-r.pos); err != nil {
			return err
		}
		r.skip(int(n))
	}
	return nil
}

// checkNames checks the counts of the name section's function names (1)
// and local names (2), which wazero decodes; it reads them by their
// content, as wazero does, not by their subsection's size.
func checkNames(body []byte) error {
	r := &reader{b: body}
	r.name()
	for r.pos < len(body) && r.err == nil {
		id := r.byte()
		size := r.u32()
		switch id {
		case 1, 2:
			n := r.u32()
			if r.err != nil {
				return nil
			}
			if err := entriesFit(fmt.Sprintf("name subsection %d: entries", id), n, len(body)-r.pos); err != nil {
				return err
			}
			for ; n > 0 && r.err == nil; n-- {
				r.u32()
				if id == 1 {
					r.name()
					continue
				}
				m := r.u32()
				if r.err != nil {
					return nil
				}
				if err := entriesFit("name subsection 2: local names", m, len(body)-r.pos); err != nil {
					return err
				}
				for ; m > 0 && r.err == nil; m-- {
					r.u32()
					r.name()
				}
			}
		default:
			r.skip(int(size))
		}
	}
	return nil
}

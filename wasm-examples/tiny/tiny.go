// Package tiny writes the smallest useful pod module, byte by byte: a WASI
// command that writes "hello from tiny\n" to stdout and exits 0. It is not
// Go compiled to wasm (whose runtime alone is over a megabyte) so that
// benchmarks of the node measure the node, not the guest.
//
// The module, in the text format:
//
//	(module
//	  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
//	  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
//	  (memory (export "memory") 1)
//	  (data (i32.const 0) "\08\00\00\00\10\00\00\00hello from tiny\n")
//	  (func (export "_start")
//	    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24)))
//	    (call $proc_exit (i32.const 0))))
package tiny

// Message is what the module writes to stdout.
const Message = "hello from tiny\n"

// Section ids, value types and opcodes of the WebAssembly binary format
// used below.
const (
	secType     = 1
	secImport   = 2
	secFunction = 3
	secMemory   = 5
	secExport   = 7
	secCode     = 10
	secData     = 11

	typeFunc = 0x60
	i32      = 0x7f

	kindFunc   = 0x00
	kindMemory = 0x02

	opCall     = 0x10
	opDrop     = 0x1a
	opI32Const = 0x41
	opEnd      = 0x0b
)

// The iovec {buf, len} at address 0, the message right after it, and
// fd_write's count of written bytes after the message.
const (
	iovecAddr    = 0
	messageAddr  = 8
	nwrittenAddr = messageAddr + len(Message)
)

// Module returns the module's binary.
func Module() []byte {
	types := vec(
		append([]byte{typeFunc}, append(vec([]byte{i32}, []byte{i32}, []byte{i32}, []byte{i32}), vec([]byte{i32})...)...), // fd_write
		append([]byte{typeFunc}, append(vec([]byte{i32}), vec()...)...),                                                   // proc_exit
		append([]byte{typeFunc}, append(vec(), vec()...)...),                                                              // _start
	)
	imports := vec(
		cat(name("wasi_snapshot_preview1"), name("fd_write"), []byte{kindFunc, 0}),
		cat(name("wasi_snapshot_preview1"), name("proc_exit"), []byte{kindFunc, 1}),
	)
	functions := vec([]byte{2})
	memories := vec([]byte{0x00, 1}) // no maximum, one page
	exports := vec(
		cat(name("memory"), []byte{kindMemory, 0}),
		cat(name("_start"), []byte{kindFunc, 2}), // index 2: after the two imports
	)
	body := cat(
		[]byte{0}, // no locals
		i32Const(1), i32Const(iovecAddr), i32Const(1), i32Const(nwrittenAddr),
		[]byte{opCall, 0, opDrop},
		i32Const(0),
		[]byte{opCall, 1, opEnd},
	)
	code := vec(cat(uleb(uint32(len(body))), body))
	init := cat(le32(messageAddr), le32(len(Message)), []byte(Message))
	data := vec(cat([]byte{0}, i32Const(0), []byte{opEnd}, uleb(uint32(len(init))), init))

	return cat(
		[]byte{0x00, 'a', 's', 'm', 1, 0, 0, 0},
		section(secType, types),
		section(secImport, imports),
		section(secFunction, functions),
		section(secMemory, memories),
		section(secExport, exports),
		section(secCode, code),
		section(secData, data),
	)
}

func section(id byte, content []byte) []byte {
	return cat([]byte{id}, uleb(uint32(len(content))), content)
}

// vec is the binary format's vector: a count, then the elements.
func vec(elems ...[]byte) []byte {
	return cat(append([][]byte{uleb(uint32(len(elems)))}, elems...)...)
}

func name(s string) []byte { return cat(uleb(uint32(len(s))), []byte(s)) }

func i32Const(v int) []byte { return cat([]byte{opI32Const}, sleb(int32(v))) }

func le32(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

func cat(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

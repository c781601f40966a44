package hostile

// guest is a WASI command being written: a module with one memory,
// WASI imports declared on first use, and constant data placed in memory
// one piece after another.
type guest struct {
	m       Module
	imports map[string]uint32
	next    uint32 // where the next piece of data goes
	locals  int    // i32 locals of _start
}

// Fixed addresses in a guest's first page.
const (
	outAddr   = 0x10  // a WASI call's u32 result (bytes written, new fd)
	out2Addr  = 0x18  // a second one (sock_recv's flags)
	fdAddr    = 0x20  // an fd the guest keeps
	stdinIov  = 0x40  // {stdinBuf, 16}: reads of stdin
	stdinBuf  = 0x80  // 16 bytes
	eventAddr = 0xc0  // poll_oneoff's output event (32 bytes)
	dataBase  = 0x400 // constant data from here
)

// newGuest starts a command with a memory of pages pages and no maximum.
func newGuest(pages uint32) *guest {
	g := &guest{imports: map[string]uint32{}, next: dataBase}
	g.m.Memory(pages)
	g.m.Data(stdinIov, cat(le32(stdinBuf), le32(16)))
	return g
}

// call calls the WASI function name with the arguments (each one
// instruction sequence) and leaves its errno.
func (g *guest) call(name string, args ...[]byte) []byte {
	f, ok := g.imports[name]
	if !ok {
		f = g.m.WASI(name)
		g.imports[name] = f
	}
	return cat(cat(args...), Call(f))
}

// exit ends the guest with the code the instructions leave.
func (g *guest) exit(code ...[]byte) []byte { return g.call("proc_exit", code...) }

// put places b in memory and returns its address.
func (g *guest) put(b []byte) int32 {
	addr := g.next
	g.m.Data(addr, b)
	g.next += (uint32(len(b)) + 7) &^ 7
	return int32(addr)
}

// str places s in memory and returns its address and length as
// instructions, the way WASI takes a path.
func (g *guest) str(s string) []byte {
	return cat(I32Const(g.put([]byte(s))), I32Const(int32(len(s))))
}

// iovec places an iovec of the buffer {addr, n} and returns its address.
func (g *guest) iovec(addr, n int32) int32 {
	return g.put(cat(le32(uint32(addr)), le32(uint32(n))))
}

// waitForSIGTERM reads stdin until it reaches end-of-file, which is how the
// node delivers SIGTERM.
func (g *guest) waitForSIGTERM() []byte {
	return Ops(
		Loop,
		g.call("fd_read", I32Const(0), I32Const(stdinIov), I32Const(1), I32Const(outAddr)),
		I32Eqz, If,
		I32Const(outAddr), I32Load(0), BrIf(1), // bytes read: read on
		End,
		End,
	)
}

// sleep waits d seconds in poll_oneoff on a clock subscription.
func (g *guest) sleep(seconds int) []byte {
	sub := make([]byte, 48)
	// userdata 0, tag 0 (clock), clock id 1 (monotonic), timeout in ns,
	// precision 0, flags 0 (relative).
	copy(sub[16:], le32(1))
	copy(sub[24:], le64(uint64(seconds)*1e9))
	return Ops(g.call("poll_oneoff", I32Const(g.put(sub)), I32Const(eventAddr), I32Const(1), I32Const(outAddr)), Drop)
}

// Command finishes the module: _start runs body.
func (g *guest) Command(body ...[]byte) []byte {
	locals := make([]ValType, g.locals)
	for i := range locals {
		locals[i] = I32
	}
	g.m.ExportFunc("_start", g.m.Func(nil, nil, locals, body...))
	return g.m.Bytes()
}

// WASI constants the attacks pass.
const (
	lookupFollow = 1 // path_open's dirflags: follow symlinks

	oflagCreat = 1
	oflagTrunc = 8

	rightFdRead  = 1 << 1
	rightFdWrite = 1 << 6
)

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func le64(v uint64) []byte { return cat(le32(uint32(v)), le32(uint32(v>>32))) }

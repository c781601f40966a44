package wasi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

// The tests of this file hand each WASI call the sizes a hostile guest
// would (docs/guest-abi.md, "Limits of a call"): each call must answer
// with an errno, at once, having allocated next to nothing.

// heapAllocated is the process's cumulative heap allocation: a call's cost
// is the difference around it. Large objects count at once.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// maxCallAlloc is what a call with hostile sizes may allocate at most.
const maxCallAlloc = 1 << 20

// boundedCall calls fn, wants errno want, and fails if the call allocated
// more than maxCallAlloc.
func (g *guest) boundedCall(want errno, fn string, args ...uint64) {
	g.t.Helper()
	before := heapAllocated()
	e := g.errno(fn, args...)
	grew := heapAllocated() - before
	if e != want {
		g.t.Errorf("%s%v = errno %d, want %d", fn, args, e, want)
	}
	if grew > maxCallAlloc {
		g.t.Errorf("%s%v allocated %d bytes", fn, args, grew)
	}
}

// openTestRoot opens dir as a mount's root, which the instance closes.
func openTestRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ioGuest is a guest with a read-write mount of dir at fd 3, a listener at
// fd 4 and a file of 4 bytes, dir/f, open read-write at the returned fd.
func ioGuest(t *testing.T) (g *guest, fd uint64, dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	g = newGuest(t, Config{Mounts: []Mount{{GuestPath: "/d", Root: openTestRoot(t, dir)}}, Listeners: []Listener{{L: listen(t)}}})
	f, e := g.open(3, "f", 0, rightsRW|rightFdFilestatSetSize|rightFdAllocate)
	if e != errnoSuccess {
		t.Fatalf("path_open = %d", e)
	}
	return g, uint64(f), dir
}

// iovecCalls are the calls that read an iovec array, each with its
// arguments for an array at iovs of n entries.
func iovecCalls(fd uint64, out uint64) []struct {
	name string
	args func(iovs, n uint64) []uint64
} {
	const sock = 4
	return []struct {
		name string
		args func(iovs, n uint64) []uint64
	}{
		{"fd_write", func(iovs, n uint64) []uint64 { return []uint64{1, iovs, n, out} }},
		{"fd_read", func(iovs, n uint64) []uint64 { return []uint64{fd, iovs, n, out} }},
		{"fd_pread", func(iovs, n uint64) []uint64 { return []uint64{fd, iovs, n, 0, out} }},
		{"fd_pwrite", func(iovs, n uint64) []uint64 { return []uint64{fd, iovs, n, 0, out} }},
		{"sock_recv", func(iovs, n uint64) []uint64 { return []uint64{sock, iovs, n, 0, out, out} }},
		{"sock_send", func(iovs, n uint64) []uint64 { return []uint64{sock, iovs, n, 0, out} }},
	}
}

// An iovec count over Linux's IOV_MAX is EINVAL before anything is read or
// allocated. The layer used to make room for every entry first: 4M entries
// cost 96 MiB, and the 0x7fffffff of the finding (TestHostileCountsDoNot-
// KillTheProcess) 51 GB, which killed the node.
func TestIovecCountOverIOVMaxIsEINVAL(t *testing.T) {
	g, fd, _ := ioGuest(t)
	out := uint64(g.alloc(8))
	iovs := uint64(g.alloc(8))
	for _, c := range iovecCalls(fd, out) {
		for _, n := range []uint64{maxIovecs + 1, 1 << 22} {
			g.boundedCall(errnoInval, c.name, c.args(iovs, n)...)
		}
		// IOV_MAX itself is a count like any other: this array runs past
		// the memory.
		g.boundedCall(errnoFault, c.name, c.args(uint64(g.mod.Memory().Size()-8), maxIovecs)...)
	}
}

// The array is read whole: an array that ends past the memory (or whose
// address wraps around) is EFAULT, and nothing is written.
func TestIovecArrayOutsideMemoryIsEFAULT(t *testing.T) {
	g, _, _ := ioGuest(t)
	out := uint64(g.alloc(8))
	size := uint64(g.mod.Memory().Size())
	for _, tt := range []struct{ iovs, n uint64 }{
		{size - 8, 2}, {size, 1}, {math.MaxUint32 - 7, 2}, {math.MaxUint32, 1},
	} {
		g.boundedCall(errnoFault, "fd_write", 1, tt.iovs, tt.n, out)
	}
}

// A buffer longer than 2 GiB is a negative size to Linux (EINVAL); a
// buffer outside the memory is EFAULT; an empty buffer is never looked at.
func TestIovecLengths(t *testing.T) {
	var stdout bytes.Buffer
	g := newGuest(t, Config{Stdout: &stdout})
	mem := g.mod.Memory()
	out := uint64(g.alloc(8))
	iov := g.alloc(16)
	set := func(buf1, len1, buf2, len2 uint32) {
		for k, v := range []uint32{buf1, len1, buf2, len2} {
			mem.WriteUint32Le(iov+uint32(4*k), v)
		}
	}
	p, _ := g.str("hi")
	set(uint32(p), 2, 0, 1<<31)
	g.boundedCall(errnoInval, "fd_write", 1, uint64(iov), 2, out)
	set(uint32(p), 2, mem.Size()-1, 2)
	g.boundedCall(errnoFault, "fd_write", 1, uint64(iov), 2, out)
	set(uint32(p), 2, math.MaxUint32, 0)
	g.boundedCall(errnoSuccess, "fd_write", 1, uint64(iov), 2, out)
	if stdout.String() != "hi" || g.u32(uint32(out)) != 2 {
		t.Errorf("wrote %q, nwritten %d; want \"hi\", 2", stdout.String(), g.u32(uint32(out)))
	}
}

// Linux refuses a positional transfer whose end is past the largest
// offset with EINVAL, whatever the size of the file; the layer read the
// buffers one at a time and reported an empty read instead. A negative
// offset, or size, is EINVAL too.
func TestOffsetsPastInt64(t *testing.T) {
	g, fd, dir := ioGuest(t)
	out := uint64(g.alloc(8))
	iov := g.alloc(16)
	buf := g.alloc(32)
	mem := g.mod.Memory()
	for k, v := range []uint32{buf, 16, buf + 16, 16} {
		mem.WriteUint32Le(iov+uint32(4*k), v)
	}
	for _, fn := range []string{"fd_pread", "fd_pwrite"} {
		g.boundedCall(errnoInval, fn, fd, uint64(iov), 2, math.MaxInt64-20, out)
		g.boundedCall(errnoInval, fn, fd, uint64(iov), 2, 1<<63, out)
		g.boundedCall(errnoInval, fn, fd, uint64(iov), 1, math.MaxUint64, out)
	}
	g.boundedCall(errnoInval, "fd_allocate", fd, math.MaxInt64, math.MaxInt64)
	g.boundedCall(errnoInval, "fd_allocate", fd, 1<<63, 1)
	g.boundedCall(errnoInval, "fd_filestat_set_size", fd, 1<<63)
	g.boundedCall(errnoInval, "fd_seek", fd, math.MaxInt64, whenceEnd, out)
	g.boundedCall(errnoInval, "fd_seek", fd, 1<<63, whenceSet, out)
	if fi, err := os.Stat(filepath.Join(dir, "f")); err != nil || fi.Size() != 4 {
		t.Errorf("the file changed: %v %v", fi.Size(), err)
	}
}

// poll_oneoff's count is bounded before the sizes of the two arrays are
// computed from it. Unchecked, 1<<28 subscriptions wrapped both sizes to 0
// (TestHostileCountsDoNotKillTheProcess); here, counts just over the cap,
// and counts whose arrays do not fit.
func TestPollSubscriptionCount(t *testing.T) {
	g := newGuest(t, Config{})
	out := uint64(g.alloc(8))
	size := uint64(g.mod.Memory().Size())
	g.boundedCall(errnoInval, "poll_oneoff", 0, 0, 0, out)
	g.boundedCall(errnoInval, "poll_oneoff", 0, 0, maxSubscriptions+1, out)
	g.boundedCall(errnoInval, "poll_oneoff", 0, 0, math.MaxUint32, out)
	g.boundedCall(errnoFault, "poll_oneoff", 0, 0, maxSubscriptions, out)
	g.boundedCall(errnoFault, "poll_oneoff", 0, 0, size/subscriptionSize+1, out)
	g.boundedCall(errnoFault, "poll_oneoff", size-subscriptionSize+8, 0, 1, out)
	g.boundedCall(errnoFault, "poll_oneoff", 0, size-eventSize+8, 1, out)
}

// A socket named by many subscriptions is waited on once: the layer used
// to start a goroutine for every subscription on a socket after the first,
// so a guest's memory full of subscriptions cost the node a goroutine
// (8 KiB of stack at least) per 48 bytes.
func TestPollWaitsOncePerSocket(t *testing.T) {
	fake := clock.NewFake(time.Unix(1e9, 0))
	g := newGuest(t, Config{Clock: fake, Listeners: []Listener{{L: listen(t)}}})
	if _, ok := g.mod.Memory().Grow(1); !ok {
		t.Fatal("memory.grow")
	}
	const n = 1000
	subs := make([]sub, n)
	for k := range subs {
		subs[k] = sub{userdata: uint64(k), tag: eventFdRead, fd: 3}
	}
	subs[0] = sub{userdata: 0, tag: eventClock, timeout: time.Second}
	before := runtime.NumGoroutine()
	done := make(chan errno, 1)
	go func() {
		_, e := g.poll(subs...)
		done <- e
	}()
	fake.BlockUntil(1)
	time.Sleep(20 * time.Millisecond) // any goroutines of the wait have started
	during := runtime.NumGoroutine()
	fake.Advance(time.Second)
	if e := <-done; e != errnoSuccess {
		t.Fatalf("poll_oneoff = %d", e)
	}
	if during-before > 5 {
		t.Errorf("%d subscriptions on one listener started %d goroutines", n, during-before)
	}
}

// Paths and link targets are copied out of the guest's memory: longer than
// Linux's PATH_MAX, they are ENAMETOOLONG before anything is copied. The
// layer copied as much as the guest's memory held, the node's memory, not
// the guest's.
func TestPathLengthIsBounded(t *testing.T) {
	dir := t.TempDir()
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/d", Root: openTestRoot(t, dir)}}})
	mem := g.mod.Memory()
	if _, ok := mem.Grow(64); !ok { // 4 MiB and a page
		t.Fatal("memory.grow")
	}
	long := uint64(mem.Size() - 65536) // a path of 4 MiB of 'a'
	b, _ := mem.Read(65536, uint32(long))
	for k := range b {
		b[k] = 'a'
	}
	out := uint64(g.alloc(64))
	p, l := g.str("x")
	for _, tt := range []struct {
		fn   string
		args []uint64
	}{
		{"path_open", []uint64{3, 0, 65536, long, oflagCreat, rightsFile, rightsFile, 0, out}},
		{"path_create_directory", []uint64{3, 65536, long}},
		{"path_filestat_get", []uint64{3, 0, 65536, long, out}},
		{"path_unlink_file", []uint64{3, 65536, long}},
		{"path_readlink", []uint64{3, 65536, long, out, 64, out}},
		{"path_rename", []uint64{3, p, l, 3, 65536, long}},
		{"path_symlink", []uint64{65536, long, 3, p, l}},
		{"path_symlink", []uint64{p, l, 3, 65536, long}},
		{"path_link", []uint64{3, 0, p, l, 3, 65536, long}},
		{"path_open", []uint64{3, 0, 65536, maxPathLen + 1, oflagCreat, rightsFile, rightsFile, 0, out}},
		{"path_open", []uint64{3, 0, 0, math.MaxUint32, 0, rightsFile, rightsFile, 0, out}},
	} {
		g.boundedCall(errnoNametoolong, tt.fn, tt.args...)
	}
	// PATH_MAX less its NUL is a path like any other (ENAMETOOLONG from the
	// kernel, for its first component).
	g.boundedCall(errnoNametoolong, "path_open", 3, 0, 65536, maxPathLen, oflagCreat, rightsFile, rightsFile, 0, out)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the mount has %d entries", len(entries))
	}
}

// args_get and environ_get check both areas whole: a list that does not
// fit is EFAULT with nothing written (the layer wrote the strings that
// fitted).
func TestArgsThatDoNotFitAreNotWritten(t *testing.T) {
	g := newGuest(t, Config{Args: []string{"a", "bb"}, Env: []string{"K=V"}})
	mem := g.mod.Memory()
	size := mem.Size()
	ptrs := g.alloc(16)
	for _, tt := range []struct {
		fn        string
		ptrs, buf uint32
	}{
		{"args_get", ptrs, size - 4}, // "a\0" fits, "bb\0" does not
		{"args_get", size - 4, ptrs}, // one pointer of two
		{"args_get", math.MaxUint32 - 3, ptrs},
		{"environ_get", ptrs, size - 3},
	} {
		before, _ := mem.Read(0, size)
		before = slices.Clone(before)
		g.boundedCall(errnoFault, tt.fn, uint64(tt.ptrs), uint64(tt.buf))
		after, _ := mem.Read(0, size)
		if !bytes.Equal(before, after) {
			t.Errorf("%s(%#x, %#x) wrote into the memory", tt.fn, tt.ptrs, tt.buf)
		}
	}
}

// countingReader is a random source that counts what it was asked for
// and kills the instance at its first read.
type countingReader struct {
	inst *Instance
	n    int
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.inst.Kill()
	r.n += len(p)
	return len(p), nil
}

// random_get fills the guest's memory in chunks and stops at a kill: a
// guest's whole memory is seconds of work, during which the layer used to
// ignore Kill.
func TestRandomGetStopsAtKill(t *testing.T) {
	g := newGuest(t, Config{})
	mem := g.mod.Memory()
	g.boundedCall(errnoFault, "random_get", 0, uint64(mem.Size())+1)
	g.boundedCall(errnoFault, "random_get", math.MaxUint32, 2)
	g.boundedCall(errnoSuccess, "random_get", 0, uint64(mem.Size()))
	if _, ok := mem.Grow(127); !ok { // 8 MiB
		t.Fatal("memory.grow")
	}
	r := &countingReader{inst: g.inst}
	g.inst.rand = r
	if _, err := g.call("random_get", 0, uint64(mem.Size())); err == nil {
		t.Fatal("random_get returned to a killed guest")
	}
	if r.n > randomChunk {
		t.Errorf("random_get read %d bytes after the kill", r.n)
	}
}

// chunkWriter records the longest write it was handed, and kills the
// instance at its first when kill is set.
type chunkWriter struct {
	inst    *Instance
	kill    bool
	longest int
	total   int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.kill {
		w.inst.Kill()
	}
	w.longest = max(w.longest, len(p))
	w.total += len(p)
	return len(p), nil
}

// stdout and stderr are written in chunks: the node's log writer took
// time in the square of a line's length (a guest of 256 MiB writing its
// memory without a newline held a call for minutes, unkillable).
func TestStdoutIsWrittenInChunks(t *testing.T) {
	w := &chunkWriter{}
	g := newGuest(t, Config{Stdout: w})
	w.inst = g.inst
	mem := g.mod.Memory()
	if _, ok := mem.Grow(63); !ok { // 4 MiB
		t.Fatal("memory.grow")
	}
	iov := g.alloc(8)
	mem.WriteUint32Le(iov, 0)
	mem.WriteUint32Le(iov+4, mem.Size())
	out := uint64(g.alloc(8))
	g.boundedCall(errnoSuccess, "fd_write", 1, uint64(iov), 1, out)
	if w.total != int(mem.Size()) || g.u32(uint32(out)) != mem.Size() {
		t.Errorf("wrote %d bytes, nwritten %d; want %d", w.total, g.u32(uint32(out)), mem.Size())
	}
	if w.longest > writerChunk {
		t.Errorf("the writer was handed %d bytes at once", w.longest)
	}
	*w = chunkWriter{inst: g.inst, kill: true}
	if _, err := g.call("fd_write", 1, uint64(iov), 1, out); err == nil {
		t.Fatal("fd_write returned to a killed guest")
	}
	if w.total > writerChunk {
		t.Errorf("%d bytes written after the kill", w.total)
	}
}

// fd_readdir keeps one batch of entries per fd, not the listing: the layer
// read the whole directory into each fd that listed it, so a guest with
// many files and many fds held the product of both in the node's memory.
// The listing must still be whole and in order when read in small pieces,
// from any cookie.
func TestReaddirKeepsABatch(t *testing.T) {
	dir := t.TempDir()
	const files = 3000
	want := []string{".", ".."}
	for k := range files {
		name := fmt.Sprintf("file-with-a-long-name-%05d", k)
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want[2:])
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/d", Root: openTestRoot(t, dir)}}})
	buf := g.alloc(200)
	used := uint64(g.alloc(4))

	// The first call reads a batch, not the directory.
	before := heapAllocated()
	if e := g.errno("fd_readdir", 3, uint64(buf), 200, 0, used); e != errnoSuccess {
		t.Fatalf("fd_readdir = %d", e)
	}
	if grew := heapAllocated() - before; grew > 64<<10 {
		t.Errorf("one fd_readdir of 200 bytes allocated %d bytes", grew)
	}

	// Read as libc does: parse whole entries, go on from the cookie of the
	// last whole one, which goes back into the batch.
	list := func(bufLen uint32, start uint64) []string {
		var names []string
		cookie := start
		for {
			if e := g.errno("fd_readdir", 3, uint64(buf), uint64(bufLen), cookie, used); e != errnoSuccess {
				t.Fatalf("fd_readdir = %d", e)
			}
			n := g.u32(uint32(used))
			b, _ := g.mod.Memory().Read(buf, n)
			whole := 0
			for len(b) >= 24 {
				next := binary.LittleEndian.Uint64(b)
				l := binary.LittleEndian.Uint32(b[16:])
				if uint32(len(b)) < 24+l {
					break
				}
				names = append(names, string(b[24:24+l]))
				whole++
				cookie = next
				b = b[24+l:]
			}
			if n < bufLen {
				return names
			}
			if whole == 0 {
				t.Fatalf("no whole entry in a full buffer of %d bytes", bufLen)
			}
		}
	}
	for _, bufLen := range []uint32{60, 200} {
		got := list(bufLen, 0)
		slices.Sort(got[2:])
		if !slices.Equal(got, want) {
			t.Fatalf("listing with a buffer of %d: %d names, want %d", bufLen, len(got), len(want))
		}
	}
	// A cookie before the batch reads again; one far past the end is the
	// end; a large buffer takes the rest at once.
	if got := list(200, 1500); len(got) != len(want)-1500 {
		t.Errorf("from cookie 1500: %d names, want %d", len(got), len(want)-1500)
	}
	if got := list(200, 10); len(got) != len(want)-10 {
		t.Errorf("from cookie 10: %d names, want %d", len(got), len(want)-10)
	}
	if got := list(200, math.MaxUint64); len(got) != 0 {
		t.Errorf("from the last cookie: %d names", len(got))
	}
	big := g.alloc(32 << 10)
	if e := g.errno("fd_readdir", 3, uint64(big), 32<<10, 2900, used); e != errnoSuccess || g.u32(uint32(used)) == 0 {
		t.Errorf("fd_readdir into 32 KiB = %d, %d bytes", e, g.u32(uint32(used)))
	}
}

// TestHostileCountsDoNotKillTheProcess runs the finding's calls in a child
// process whose address space is capped 2 GiB above what it has: an
// allocation sized by the guest's count ends the child with Go's fatal
// "out of memory", which no test in this process could survive.
func TestHostileCountsDoNotKillTheProcess(t *testing.T) {
	if os.Getenv("WASMLET_WASI_HOSTILE_CHILD") == "1" {
		hostileCounts(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileCountsDoNotKillTheProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "WASMLET_WASI_HOSTILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child died (%v):\n%s", err, out[:min(len(out), 1500)])
	}
	if !bytes.Contains(out, []byte("--- PASS: TestHostileCountsDoNotKillTheProcess")) {
		t.Fatalf("the child did not run the calls:\n%s", out)
	}
}

func hostileCounts(t *testing.T) {
	if err := capAddressSpace(2 << 30); err != nil {
		t.Skipf("cannot cap the address space: %v", err)
	}
	g, fd, _ := ioGuest(t)
	out := uint64(g.alloc(8))
	iovs := uint64(g.alloc(8))
	for _, c := range iovecCalls(fd, out) {
		for _, n := range []uint64{0x7fffffff, math.MaxUint32} {
			g.boundedCall(errnoInval, c.name, c.args(iovs, n)...)
		}
	}
	// 1<<28 subscriptions of 48 bytes and events of 32 are 0 bytes in
	// 32-bit arithmetic.
	g.boundedCall(errnoInval, "poll_oneoff", 0, 0, 1<<28, out)
	g.boundedCall(errnoInval, "poll_oneoff", 0, 0, 1<<28+1, out)
}

// capAddressSpace sets RLIMIT_AS to the process's current size plus extra.
func capAddressSpace(extra uint64) error {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return err
	}
	pages, err := strconv.ParseUint(strings.Fields(string(b))[0], 10, 64)
	if err != nil {
		return err
	}
	size := pages * uint64(os.Getpagesize())
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: size + extra, Max: size + extra})
}

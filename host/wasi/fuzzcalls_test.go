package wasi

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// FuzzWASICalls calls every function of the layer, in sequences and with
// arguments that the fuzz input chooses, on a live instance: a read-write
// mount full of links that lead out of it, a read-only mount, a listener
// and a connection to it. After each call: no Go panic reached the guest
// (a trap other than proc_exit or a kill), the call allocated less than
// maxFuzzCallAlloc, and the guest's memory holds no copy of a file
// outside the mounts. After each input: nothing outside the read-write
// mount changed (names, sizes, modes, times, link counts and targets).
//
// Seeds are in testdata/fuzz/FuzzWASICalls; `go test -run FuzzWASICalls`
// runs them, TestWASICallsRandom runs a fixed random sequence for a few
// seconds, and docs/BENCHMARKS.md gives the command of a long run.

var (
	fuzzCallsFile = flag.String("wasi.fuzz.calls", "", "file where each worker of FuzzWASICalls writes how many inputs and calls it ran")
	fuzzSeeds     = flag.Bool("wasi.fuzz.seeds", false, "rewrite the seeds of FuzzWASICalls in testdata")
)

const (
	// maxFuzzCallAlloc bounds what one call may allocate: far above what
	// a call of a guest of one page needs, far below a size taken from an
	// argument.
	maxFuzzCallAlloc = 4 << 20
	// maxFuzzCalls bounds the calls of one input.
	maxFuzzCalls = 256
	// fuzzCallTimeout: a call still running after it (a blocking read, a
	// sleep, an accept) is ended by Kill; one still running 5 s after the
	// Kill is a failure.
	fuzzCallTimeout = 25 * time.Millisecond
	// fuzzQuota is the read-write mount's size limit: without one, calls
	// that write the whole memory 1,024 times fill the disk.
	fuzzQuota = 16 << 20
	// fuzzMaxFds is the instance's open-file limit.
	fuzzMaxFds = 32
)

// The guest's memory (one page), laid out by the harness.
const (
	memStrings = 1024  // the path pool, NUL-separated
	memOut     = 4096  // 64 result slots of 8 bytes
	memFuzzStr = 4608  // strings taken from the input
	memIovecs  = 8192  // up to 1024 iovecs
	memSubs    = 16384 // up to 341 subscriptions
	memEvents  = 32768 // up to 512 events
	memData    = 49152 // buffers
	memSize    = 65536
)

// fuzzPaths are the paths and link targets the input picks from.
var fuzzPaths = []string{
	"a", "f", "d", "d/f", "d/", "d/e", ".", "..", "/", "", "../x", "d/..", "d/../..",
	"up", "up/secret", "abs", "dotdot", "dotdot/outside/secret", "self", "self/self/f",
	"loop", "dsub", "dsub/f", "new", "new/", "x/y", "a/b/c", "../outside/secret",
	"/etc/passwd", "ro", "f/", "f/.", "d/../f", "../../../../../../..", "l", "x",
	"../root/f", "d/e/../../..", "d/e/f/g", "f\x00x", strings.Repeat("n", 256),
	strings.Repeat("d/", 64) + "f",
}

var fuzzU32s = []uint32{
	0, 1, 2, 3, 4, 7, 8, 0x7f, 0xff, 0x100, 1023, 1024, 1025, 4095, 4096, 0xffff,
	memSize - 8, memSize - 4, memSize - 1, memSize, memSize + 1,
	0x7fffffff, 0x80000000, 0xfffffff8, 0xfffffffc, 0xffffffff, 1 << 28, 1<<28 + 1, 0x05555556,
	maxSubscriptions, maxSubscriptions + 1,
}

var fuzzU64s = []uint64{
	0, 1, 2, 4096, memSize, 1 << 31, 1 << 32, 1 << 40, 1 << 62, 1<<63 - 1, 1<<63 - 21, 1 << 63,
	^uint64(0), ^uint64(0) - 1, 1e6, 1e9,
}

// argKind is what a parameter (or a run of them) of a function is.
type argKind uint8

const (
	aFd     argKind = iota
	aDir            // an fd, mostly a directory
	aOpened         // an fd, mostly one a call opened
	aOut            // a pointer the call writes to
	aPath           // pointer, length: a path or link target
	aIovs           // pointer, count: an iovec array
	aBuf            // pointer, length: a buffer
	aFlags          // a small bit set (or any number)
	aRights         // rights
	aU64            // an offset, size, time or cookie
	aU32            // any number
	aSubs           // in, out, count: subscriptions and events
	aClock          // a clock id
)

func (k argKind) params() int {
	switch k {
	case aPath, aIovs, aBuf:
		return 2
	case aSubs:
		return 3
	}
	return 1
}

// fuzzSpecs says what each parameter of each function is. A function the
// layer adds without a spec gets numbers of its parameters' types.
var fuzzSpecs = map[string][]argKind{
	"args_get":                {aOut, aOut},
	"args_sizes_get":          {aOut, aOut},
	"environ_get":             {aOut, aOut},
	"environ_sizes_get":       {aOut, aOut},
	"clock_res_get":           {aClock, aOut},
	"clock_time_get":          {aClock, aU64, aOut},
	"fd_advise":               {aFd, aU64, aU64, aFlags},
	"fd_allocate":             {aFd, aU64, aU64},
	"fd_close":                {aOpened},
	"fd_datasync":             {aFd},
	"fd_fdstat_get":           {aFd, aOut},
	"fd_fdstat_set_flags":     {aFd, aFlags},
	"fd_fdstat_set_rights":    {aFd, aRights, aRights},
	"fd_filestat_get":         {aFd, aOut},
	"fd_filestat_set_size":    {aFd, aU64},
	"fd_filestat_set_times":   {aFd, aU64, aU64, aFlags},
	"fd_pread":                {aFd, aIovs, aU64, aOut},
	"fd_prestat_get":          {aFd, aOut},
	"fd_prestat_dir_name":     {aFd, aBuf},
	"fd_pwrite":               {aFd, aIovs, aU64, aOut},
	"fd_read":                 {aFd, aIovs, aOut},
	"fd_readdir":              {aDir, aBuf, aU64, aOut},
	"fd_renumber":             {aOpened, aOpened},
	"fd_seek":                 {aFd, aU64, aFlags, aOut},
	"fd_sync":                 {aFd},
	"fd_tell":                 {aFd, aOut},
	"fd_write":                {aFd, aIovs, aOut},
	"path_create_directory":   {aDir, aPath},
	"path_filestat_get":       {aDir, aFlags, aPath, aOut},
	"path_filestat_set_times": {aDir, aFlags, aPath, aU64, aU64, aFlags},
	"path_link":               {aDir, aFlags, aPath, aDir, aPath},
	"path_open":               {aDir, aFlags, aPath, aFlags, aRights, aRights, aFlags, aOut},
	"path_readlink":           {aDir, aPath, aBuf, aOut},
	"path_remove_directory":   {aDir, aPath},
	"path_rename":             {aDir, aPath, aDir, aPath},
	"path_symlink":            {aPath, aDir, aPath},
	"path_unlink_file":        {aDir, aPath},
	"poll_oneoff":             {aSubs, aOut},
	"proc_exit":               {aU32},
	"proc_raise":              {aU32},
	"sched_yield":             {},
	"random_get":              {aBuf},
	"sock_accept":             {aFd, aFlags, aOut},
	"sock_recv":               {aFd, aIovs, aFlags, aOut, aOut},
	"sock_send":               {aFd, aIovs, aFlags, aOut},
	"sock_shutdown":           {aFd, aFlags},
}

// rawSel, as the selector of an argument, takes its parameters as they
// are from the input (4 bytes for an i32, 8 for an i64); seeds are
// written that way.
const rawSel = 0xff

// pokeFn, as a call's function byte, writes bytes of the input into the
// guest's memory instead of calling: two bytes of address, one of
// length, the bytes.
const pokeFn = 0xff

// fuzzReader hands out the input, and zeros once it is used up.
type fuzzReader struct {
	b    []byte
	done bool
}

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		r.done = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) u32() uint32 {
	var b [4]byte
	for k := range b {
		b[k] = r.byte()
	}
	return binary.LittleEndian.Uint32(b[:])
}

func (r *fuzzReader) u64() uint64 { return uint64(r.u32()) | uint64(r.u32())<<32 }

// fuzzWorld is the directory tree of one run: the read-write mount at
// root, the read-only one at ro, and outside, which no call may change.
type fuzzWorld struct {
	base, root, ro string
	secret         []byte
	before         map[string]string
	// What ran, for the report: inputs, calls, and the calls that were
	// still waiting when their time was up (ended by a kill).
	calls, inputs, kills atomic.Int64
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	t.Helper()
	base := t.TempDir()
	w := &fuzzWorld{base: base, root: filepath.Join(base, "root"), ro: filepath.Join(base, "ro")}
	// The secret is the process's own, so that no input can hold it: found
	// in the guest's memory, it was read through an escape.
	var s [16]byte
	rand.Read(s[:])
	w.secret = []byte("outside-" + hex.EncodeToString(s[:]))
	outside := filepath.Join(base, "outside")
	for _, d := range []string{outside, filepath.Join(outside, "dir"), w.ro, filepath.Join(w.ro, "d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range map[string][]byte{
		filepath.Join(outside, "secret"):     w.secret,
		filepath.Join(outside, "dir", "f"):   w.secret,
		filepath.Join(w.ro, "f"):             []byte("read-only"),
		filepath.Join(w.ro, "d", "f"):        []byte("read-only too"),
		filepath.Join(base, "beside-root.f"): w.secret,
	} {
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		filepath.Join(w.ro, "up"):   "../outside/secret",
		filepath.Join(w.ro, "abs"):  filepath.Join(outside, "secret"),
		filepath.Join(outside, "l"): "secret",
	} {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	w.reset(t)
	w.before = w.snapshot(t)
	return w
}

// reset gives the read-write mount its first content again.
func (w *fuzzWorld) reset(t testing.TB) {
	t.Helper()
	if err := os.RemoveAll(w.root); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"d", "d/e", "dsub", "a"} {
		if err := os.MkdirAll(filepath.Join(w.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]string{"f": "file inside", "d/f": "deeper", "a/g": ""} {
		if err := os.WriteFile(filepath.Join(w.root, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"up":     "../outside/secret",
		"abs":    filepath.Join(w.base, "outside", "secret"),
		"dotdot": "..",
		"self":   ".",
		"loop":   "loop",
		"l":      "f",
		"dsub/x": "../../outside",
		"beside": "../beside-root.f",
	} {
		if err := os.Symlink(target, filepath.Join(w.root, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes everything under base but the read-write mount.
func (w *fuzzWorld) snapshot(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(w.base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == w.root {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(w.base, p)
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("mode %v nlink %d", fi.Mode(), st.Nlink)
		if p != w.base { // base's times change with the mount's resets
			desc += fmt.Sprintf(" size %d mtime %d ctime %d", fi.Size(), st.Mtim.Nano(), st.Ctim.Nano())
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			desc += " " + hex.EncodeToString(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *fuzzWorld) checkOutside(t testing.TB, trace []string) {
	t.Helper()
	after := w.snapshot(t)
	for p, d := range w.before {
		if after[p] != d {
			t.Fatalf("%s changed: %q, was %q, after:\n%s", p, after[p], d, strings.Join(trace, "\n"))
		}
	}
	for p, d := range after {
		if _, ok := w.before[p]; !ok {
			t.Fatalf("%s appeared (%s), after:\n%s", p, d, strings.Join(trace, "\n"))
		}
	}
}

// fuzzGuest is one instance of a run.
type fuzzGuest struct {
	*guest
	w *fuzzWorld
}

// newGuest starts an instance on w, with the fds of the mounts (3, 4), of
// the listener (5), and of the file "f" (6) and the directory "d" (7) of
// the read-write mount. The first bit of flags leaves its stdin open, the
// second leaves its listener without a connection.
func (w *fuzzWorld) newGuest(t testing.TB, flags byte) *fuzzGuest {
	t.Helper()
	root, err := os.OpenRoot(w.root)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQuota(root, fuzzQuota)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := os.OpenRoot(w.ro)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	g := newGuest(t, Config{
		Args:         []string{"fuzz", "a", ""},
		Env:          []string{"K=V"},
		Mounts:       []Mount{{GuestPath: "/", Root: root, Quota: q}, {GuestPath: "/ro", Root: ro, ReadOnly: true}},
		Listeners:    []Listener{{Name: "http", L: l}},
		MaxOpenFiles: fuzzMaxFds,
	})
	fg := &fuzzGuest{guest: g, w: w}
	if flags&1 == 0 {
		g.inst.Terminate() // stdin at its end: reads of it do not wait
	}
	if flags&2 == 0 {
		// A connection waits to be accepted; it sends a little, and takes
		// whatever the guest sends.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello from the client"))
		go io.Copy(io.Discard, c)
		t.Cleanup(func() { c.Close() })
	}
	// A file at 6 and a directory at 7, when they are there.
	g.open(3, "f", oflagCreat, rightsFile)
	g.open(3, "d", oflagDirectory, rightsDir|rightsFile)
	mem := g.mod.Memory()
	p := uint32(memStrings)
	for _, s := range fuzzPaths {
		mem.WriteString(p, s)
		p += uint32(len(s)) + 1
	}
	// The data area holds something to write.
	data, _ := mem.Read(memData, memSize-memData)
	for k := range data {
		data[k] = byte('A' + k%26)
	}
	return fg
}

// pathRef is the address of fuzzPaths[k] in the guest's memory.
func pathRef(k int) (uint32, uint32) {
	p := uint32(memStrings)
	for _, s := range fuzzPaths[:k] {
		p += uint32(len(s)) + 1
	}
	return p, uint32(len(fuzzPaths[k]))
}

func pick[T any](r *fuzzReader, list []T) T { return list[int(r.byte())%len(list)] }

// args decodes the arguments of f from r, writing what they point to
// into the guest's memory.
func (g *fuzzGuest) args(r *fuzzReader, f hostFunc) []uint64 {
	spec, ok := fuzzSpecs[f.name]
	if !ok || paramCount(spec) != len(f.params) {
		spec = nil
		for _, p := range f.params {
			if p == i64 {
				spec = append(spec, aU64)
			} else {
				spec = append(spec, aU32)
			}
		}
	}
	var out []uint64
	for _, k := range spec {
		first := len(out)
		sel := r.byte()
		if sel == rawSel {
			for p := range k.params() {
				if f.params[first+p] == i64 {
					out = append(out, r.u64())
				} else {
					out = append(out, uint64(r.u32()))
				}
			}
			continue
		}
		out = append(out, g.arg(r, k, sel)...)
	}
	return out
}

func paramCount(spec []argKind) int {
	n := 0
	for _, k := range spec {
		n += k.params()
	}
	return n
}

func (g *fuzzGuest) arg(r *fuzzReader, k argKind, sel byte) []uint64 {
	mem := g.mod.Memory()
	hostile := sel%8 == 7
	switch k {
	case aFd, aDir, aOpened:
		// Mostly the mounts (3, 4), the listener (5) and what the calls
		// open (6 on); for a directory, mostly the read-write mount.
		fds := [16]uint64{3, 3, 4, 5, 6, 6, 6, 6, 7, 7, 8, 9, 0, 1, 2, 3}
		switch k {
		case aDir:
			fds = [16]uint64{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 5, 6, 7}
		case aOpened:
			fds = [16]uint64{8, 8, 8, 9, 9, 10, 6, 7, 8, 9, 10, 8, 9, 6, 7, uint64(r.byte() % 6)}
		}
		if hostile {
			return []uint64{uint64(pick(r, fuzzU32s))}
		}
		return []uint64{fds[sel/8%16]}
	case aOut:
		if hostile {
			return []uint64{uint64(pick(r, fuzzU32s))}
		}
		return []uint64{uint64(memOut + 8*uint32(r.byte()%64))}
	case aPath:
		switch {
		case hostile:
			return []uint64{uint64(pick(r, fuzzU32s)), uint64(pick(r, fuzzU32s))}
		case sel%8 == 6:
			// A string of the input.
			n := uint32(r.byte() % 16)
			p := memFuzzStr + 16*uint32(r.byte()%64)
			for k := range n {
				mem.WriteByte(p+k, r.byte())
			}
			return []uint64{uint64(p), uint64(n)}
		}
		p, l := pathRef(int(r.byte()) % len(fuzzPaths))
		return []uint64{uint64(p), uint64(l)}
	case aIovs:
		n := uint32(sel % 5)
		if hostile {
			n = pick(r, fuzzU32s)
		} else if sel%8 == 6 {
			n = 1024
		}
		ptr := uint32(memIovecs)
		if r.byte()%16 == 0 {
			ptr = pick(r, fuzzU32s)
		}
		// Up to four iovecs of the input; the rest of the array repeats
		// them.
		var vecs [4][2]uint32
		for k := range vecs {
			b := r.byte()
			switch {
			case b%8 == 7:
				vecs[k] = [2]uint32{pick(r, fuzzU32s), pick(r, fuzzU32s)}
			case b%8 == 6:
				vecs[k] = [2]uint32{0, memSize} // the whole memory
			default:
				vecs[k] = [2]uint32{memData + 64*uint32(r.byte()%255), uint32(r.byte())}
			}
		}
		for k := range min(n, 1024) {
			v := vecs[k%4]
			mem.WriteUint32Le(memIovecs+8*k, v[0])
			mem.WriteUint32Le(memIovecs+8*k+4, v[1])
		}
		return []uint64{uint64(ptr), uint64(n)}
	case aBuf:
		if hostile {
			return []uint64{uint64(pick(r, fuzzU32s)), uint64(pick(r, fuzzU32s))}
		}
		if sel%8 == 6 {
			return []uint64{0, memSize}
		}
		return []uint64{uint64(memData + 64*uint32(r.byte()%255)), uint64(r.byte())}
	case aFlags:
		switch {
		case hostile:
			return []uint64{uint64(pick(r, fuzzU32s))}
		case sel%8 < 4:
			return []uint64{0}
		case sel%8 == 6:
			return []uint64{1}
		}
		return []uint64{uint64(r.byte() & 0x1f)}
	case aRights:
		switch sel % 4 {
		case 0:
			return []uint64{^uint64(0)}
		case 1:
			return []uint64{rightsFile | rightsDir}
		case 2:
			return []uint64{r.u64()}
		}
		return []uint64{0}
	case aU64:
		if hostile || sel%8 == 6 {
			return []uint64{pick(r, fuzzU64s)}
		}
		return []uint64{uint64(r.byte())}
	case aClock:
		if hostile {
			return []uint64{uint64(pick(r, fuzzU32s))}
		}
		return []uint64{uint64(sel % 4)}
	case aSubs:
		n := uint32(sel%4) + 1
		if hostile {
			n = pick(r, fuzzU32s)
		}
		in, out := uint32(memSubs), uint32(memEvents)
		if r.byte()%16 == 0 {
			in, out = pick(r, fuzzU32s), pick(r, fuzzU32s)
		}
		for k := range min(n, 4) {
			p := memSubs + k*subscriptionSize
			b, _ := mem.Read(p, subscriptionSize)
			clear(b)
			mem.WriteUint64Le(p, uint64(k))
			tag := r.byte()
			mem.WriteByte(p+8, tag%4)
			switch tag % 4 {
			case eventClock:
				mem.WriteUint32Le(p+16, uint32(r.byte()%5))
				timeouts := []uint64{0, 1000, 1e6, 5e6, ^uint64(0), 1 << 63}
				mem.WriteUint64Le(p+24, pick(r, timeouts))
				mem.WriteUint16Le(p+40, uint16(r.byte()%3))
			default:
				mem.WriteUint32Le(p+16, uint32(r.byte()%11))
			}
		}
		// A count past four repeats the first four.
		for k := uint32(4); k < min(n, (memEvents-memSubs)/subscriptionSize); k++ {
			src, _ := mem.Read(memSubs+(k%4)*subscriptionSize, subscriptionSize)
			mem.Write(memSubs+k*subscriptionSize, src)
		}
		return []uint64{uint64(in), uint64(out), uint64(n)}
	}
	// aU32
	if hostile {
		return []uint64{uint64(pick(r, fuzzU32s))}
	}
	return []uint64{uint64(r.byte())}
}

// inputScope runs the cleanups of one input's instances when the input
// is done, rather than at the end of the test.
type inputScope struct {
	testing.TB
	cleanups []func()
}

func (s *inputScope) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *inputScope) close() {
	for k := len(s.cleanups) - 1; k >= 0; k-- {
		s.cleanups[k]()
	}
}

// runFuzzInput runs one input in w and checks the invariants.
func runFuzzInput(tb testing.TB, w *fuzzWorld, input []byte) {
	t := &inputScope{TB: tb}
	defer t.close()
	w.reset(t)
	r := &fuzzReader{b: input}
	flags := r.byte()
	g := w.newGuest(t, flags)
	funcs := hostFuncs()
	var trace []string
	for calls := 0; calls < maxFuzzCalls; calls++ {
		fb := r.byte()
		if r.done {
			break
		}
		if fb == pokeFn {
			addr := uint32(binary.LittleEndian.Uint16([]byte{r.byte(), r.byte()}))
			n := int(r.byte())
			var b []byte
			for range n {
				b = append(b, r.byte())
			}
			g.mod.Memory().Write(addr, b[:min(len(b), int(memSize-min(addr, memSize)))])
			trace = append(trace, fmt.Sprintf("poke %#x %q", addr, b))
			continue
		}
		f := funcs[int(fb)%len(funcs)]
		args := g.args(r, f)
		trace = append(trace, fmt.Sprintf("%s%#x", f.name, args))
		ended, err := g.fuzzCall(t, f.name, args, trace)
		w.calls.Add(1)
		if err != nil {
			t.Fatalf("%v, after:\n%s", err, strings.Join(trace, "\n"))
		}
		if ended {
			trace = append(trace, "(a new instance)")
			g = w.newGuest(t, flags)
		}
	}
	w.inputs.Add(1)
	w.checkOutside(t, trace)
}

// fuzzCall makes one call and checks what it did; ended reports that the
// instance ended (proc_exit or a kill).
func (g *fuzzGuest) fuzzCall(t testing.TB, name string, args []uint64, trace []string) (ended bool, err error) {
	var killed atomic.Bool
	var once sync.Once
	hang := time.AfterFunc(fuzzCallTimeout, func() {
		once.Do(func() {
			killed.Store(true)
			g.inst.Kill()
		})
	})
	stuck := time.AfterFunc(fuzzCallTimeout+5*time.Second, func() {
		panic(fmt.Sprintf("%s did not return 5 s after the instance was killed, after:\n%s", name, strings.Join(trace, "\n")))
	})
	before := heapAllocated()
	_, cerr := g.mod.ExportedFunction(name).Call(g.ctx, args...)
	grew := heapAllocated() - before
	hang.Stop()
	stuck.Stop()
	once.Do(func() {}) // no kill from here on
	if grew > maxFuzzCallAlloc {
		return false, fmt.Errorf("%s allocated %d bytes", name, grew)
	}
	if mem := g.mod.Memory(); mem != nil {
		if b, ok := mem.Read(0, mem.Size()); ok && bytes.Contains(b, g.w.secret) {
			return false, fmt.Errorf("%s: the guest's memory holds the content of a file outside its mounts", name)
		}
	}
	if killed.Load() {
		g.w.kills.Add(1)
	}
	if cerr != nil {
		var exit *sys.ExitError
		if !errors.As(cerr, &exit) {
			return false, fmt.Errorf("%s trapped: %v", name, cerr)
		}
		return true, nil
	}
	return killed.Load(), nil
}

func FuzzWASICalls(f *testing.F) {
	if *fuzzSeeds {
		writeFuzzSeeds(f)
	}
	w := newFuzzWorld(f)
	report := func() {
		if *fuzzCallsFile == "" {
			return
		}
		line := fmt.Sprintf("pid %d inputs %d calls %d kills %d\n", os.Getpid(), w.inputs.Load(), w.calls.Load(), w.kills.Load())
		os.WriteFile(fmt.Sprintf("%s.%d", *fuzzCallsFile, os.Getpid()), []byte(line), 0o644)
	}
	var last atomic.Int64
	f.Cleanup(func() {
		report()
		f.Logf("%d inputs, %d calls (%d ended by a kill)", w.inputs.Load(), w.calls.Load(), w.kills.Load())
	})
	f.Fuzz(func(t *testing.T, input []byte) {
		runFuzzInput(t, w, input)
		if now := time.Now().Unix(); last.Swap(now) != now {
			report()
		}
	})
}

// TestWASICallsRandom runs the fuzzer's harness on random inputs of a
// fixed seed for a few seconds: what a run of FuzzWASICalls checks, on
// every test run.
func TestWASICallsRandom(t *testing.T) {
	w := newFuzzWorld(t)
	rng := mrand.New(mrand.NewPCG(12, 2026))
	start := time.Now()
	budget := 2500 * time.Millisecond
	if testing.Short() || raceBuild() {
		budget = time.Second
	}
	for n := 0; time.Since(start) < budget; n++ {
		input := make([]byte, 16+rng.IntN(1024))
		for k := range input {
			input[k] = byte(rng.Uint32())
		}
		runFuzzInput(t, w, input)
	}
	t.Logf("%d inputs, %d calls (%d ended by a kill) in %v", w.inputs.Load(), w.calls.Load(), w.kills.Load(), time.Since(start).Round(time.Millisecond))
}

// raceBuild reports whether the test runs under the race detector.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// seedWriter writes an input that the harness decodes into the calls
// given: every argument raw.
type seedWriter struct {
	b     []byte
	funcs []hostFunc
}

func (s *seedWriter) call(name string, args ...uint64) {
	for k, f := range s.funcs {
		if f.name != name {
			continue
		}
		if len(args) != len(f.params) {
			panic(fmt.Sprintf("%s takes %d arguments", name, len(f.params)))
		}
		s.b = append(s.b, byte(k))
		p := 0
		for _, kind := range fuzzSpecs[name] {
			s.b = append(s.b, rawSel)
			for range kind.params() {
				if f.params[p] == i64 {
					s.b = binary.LittleEndian.AppendUint64(s.b, args[p])
				} else {
					s.b = binary.LittleEndian.AppendUint32(s.b, uint32(args[p]))
				}
				p++
			}
		}
		return
	}
	panic(name + " is not a function of the layer")
}

// poke writes data at addr of the guest's memory.
func (s *seedWriter) poke(addr uint16, data []byte) {
	s.b = append(s.b, pokeFn)
	s.b = binary.LittleEndian.AppendUint16(s.b, addr)
	s.b = append(s.b, byte(len(data)))
	s.b = append(s.b, data...)
}

// str pokes str into the k-th slot of the input's strings and returns its
// address and length.
func (s *seedWriter) str(k int, str string) (uint64, uint64) {
	p := memFuzzStr + 16*k
	s.poke(uint16(p), []byte(str))
	return uint64(p), uint64(len(str))
}

// iov pokes an array of iovecs of the data area, of the given lengths.
func (s *seedWriter) iov(lens ...uint32) uint64 {
	var b []byte
	for k, l := range lens {
		b = binary.LittleEndian.AppendUint32(b, memData+uint32(1024*k))
		b = binary.LittleEndian.AppendUint32(b, l)
	}
	s.poke(memIovecs, b)
	return memIovecs
}

// fuzzSeedInputs are the seeds of FuzzWASICalls: the attacks of issue 12
// that reach the layer, and ordinary use of each group of functions.
func fuzzSeedInputs() map[string][]byte {
	funcs := hostFuncs()
	seeds := map[string][]byte{}
	seed := func(name string, flags byte, calls func(s *seedWriter)) {
		s := &seedWriter{b: []byte{flags}, funcs: funcs}
		calls(s)
		seeds[name] = s.b
	}
	const out = memOut
	const (
		stdout   = 1
		root     = 3
		ro       = 4
		listener = 5
		file     = 6 // "f", opened by the harness
		dir      = 7 // "d"
		next     = 8 // the first fd a call opens
	)
	seed("iovec-counts", 0, func(s *seedWriter) {
		iov := s.iov(16, 16)
		for _, n := range []uint64{0x7fffffff, 0xffffffff, 1 << 22, 1025, 1024, 2} {
			s.call("fd_write", stdout, iov, n, out)
			s.call("fd_read", 0, iov, n, out)
			s.call("fd_pread", root, iov, n, 0, out)
			s.call("fd_pwrite", root, iov, n, 0, out)
			s.call("sock_recv", listener, iov, n, 0, out, out+8)
			s.call("sock_send", listener, iov, n, 0, out)
		}
	})
	seed("poll-counts", 0, func(s *seedWriter) {
		for _, n := range []uint64{1 << 28, 1<<28 + 1, 0x05555556, 0xffffffff, maxSubscriptions + 1, maxSubscriptions, 341} {
			s.call("poll_oneoff", memSubs, memEvents, n, out)
			s.call("poll_oneoff", 0, 0, n, out)
		}
	})
	seed("symlink-rename-escape", 0, func(s *seedWriter) {
		// Finding 1: a link that stays inside where it is made leaves
		// the mount once renamed higher up: d/l -> .. is the mount, esc
		// -> .. the directory that holds outside/.
		dir, dl := s.str(0, "d/e/g")
		s.call("path_create_directory", root, dir, dl)
		target, tl := s.str(1, "..")
		link, ll := s.str(2, "d/l")
		s.call("path_symlink", target, tl, root, link, ll)
		esc, el := s.str(3, "esc")
		s.call("path_rename", root, link, ll, root, esc, el)
		for k, p := range []string{"esc/outside/secret", "esc/outside/new", "esc/outside/dir/f", "esc/beside-root.f"} {
			pp, pl := s.str(4+k, p)
			s.call("path_open", root, lookupSymlinkFollow, pp, pl, oflagCreat, rightsFile, rightsFile, 0, out)
			s.call("path_filestat_get", root, lookupSymlinkFollow, pp, pl, memData)
			s.call("path_link", root, lookupSymlinkFollow, pp, pl, root, dir, dl)
			s.call("path_unlink_file", root, pp, pl)
			s.call("path_filestat_set_times", root, lookupSymlinkFollow, pp, pl, 0, 0, fstAtimNow|fstMtimNow)
		}
		up, ul := s.str(8, "up")
		s.call("path_open", root, lookupSymlinkFollow, up, ul, oflagTrunc, rightsFile, rightsFile, 0, out)
		s.call("path_readlink", root, up, ul, memData, 64, out)
		s.call("path_rename", root, up, ul, ro, esc, el)
		s.call("path_symlink", target, tl, ro, esc, el)
	})
	seed("files", 0, func(s *seedWriter) {
		name, nl := s.str(0, "new")
		s.call("path_open", root, 0, name, nl, oflagCreat|oflagTrunc, rightsFile, rightsFile, 0, out)
		iov := s.iov(64, 64, 0, 64)
		s.call("fd_write", next, iov, 4, out)
		s.call("fd_seek", next, 0, whenceSet, out)
		s.call("fd_read", next, iov, 2, out)
		s.call("fd_pread", next, iov, 4, 1<<63-21, out)
		s.call("fd_pwrite", next, iov, 1, 1<<40, out)
		s.call("fd_allocate", next, 0, 1<<62)
		s.call("fd_filestat_set_size", next, 1<<30)
		s.call("fd_filestat_get", next, memData)
		s.call("fd_filestat_set_times", next, 1, ^uint64(0), fstAtim|fstMtim)
		s.call("fd_pread", file, iov, 2, 3, out)
		s.call("fd_readdir", dir, memData, 100, 0, out)
		s.call("fd_readdir", root, memData, 100, 0, out)
		s.call("fd_readdir", root, memData, 4096, 3, out)
		s.call("fd_readdir", root, memData, 100, ^uint64(0), out)
		s.call("fd_renumber", next, ro)
		s.call("fd_fdstat_set_rights", next, 0, 0)
		s.call("fd_fdstat_get", next, out)
		s.call("fd_close", next)
		f, fl := s.str(1, "f")
		g, gl := s.str(2, "d/g")
		s.call("path_rename", root, f, fl, root, g, gl)
		s.call("path_link", root, 0, g, gl, root, f, fl)
		s.call("path_unlink_file", root, g, gl)
		d, dl := s.str(3, "d/e")
		s.call("path_remove_directory", root, d, dl)
		s.call("fd_prestat_get", ro, out)
		s.call("fd_prestat_dir_name", ro, memData, 3)
	})
	seed("sockets", 0, func(s *seedWriter) {
		s.call("sock_accept", listener, fdflagNonblock, out)
		iov := s.iov(8, 8)
		s.call("sock_recv", next, iov, 2, riflagRecvPeek, out, out+8)
		s.call("sock_recv", next, iov, 2, 0, out, out+8)
		s.call("sock_send", next, iov, 2, 0, out)
		sub := binary.LittleEndian.AppendUint64(nil, 1)
		sub = append(sub, eventFdRead, 0, 0, 0, 0, 0, 0, 0)
		sub = binary.LittleEndian.AppendUint32(sub, next)
		s.poke(memSubs, sub)
		s.call("poll_oneoff", memSubs, memEvents, 1, out)
		s.call("sock_shutdown", next, sdflagRd|sdflagWr)
		s.call("fd_fdstat_set_flags", listener, 0)
		s.call("sock_accept", listener, 0, out) // blocks: the instance is killed
		s.call("sock_accept", listener, 0, out) // on a new one
	})
	seed("proc", 1, func(s *seedWriter) {
		s.call("args_sizes_get", out, out+8)
		s.call("args_get", memData, memSize-4)
		s.call("args_get", memSize-4, memData)
		s.call("environ_get", memData, 0xffffffff)
		s.call("random_get", 0, memSize)
		s.call("random_get", 0xffffffff, 2)
		s.call("clock_time_get", clockMonotonic, 0, memSize-4)
		s.call("fd_read", 0, s.iov(16), 1, out) // stdin open: killed
		s.call("proc_exit", 3)
		s.call("proc_raise", 9)
		s.call("sched_yield")
	})
	return seeds
}

// writeFuzzSeeds writes the seeds into testdata (-wasi.fuzz.seeds).
func writeFuzzSeeds(tb testing.TB) {
	dir := filepath.Join("testdata", "fuzz", "FuzzWASICalls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, b := range fuzzSeedInputs() {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

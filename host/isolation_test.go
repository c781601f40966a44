package host

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/hostile"
)

// Hostile guests of issue 12, run by a node on the real WASI layer. Each is
// a few host calls long, written with internal/hostile's Module.

// guestModule is a WASI command being written: its _start is a sequence
// of host calls on constant arguments, with strings in a data segment.
// The binary is hostile.Module's.
type guestModule struct {
	m     hostile.Module
	funcs map[string]uint32
	data  []byte // from address dataBase
	code  []byte
}

const dataBase = 0x400

// wasiParams are the parameters of the functions the guests call (each
// returns an errno, but proc_exit): i32 (i) or i64 (I), for the constants
// call passes.
var wasiParams = map[string]string{
	"fd_write":              "iiii",
	"fd_read":               "iiii",
	"path_open":             "iiiiiIIii",
	"path_create_directory": "iii",
	"path_remove_directory": "iii",
	"path_symlink":          "iiiii",
	"path_rename":           "iiiiii",
	"proc_exit":             "i",
}

func newGuestModule() *guestModule {
	m := &guestModule{funcs: map[string]uint32{}}
	for _, name := range []string{"fd_write", "fd_read", "path_open", "path_create_directory",
		"path_remove_directory", "path_symlink", "path_rename", "proc_exit"} {
		m.funcs[name] = m.m.WASI(name)
	}
	return m
}

// str puts s in the data segment and returns its address and length.
func (m *guestModule) str(s string) (int64, int64) {
	addr := dataBase + len(m.data)
	m.data = append(m.data, s...)
	for len(m.data)%8 != 0 {
		m.data = append(m.data, 0)
	}
	return int64(addr), int64(len(s))
}

// buf reserves n bytes (zeros) and returns their address.
func (m *guestModule) buf(n int) int64 {
	addr, _ := m.str(string(make([]byte, n)))
	return addr
}

// iov puts an iovec of (addr, n) in the data segment.
func (m *guestModule) iov(addr, n int64) int64 {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(addr))
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	a, _ := m.str(string(b[:]))
	return a
}

// call emits a call of fn with args, leaving its errno on the stack.
func (m *guestModule) call(fn string, args ...int64) *guestModule {
	params := wasiParams[fn]
	if len(args) != len(params) {
		panic(fn + ": wrong number of arguments")
	}
	for k, a := range args {
		if params[k] == 'I' {
			m.code = append(m.code, hostile.I64Const(a)...)
		} else {
			m.code = append(m.code, hostile.I32Const(int32(a))...)
		}
	}
	m.code = append(m.code, hostile.Call(m.funcs[fn])...)
	return m
}

// op emits instructions as they are.
func (m *guestModule) op(b ...byte) *guestModule {
	m.code = append(m.code, b...)
	return m
}

// ops emits instructions of hostile's.
func (m *guestModule) ops(parts ...[]byte) *guestModule {
	return m.op(hostile.Ops(parts...)...)
}

func (m *guestModule) drop() *guestModule { return m.op(0x1a) }

// exit emits proc_exit(code).
func (m *guestModule) exit(code int64) *guestModule { return m.call("proc_exit", code) }

// bytes is the module: the imports, three pages of memory holding the
// data, and _start (with one i32 local) made of the code.
func (m *guestModule) bytes() []byte {
	m.m.Memory(3)
	m.m.Data(dataBase, m.data)
	m.m.ExportFunc("_start", m.m.Func(nil, nil, []hostile.ValType{hostile.I32}, m.code))
	return m.m.Bytes()
}

// WASI constants the guests use.
const (
	gmOflagCreat = 1
	gmOflagExcl  = 4
	gmRightsAll  = 0x1fffffff
	gmRightsDir  = 1<<13 | 1<<14 // path_open, fd_readdir
	gmIf         = 0x04
	gmVoid       = 0x40
	gmEnd        = 0x0b
	gmEqz        = 0x45
)

// writeGuest writes the module into the node's image directory.
func (n *testNode) writeGuest(name string, m *guestModule) string {
	n.t.Helper()
	if err := os.WriteFile(filepath.Join(n.images, name), m.bytes(), 0o644); err != nil {
		n.t.Fatal(err)
	}
	return name
}

// escapeGuest is the escape of issue 12, finding 1. Its first run (it
// makes the file "ran") removes the directory the node made for the
// subPath "esc", makes a link to the volume's top twelve directories
// down (accepted: it points inside), renames the link to "esc", where it
// points twelve levels up, and exits 1. Its second run, with /host the
// subPath esc of the same volume, opens secret (a path from the host's
// root) there: it exits 42 if it could, 7 if not.
func escapeGuest(secret string) *guestModule {
	m := newGuestModule()
	out := m.buf(8)
	ran, ranLen := m.str("ran")
	esc, escLen := m.str("esc")
	target, targetLen := m.str(strings.Repeat("../", 12))
	sec, secLen := m.str(strings.TrimPrefix(secret, "/"))
	var dirs []string
	deep := ""
	for k := 0; k < 12; k++ {
		deep = filepath.Join(deep, "d")
		dirs = append(dirs, deep)
	}
	link, linkLen := m.str(deep + "/l")

	m.call("path_open", 3, 0, ran, ranLen, gmOflagCreat|gmOflagExcl, gmRightsAll, gmRightsAll, 0, out).op(gmEqz, gmIf, gmVoid)
	m.call("path_remove_directory", 3, esc, escLen).drop()
	for _, d := range dirs {
		a, l := m.str(d)
		m.call("path_create_directory", 3, a, l).drop()
	}
	m.call("path_symlink", target, targetLen, 3, link, linkLen).drop()
	m.call("path_rename", 3, link, linkLen, 3, esc, escLen).drop()
	m.exit(1)
	m.op(gmEnd)
	m.call("path_open", 4, 1, sec, secLen, 0, gmRightsAll, gmRightsAll, 0, out).op(gmEqz, gmIf, gmVoid)
	m.exit(42)
	m.op(gmEnd)
	m.exit(7)
	return m
}

// TestEscapeThroughASubPath is finding 1 of issue 12 as it was found: a
// pod with an emptyDir mounted twice, once with subPath esc,
// restartPolicy OnFailure. The node must never start the second run with
// /host leading out of the volume: it refuses the subPath, and the
// container waits with CreateContainerConfigError.
func TestEscapeThroughASubPath(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("the node's"), 0o600); err != nil {
		t.Fatal(err)
	}
	image := n.writeGuest("escape.wasm", escapeGuest(secret))
	n.createPod("esc", api.PodSpec{
		RestartPolicy: api.RestartPolicyOnFailure,
		Volumes:       []api.Volume{{Name: "v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}},
		Containers: []api.Container{{
			Name: "esc", Image: image,
			VolumeMounts: []api.VolumeMount{{Name: "v", MountPath: "/v"}, {Name: "v", MountPath: "/host", SubPath: "esc"}},
		}},
	})
	p := n.waitPod("esc", "the first run's exit", func(p *api.Pod) bool {
		cs := containerStatus(p, "esc")
		return cs != nil && (cs.LastTerminationState.Terminated != nil || cs.State.Terminated != nil)
	})
	n.clk.Advance(RestartBackoff.Initial)
	p = n.waitPod("esc", "the second run refused or ended", func(p *api.Pod) bool {
		cs := containerStatus(p, "esc")
		if cs == nil {
			return false
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 1 {
			return true
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 1 {
			return true
		}
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerConfigError"
	})
	cs := containerStatus(p, "esc")
	if w := cs.State.Waiting; w == nil || w.Reason != "CreateContainerConfigError" || !strings.Contains(w.Message, `subPath "esc"`) {
		t.Fatalf("the second run was not refused: %s", describe(p))
	}
	// The refused run was never created: it counts no restart, as the
	// kubelet counts restarts when it creates the container.
	if cs.RestartCount != 0 {
		t.Errorf("restarts %d: %s", cs.RestartCount, describe(p))
	}
}

// fillGuest opens "big" in the volume at fd 3 and writes 64 KiB at a time
// until a write fails, then exits with that errno.
func fillGuest() *guestModule {
	m := newGuestModule()
	out := m.buf(8)
	nw := m.buf(8)
	big, bigLen := m.str("big")
	iov := m.iov(0x10000, 0x10000) // the second page, zeros
	m.call("path_open", 3, 0, big, bigLen, gmOflagCreat, gmRightsAll, gmRightsAll, 0, out).drop()
	// block; loop; fd_write(load(out), iov, 1, nw); local.tee 0; br_if 1; br 0; end; end
	m.ops(hostile.Block, hostile.Loop,
		hostile.I32Const(int32(out)), hostile.I32Load(0), // the fd
		hostile.I32Const(int32(iov)), hostile.I32Const(1), hostile.I32Const(int32(nw)),
		hostile.Call(m.funcs["fd_write"]),
		hostile.LocalTee(0), hostile.BrIf(1), hostile.Br(0), hostile.End, hostile.End,
		hostile.LocalGet(0), hostile.Call(m.funcs["proc_exit"]))
	return m
}

// TestEmptyDirSizeLimitThroughTheNode is finding 5's emptyDir: a guest
// writing without end into an emptyDir with sizeLimit 1Mi gets ENOSPC
// (exit code 51, its errno), and the volume takes no more than the limit
// and a page of the node's disk.
func TestEmptyDirSizeLimitThroughTheNode(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	image := n.writeGuest("fill.wasm", fillGuest())
	limit := api.MustParseQuantity("1Mi")
	p := n.createPod("fill", api.PodSpec{
		RestartPolicy: api.RestartPolicyNever,
		Volumes:       []api.Volume{{Name: "v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{SizeLimit: &limit}}}},
		Containers: []api.Container{{
			Name: "fill", Image: image,
			VolumeMounts: []api.VolumeMount{{Name: "v", MountPath: "/v"}},
		}},
	})
	p = n.waitPod("fill", "Failed", phaseIs(api.PodFailed))
	if cs := containerStatus(p, "fill"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 51 {
		t.Errorf("the guest did not end with ENOSPC: %s", describe(p))
	}
	var st syscall.Stat_t
	big := filepath.Join(n.dataDir, "pods", p.UID, "volumes", "v", "big")
	if err := syscall.Stat(big, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 1<<20+4096 || st.Size > 1<<20 {
		t.Errorf("the volume's file takes %d bytes of disk (size %d)", used, st.Size)
	}
	t.Logf("the volume's file: %d bytes, %d of disk", st.Size, st.Blocks*512)
}

// openGuest opens the volume's directory until it is refused, writes
// "refused" to stdout and waits for SIGTERM (the end of stdin).
func openGuest() *guestModule {
	m := newGuestModule()
	out := m.buf(8)
	dot, dotLen := m.str(".")
	msg, msgLen := m.str("refused\n")
	iov := m.iov(msg, msgLen)
	nw := m.buf(8)
	rbuf := m.buf(8)
	riov := m.iov(rbuf, 8)
	m.op(0x02, gmVoid, 0x03, gmVoid)
	m.call("path_open", 3, 0, dot, dotLen, 0, gmRightsDir, gmRightsDir, 0, out)
	m.op(0x0d, 0x01, 0x0c, 0x00, gmEnd, gmEnd) // br_if 1 (refused); br 0
	m.call("fd_write", 1, iov, 1, nw).drop()
	m.call("fd_read", 0, riov, 1, nw).drop()
	m.exit(0)
	return m
}

// TestOpenFilesLimitThroughTheNode is finding 3: a guest opening without
// end is refused at the node's limit, and the node holds no more
// descriptors than that.
func TestOpenFilesLimitThroughTheNode(t *testing.T) {
	const limit = 64
	n := newTestNodeWith(t, realRuntime(t), func(o *Options) { o.Limits.OpenFiles = limit })
	image := n.writeGuest("open.wasm", openGuest())
	before := countFds(t)
	n.createPod("open", api.PodSpec{
		Volumes: []api.Volume{{Name: "v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}},
		Containers: []api.Container{{
			Name: "open", Image: image,
			VolumeMounts: []api.VolumeMount{{Name: "v", MountPath: "/v"}},
		}},
	})
	n.waitPod("open", "running", isRunning("open"))
	n.followLogs("open", "refused", 1, LogOptions{})
	d := countFds(t) - before
	if d > 2*limit || d < limit-8 {
		t.Errorf("the node holds %d more descriptors for a guest limited to %d", d, limit)
	}
	t.Logf("the node holds %d more descriptors for a guest limited to %d", d, limit)
}

func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestHostPathLinkOutOfTheAllowedDirIsRefused: a hostPath under an allowed
// directory that is a link leading out of it is refused when it is used,
// whatever it was when the pod was created.
func TestHostPathLinkOutOfTheAllowedDirIsRefused(t *testing.T) {
	allowed, outside := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(allowed, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(allowed, "in")); err != nil {
		t.Fatal(err)
	}
	h := &Host{opts: Options{AllowedHostPaths: []string{allowed}}}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{filepath.Join(allowed, "real"), true},
		{filepath.Join(allowed, "in"), true},
		{allowed, true},
		{filepath.Join(allowed, "out"), false},
		{filepath.Join(allowed, "out", "x"), false},
		{filepath.Join(allowed, "real", "..", "..", filepath.Base(outside)), false},
		{outside, false},
		{"relative", false},
	} {
		r, err := h.hostPathRoot(c.path, false)
		if (err == nil) != c.ok {
			t.Errorf("hostPath %s: %v, want ok=%v", c.path, err, c.ok)
		}
		if r != nil {
			r.Close()
		}
	}
	if r, err := (&Host{}).hostPathRoot(allowed, false); err == nil {
		r.Close()
		t.Errorf("a node without allowed directories opened a hostPath")
	}
	// DirectoryOrCreate makes what is missing, inside only.
	if r, err := h.hostPathRoot(filepath.Join(allowed, "out", "new"), true); err == nil {
		r.Close()
		t.Errorf("DirectoryOrCreate through a link out of the allowed directory")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Errorf("a directory was made outside the allowed directory")
	}
}

// TestPodFilesArePrivate is the mode item of finding 9: with a data dir
// of mode 0755 beforehand, the pods' directories, volumes and logs are
// not readable by others.
func TestPodFilesArePrivate(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dataDir, "pods"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dataDir, 0o755)
	os.Chmod(filepath.Join(dataDir, "pods"), 0o755)
	n := newTestNode(t, &fakeRuntime{}, nil, nil, dataDir)
	spec := podSpec(api.RestartPolicyAlways, "graceful.wasm")
	spec.Volumes = []api.Volume{{Name: "v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "v", MountPath: "/v"}}
	p := n.createPod("g", spec)
	n.waitPod("g", "running", isRunning("graceful"))
	n.followLogs("g", "started graceful", 1, LogOptions{})
	podDir := filepath.Join(dataDir, "pods", p.UID)
	// A volume directory left with a wide mode (by an older node) is made
	// private when it is mounted.
	old := filepath.Join(dataDir, "pods", "old-uid", "volumes", "v")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o755)
	r, err := n.h.emptyDirRoot("old-uid", "v")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(dataDir, "pods"), 0o700},
		{filepath.Join(podDir, "volumes", "v"), 0o700},
		{old, 0o700},
		{filepath.Join(podDir, "logs"), 0o700},
		{filepath.Join(podDir, "logs", "graceful"), 0o700},
		{filepath.Join(podDir, "logs", "graceful", "0.log"), 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %#o, want %#o", c.path, fi.Mode().Perm(), c.mode)
		}
	}
}

// TestNamesThatAreNotOneComponentAreRefused: the node builds a pod's paths
// from its UID and its volumes' and containers' names, each one directory
// entry; it does not rely on the API for it.
func TestNamesThatAreNotOneComponentAreRefused(t *testing.T) {
	h := &Host{podsDir: t.TempDir()}
	for _, c := range [][2]string{{"..", "v"}, {"uid", "../logs"}, {"uid", ".."}, {"", "v"}, {"a/b", "v"}, {"uid", ""}} {
		if r, err := h.emptyDirRoot(c[0], c[1]); err == nil {
			r.Close()
			t.Errorf("emptyDir of pod %q, volume %q: opened", c[0], c[1])
		}
	}
	for _, c := range [][2]string{{"..", "c"}, {"uid", "../volumes"}, {"uid", "a/b"}} {
		if name := instanceLogName(c[0], c[1], 0); name != "" {
			t.Errorf("log of pod %q, container %q: %q", c[0], c[1], name)
		}
	}
	if _, err := openContainerLog(h.podsDir, "", 0, nil); err == nil {
		t.Errorf("a log without a name was opened")
	}
}

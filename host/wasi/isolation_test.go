package wasi

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The containment of a guest: what it makes in its volume cannot lead
// outside the volume, and what it can make the node hold (fds, disk) is
// bounded.

// mustRoot opens dir for a mount; the instance it is given to closes it.
func mustRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pathCall calls fn(fd, path) (the calls whose arguments are those two).
func (g *guest) pathCall(fn string, fd uint32, path string) errno {
	g.t.Helper()
	mark := g.next
	defer func() { g.next = mark }()
	p, l := g.str(path)
	return g.errno(fn, uint64(fd), p, l)
}

func (g *guest) symlink(target string, fd uint32, path string) errno {
	g.t.Helper()
	mark := g.next
	defer func() { g.next = mark }()
	tp, tl := g.str(target)
	p, l := g.str(path)
	return g.errno("path_symlink", tp, tl, uint64(fd), p, l)
}

func (g *guest) rename(ofd uint32, old string, nfd uint32, new string) errno {
	g.t.Helper()
	mark := g.next
	defer func() { g.next = mark }()
	op, ol := g.str(old)
	np, nl := g.str(new)
	return g.errno("path_rename", uint64(ofd), op, ol, uint64(nfd), np, nl)
}

func (g *guest) link(ofd uint32, old string, nfd uint32, new string) errno {
	g.t.Helper()
	mark := g.next
	defer func() { g.next = mark }()
	op, ol := g.str(old)
	np, nl := g.str(new)
	return g.errno("path_link", uint64(ofd), 0, op, ol, uint64(nfd), np, nl)
}

// openFd opens path below dirfd and gives the memory back.
func (g *guest) openFd(dirfd uint32, path string, oflags uint16, base uint64) (uint32, errno) {
	g.t.Helper()
	mark := g.next
	defer func() { g.next = mark }()
	return g.open(dirfd, path, oflags, base)
}

// escapingLinks makes, in the guest's mount fd, the two links of the
// escape of issue 12: each accepted when made (it points inside), each
// pointing out of the mount once a rename moved it (the link itself) or
// its directory. It returns the paths of the two links.
func escapingLinks(t *testing.T, g *guest, fd uint32) (moved, inMovedDir string) {
	t.Helper()
	deep := ""
	for k := 1; k <= 12; k++ {
		deep = filepath.Join(deep, "d")
		if e := g.pathCall("path_create_directory", fd, deep); e != errnoSuccess {
			t.Fatalf("mkdir %s = %d", deep, e)
		}
	}
	if e := g.symlink(strings.Repeat("../", 12), fd, deep+"/l"); e != errnoSuccess {
		t.Fatalf("a link to the mount's top from 12 directories down = %d, want it made", e)
	}
	if e := g.rename(fd, deep+"/l", fd, "esc"); e != errnoSuccess {
		t.Fatalf("rename of the link = %d", e)
	}
	deep = ""
	for k := 1; k <= 12; k++ {
		deep = filepath.Join(deep, "e")
		if e := g.pathCall("path_create_directory", fd, deep); e != errnoSuccess {
			t.Fatalf("mkdir %s = %d", deep, e)
		}
	}
	if e := g.symlink(strings.Repeat("../", 12), fd, deep+"/l"); e != errnoSuccess {
		t.Fatalf("a link to the mount's top from 12 directories down = %d", e)
	}
	if e := g.rename(fd, deep, fd, "z"); e != errnoSuccess {
		t.Fatalf("rename of the directory = %d", e)
	}
	return "esc", "z/l"
}

// TestLinksRenamedOutOfTheVolumeLeadNowhere: the links of the escape,
// once renamed to point out of the volume, are followed neither by the
// guest nor by the node resolving a subPath through them (the host's
// mounts resolve a subPath with os.Root and Quota.MkdirAll, as here).
func TestLinksRenamedOutOfTheVolumeLeadNowhere(t *testing.T) {
	base := t.TempDir()
	vol := filepath.Join(base, "pods", "uid", "volumes", "v")
	if err := os.MkdirAll(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("node's"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := NewQuota(mustRoot(t, vol), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/v", Root: mustRoot(t, vol), Quota: q}}})
	const fd = 3
	moved, inMovedDir := escapingLinks(t, g, fd)

	// On the host both lead to its root: followed by the kernel from a
	// path, they reach the secret.
	fromRoot := strings.TrimPrefix(secret, "/")
	for _, l := range []string{moved, inMovedDir} {
		if _, err := os.Stat(filepath.Join(vol, l, fromRoot)); err != nil {
			t.Fatalf("the link %s does not lead out: %v", l, err)
		}
	}
	for _, name := range []string{moved + "/" + fromRoot, inMovedDir + "/" + fromRoot} {
		if _, e := g.openFd(fd, name, 0, rightFdRead); e != errnoNotcapable && e != errnoNoent {
			t.Errorf("the guest opened %s: errno %d", name, e)
		}
	}
	for _, sub := range []string{moved, inMovedDir} {
		root := mustRoot(t, vol)
		if err := q.MkdirAll(root, sub, 0o755); err == nil {
			if r, err := root.OpenRoot(sub); err == nil {
				if _, err := r.Stat(fromRoot); err == nil {
					t.Errorf("subPath %s leads to the host's root", sub)
				}
				r.Close()
			}
		}
		if r, err := root.OpenRoot(sub); err == nil {
			t.Errorf("subPath %s opened as %s", sub, r.Name())
			r.Close()
		}
		root.Close()
	}
}

// TestMountStaysOnItsDirectory: a mount is the directory the node opened,
// not a path; renaming it away and putting a link in its place changes
// nothing for the mount.
func TestMountStaysOnItsDirectory(t *testing.T) {
	vol := t.TempDir()
	if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "sub", "in"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{
		{GuestPath: "/v", Root: mustRoot(t, vol)},
		{GuestPath: "/s", Root: mustRoot(t, filepath.Join(vol, "sub"))},
	}})
	const v, s = 3, 4
	if e := g.rename(v, "sub", v, "gone"); e != errnoSuccess {
		t.Fatalf("rename = %d", e)
	}
	for _, d := range []string{"a", "a/b"} {
		g.pathCall("path_create_directory", v, d)
	}
	if e := g.symlink("../..", v, "a/b/l"); e != errnoSuccess {
		t.Fatalf("symlink = %d", e)
	}
	if e := g.rename(v, "a/b", v, "sub"); e != errnoSuccess {
		t.Fatalf("rename = %d", e)
	}
	if _, e := g.openFd(s, "in", 0, rightFdRead); e != errnoSuccess {
		t.Errorf("the mount's own file: errno %d", e)
	}
	if _, e := g.openFd(s, "../l", 0, rightFdRead); e != errnoNotcapable {
		t.Errorf("out of the mount: errno %d, want ENOTCAPABLE", e)
	}
}

// TestRenameAndLinkBetweenMountsAreEXDEV: as between two bind mounts on
// Linux; so nothing a quota counts moves to another volume.
func TestRenameAndLinkBetweenMountsAreEXDEV(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "f"), []byte("x"), 0o644)
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/a", Root: mustRoot(t, a)}, {GuestPath: "/b", Root: mustRoot(t, b)}}})
	if e := g.rename(3, "f", 4, "f"); e != errnoXdev {
		t.Errorf("rename between mounts = %d, want EXDEV", e)
	}
	if e := g.link(3, "f", 4, "f"); e != errnoXdev {
		t.Errorf("link between mounts = %d, want EXDEV", e)
	}
	if e := g.rename(3, "f", 3, "g"); e != errnoSuccess {
		t.Errorf("rename in a mount = %d", e)
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestOpenFilesLimit: the fds of an instance, pre-opened ones included,
// stop at Config.MaxOpenFiles with EMFILE, and so do the node's.
func TestOpenFilesLimit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	const limit = 16
	before := openFds(t)
	g := newGuest(t, Config{MaxOpenFiles: limit, Mounts: []Mount{{GuestPath: "/d", Root: mustRoot(t, dir)}}})
	var fds []uint32
	for k := 0; k < 10*limit; k++ {
		name, base := "f", uint64(rightFdRead)
		if k%2 == 1 {
			name, base = "d", rightFdReaddir
		}
		fd, e := g.openFd(3, name, 0, base)
		if e == errnoMfile {
			break
		}
		if e != errnoSuccess {
			t.Fatalf("open %d = %d", k, e)
		}
		fds = append(fds, fd)
	}
	if len(fds) != limit-4 { // stdin, stdout, stderr, the mount
		t.Fatalf("opened %d files, want %d", len(fds), limit-4)
	}
	if _, e := g.openFd(3, "new", oflagCreat, rightsRW); e != errnoMfile {
		t.Errorf("creating at the limit = %d, want EMFILE", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("a file was created for an fd the guest could not have")
	}
	if n := openFds(t) - before; n > 2*limit {
		t.Errorf("the node holds %d more fds, for a limit of %d", n, limit)
	}
	if e := g.errno("fd_close", uint64(fds[0])); e != errnoSuccess {
		t.Fatal(e)
	}
	if _, e := g.openFd(3, "f", 0, rightFdRead); e != errnoSuccess {
		t.Errorf("open after a close = %d", e)
	}
	if e := g.errno("fd_renumber", uint64(fds[1]), uint64(fds[2])); e != errnoSuccess {
		t.Fatal(e)
	}
	if _, e := g.openFd(3, "f", 0, rightFdRead); e != errnoSuccess {
		t.Errorf("open after a renumber = %d", e)
	}
}

// TestSockAcceptAtTheLimit: a connection the guest has no fd for stays in
// the listener's queue, and is accepted once an fd is free.
func TestSockAcceptAtTheLimit(t *testing.T) {
	l := listen(t)
	g := newGuest(t, Config{MaxOpenFiles: 5, Listeners: []Listener{{L: l}}})
	const lfd = 3
	var clients []net.Conn
	for k := 0; k < 2; k++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	out := g.alloc(4)
	if e := g.errno("sock_accept", lfd, 0, uint64(out)); e != errnoSuccess {
		t.Fatalf("sock_accept = %d", e)
	}
	first := g.u32(out)
	if e := g.errno("sock_accept", lfd, 0, uint64(out)); e != errnoMfile {
		t.Fatalf("sock_accept at the limit = %d, want EMFILE", e)
	}
	// Neither client was dropped.
	for k, c := range clients {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !os.IsTimeout(err) {
			t.Fatalf("client %d: %v, want its connection open", k, err)
		}
	}
	if e := g.errno("fd_close", uint64(first)); e != errnoSuccess {
		t.Fatal(e)
	}
	if e := g.errno("sock_accept", lfd, 0, uint64(out)); e != errnoSuccess {
		t.Fatalf("sock_accept after a close = %d", e)
	}
	clients[1].Write([]byte("hi"))
	n, flags := g.alloc(4), g.alloc(4)
	iov, buf := g.iov("", 2)
	if e := g.errno("sock_recv", uint64(g.u32(out)), iov, 1, 0, uint64(n), uint64(flags)); e != errnoSuccess {
		t.Fatalf("sock_recv = %d", e)
	}
	if b, _ := g.mod.Memory().Read(buf, g.u32(n)); string(b) != "hi" {
		t.Errorf("the second connection read %q", b)
	}
}

// diskUsage is what dir takes on the node's disk, in bytes of blocks.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

// quotaGuest is a guest with one mount (fd 3) of a volume limited to
// limit, and a 16 KiB buffer to write from.
func quotaGuest(t *testing.T, dir string, limit int64) (*guest, *Quota, uint64) {
	t.Helper()
	q, err := NewQuota(mustRoot(t, dir), limit)
	if err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/v", Root: mustRoot(t, dir), Quota: q}}})
	iov, _ := g.iov(strings.Repeat("x", 16<<10), 16<<10)
	return g, q, iov
}

// fill writes the buffer to fd until an error, and returns the bytes
// written and the error.
func (g *guest) fill(fd uint32, iov uint64, max int) (int, errno) {
	g.t.Helper()
	n := g.alloc(4)
	total := 0
	for total < max {
		e := g.errno("fd_write", uint64(fd), iov, 1, uint64(n))
		if e != errnoSuccess {
			return total, e
		}
		total += int(g.u32(n))
	}
	return total, errnoSuccess
}

// TestEmptyDirSizeLimit: with a limit of 1 MiB, writes stop at 1 MiB with
// ENOSPC, in every way a file grows, and the volume takes no more of the
// disk than that and a few blocks.
func TestEmptyDirSizeLimit(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	g, q, iov := quotaGuest(t, dir, limit)
	fd, e := g.openFd(3, "big", oflagCreat, rightsRW|rightFdAllocate|rightFdFilestatSetSize)
	if e != errnoSuccess {
		t.Fatal(e)
	}
	written, e := g.fill(fd, iov, 100<<20)
	if e != errnoNospc {
		t.Fatalf("writing 100 MiB: %d bytes then errno %d, want ENOSPC", written, e)
	}
	if written > limit || written < limit-2*quotaBlock {
		t.Errorf("wrote %d bytes under a limit of %d", written, limit)
	}
	if u := diskUsage(t, dir); u > limit+2*quotaBlock {
		t.Errorf("the volume takes %d bytes of disk", u)
	}
	if u := q.Used(); u > limit {
		t.Errorf("quota used %d", u)
	}
	nw := g.alloc(4)
	for _, c := range []struct {
		name string
		fn   string
		args []uint64
	}{
		{"pwrite far out", "fd_pwrite", []uint64{uint64(fd), iov, 1, 10 << 20, uint64(nw)}},
		{"allocate", "fd_allocate", []uint64{uint64(fd), 0, 2 << 20}},
		{"set size", "fd_filestat_set_size", []uint64{uint64(fd), 2 << 20}},
	} {
		if e := g.errno(c.fn, c.args...); e != errnoNospc {
			t.Errorf("%s = %d, want ENOSPC", c.name, e)
		}
	}
	if _, e := g.openFd(3, "other", oflagCreat, rightsRW); e != errnoNospc {
		t.Errorf("create = %d, want ENOSPC", e)
	}
	if e := g.pathCall("path_create_directory", 3, "dir"); e != errnoNospc {
		t.Errorf("mkdir = %d, want ENOSPC", e)
	}
	if e := g.symlink("big", 3, "l"); e != errnoNospc {
		t.Errorf("symlink = %d, want ENOSPC", e)
	}
	if u := diskUsage(t, dir); u > limit+2*quotaBlock {
		t.Errorf("the volume takes %d bytes of disk", u)
	}
	// Truncating gives the room back.
	if e := g.errno("fd_filestat_set_size", uint64(fd), 0); e != errnoSuccess {
		t.Fatal(e)
	}
	if e := g.errno("fd_allocate", uint64(fd), 0, 512<<10); e != errnoSuccess {
		t.Errorf("allocate after truncating = %d", e)
	}
	if e := g.errno("fd_pwrite", uint64(fd), iov, 1, 900<<10, uint64(nw)); e != errnoSuccess {
		t.Errorf("pwrite after truncating = %d", e)
	}
	if _, e := g.openFd(3, "big", oflagTrunc, rightsRW); e != errnoSuccess {
		t.Fatalf("open with O_TRUNC = %d", e)
	}
	if u := q.Used(); u != fileCost(0) {
		t.Errorf("after O_TRUNC the quota counts %d, want one block", u)
	}
}

// TestEmptyDirNamesCount: every name takes a block, so a guest cannot fill
// the disk with empty files, directories or links; removing one gives it
// back.
func TestEmptyDirNamesCount(t *testing.T) {
	dir := t.TempDir()
	const limit = 64 * quotaBlock
	g, q, _ := quotaGuest(t, dir, limit)
	made := 0
	for ; made < 1000; made++ {
		name := "n" + strconv.Itoa(made)
		var e errno
		switch made % 4 {
		case 0:
			var fd uint32
			if fd, e = g.openFd(3, name, oflagCreat, rightsRW); e == errnoSuccess {
				g.errno("fd_close", uint64(fd))
			}
		case 1:
			e = g.pathCall("path_create_directory", 3, name)
		case 2:
			e = g.symlink("target", 3, name)
		case 3:
			e = g.link(3, "n0", 3, name)
		}
		if e == errnoNospc {
			break
		}
		if e != errnoSuccess {
			t.Fatalf("name %d: errno %d", made, e)
		}
	}
	if made != limit/quotaBlock {
		t.Errorf("made %d names under a limit of %d blocks", made, limit/quotaBlock)
	}
	if e := g.pathCall("path_unlink_file", 3, "n0"); e != errnoSuccess {
		t.Fatal(e)
	}
	if e := g.pathCall("path_create_directory", 3, "again"); e != errnoSuccess {
		t.Errorf("mkdir after an unlink = %d", e)
	}
	if e := g.pathCall("path_remove_directory", 3, "again"); e != errnoSuccess {
		t.Fatal(e)
	}
	if u := q.Used(); u != limit-quotaBlock {
		t.Errorf("used %d, want %d", u, limit-quotaBlock)
	}
	// Renaming onto a name gives back what the name took; onto another
	// name of the same file, nothing.
	if e := g.rename(3, "n4", 3, "n8"); e != errnoSuccess {
		t.Fatal(e)
	}
	if u := q.Used(); u != limit-2*quotaBlock {
		t.Errorf("used %d after a rename over a file, want %d", u, limit-2*quotaBlock)
	}
	if e := g.rename(3, "n3", 3, "n7"); e != errnoSuccess { // two links of n0
		t.Fatal(e)
	}
	if u := q.Used(); u != limit-2*quotaBlock {
		t.Errorf("used %d after a rename over a link of the same file, want %d", u, limit-2*quotaBlock)
	}
}

// TestEmptyDirOpenFileKeepsItsBlocks: a file removed while it is open
// keeps its blocks until it is closed, as on Linux; unlinking it gives
// the guest no room.
func TestEmptyDirOpenFileKeepsItsBlocks(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	g, q, iov := quotaGuest(t, dir, limit)
	fd, _ := g.openFd(3, "a", oflagCreat, rightsRW)
	if n, e := g.fill(fd, iov, 768<<10); e != errnoSuccess || n != 768<<10 {
		t.Fatalf("fill = %d, %d", n, e)
	}
	if e := g.pathCall("path_unlink_file", 3, "a"); e != errnoSuccess {
		t.Fatal(e)
	}
	fd2, _ := g.openFd(3, "b", oflagCreat, rightsRW)
	if n, e := g.fill(fd2, iov, 768<<10); e != errnoNospc || n > 256<<10 {
		t.Errorf("writing while the removed file is open: %d bytes, errno %d; want ENOSPC at 256 KiB", n, e)
	}
	g.errno("fd_close", uint64(fd))
	if n, e := g.fill(fd2, iov, 512<<10); e != errnoSuccess {
		t.Errorf("writing after its close: %d bytes, errno %d", n, e)
	}
	if u := q.Used(); u > limit {
		t.Errorf("used %d", u)
	}
}

// TestEmptyDirQuotaMeasuredAndShared: the quota counts what the volume held
// before it, and two instances with the same volume share it.
func TestEmptyDirQuotaMeasuredAndShared(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", "b", "old"), make([]byte, 300<<10), 0o644)
	os.Link(filepath.Join(dir, "a", "b", "old"), filepath.Join(dir, "hard"))
	os.Symlink("a", filepath.Join(dir, "l"))
	const limit = 1 << 20
	q, err := NewQuota(mustRoot(t, dir), limit)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(300<<10 + 4*quotaBlock); q.Used() != want {
		t.Errorf("measured %d, want %d", q.Used(), want)
	}
	g1 := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/v", Root: mustRoot(t, dir), Quota: q}}})
	g2 := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/v", Root: mustRoot(t, filepath.Join(dir, "a")), Quota: q}}})
	iov1, _ := g1.iov(strings.Repeat("x", 16<<10), 16<<10)
	iov2, _ := g2.iov(strings.Repeat("y", 16<<10), 16<<10)
	f1, _ := g1.openFd(3, "one", oflagCreat, rightsRW)
	f2, _ := g2.openFd(3, "two", oflagCreat, rightsRW)
	n1, _ := g1.fill(f1, iov1, 400<<10)
	n2, e := g2.fill(f2, iov2, 1<<20)
	if e != errnoNospc || n1+n2 > limit-300<<10 {
		t.Errorf("two instances wrote %d and %d bytes (errno %d) with %d left", n1, n2, e, limit-300<<10)
	}
	// A subPath made by the node counts.
	before := q.Used()
	if err := q.MkdirAll(mustRoot(t, dir), "s/t", 0o755); err != nil {
		t.Fatal(err)
	}
	if q.Used() != before+2*quotaBlock {
		t.Errorf("MkdirAll counted %d", q.Used()-before)
	}
	q.MkdirAll(mustRoot(t, dir), "s/t", 0o755)
	if q.Used() != before+2*quotaBlock {
		t.Errorf("MkdirAll of what exists counted %d", q.Used()-before)
	}
}

// TestQuotaMeasuresDeepTrees with one fd at a time: the depth of a tree
// is a guest's choice.
func TestQuotaMeasuresDeepTrees(t *testing.T) {
	dir := t.TempDir()
	g, _, _ := quotaGuest(t, dir, 1<<30)
	const depth = 300
	fd := uint32(3)
	for k := 0; k < depth; k++ {
		if e := g.pathCall("path_create_directory", fd, "d"); e != errnoSuccess {
			t.Fatalf("mkdir at depth %d = %d", k, e)
		}
		nfd, e := g.openFd(fd, "d", oflagDirectory, rightsDir)
		if e != errnoSuccess {
			t.Fatalf("open at depth %d = %d", k, e)
		}
		if fd != 3 {
			g.errno("fd_close", uint64(fd))
		}
		fd = nfd
	}
	before := openFds(t)
	q, err := NewQuota(mustRoot(t, dir), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if q.Used() != depth*quotaBlock {
		t.Errorf("measured %d, want %d", q.Used(), depth*quotaBlock)
	}
	if n := openFds(t) - before; n > 2 {
		t.Errorf("%d fds left open", n)
	}
}

// BenchmarkFileWrite is a 4 KiB fd_write to a file, with and without a
// quota on its volume: the quota's cost is a lock, an fstat and an lseek.
func BenchmarkFileWrite(b *testing.B) {
	for _, quota := range []bool{false, true} {
		name := "plain"
		if quota {
			name = "quota"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			m := Mount{GuestPath: "/v", Root: mustRoot(b, dir)}
			if quota {
				q, err := NewQuota(mustRoot(b, dir), 1<<40)
				if err != nil {
					b.Fatal(err)
				}
				m.Quota = q
			}
			g := newGuest(b, Config{Mounts: []Mount{m}})
			fd, e := g.open(3, "f", oflagCreat, rightsRW)
			if e != errnoSuccess {
				b.Fatal(e)
			}
			iov, _ := g.iov(strings.Repeat("x", 4096), 4096)
			n := g.alloc(4)
			b.SetBytes(4096)
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				if k%1024 == 0 {
					g.errno("fd_seek", uint64(fd), 0, whenceSet, uint64(n))
				}
				if e := g.errno("fd_write", uint64(fd), iov, 1, uint64(n)); e != errnoSuccess {
					b.Fatal(e)
				}
			}
		})
	}
}

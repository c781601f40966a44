package wasi

import (
	"os"
	"path/filepath"
	"testing"
)

// A read-only mount is read as a read-only file system is: an open that
// only reads succeeds whatever rights it asks for (Go and wasi-libc ask
// for the right to change the size on every open), and what would write
// is EROFS, at the open or at the call.
func TestReadOnlyMountOpensForReading(t *testing.T) {
	_, ro, _ := fsTree(t)
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/ro", Root: mustRoot(t, ro), ReadOnly: true}}})
	const roDir = 3
	// The rights Go's os.Open asks for on wasip1: a file's, less the
	// writing ones, which keep fd_filestat_set_size and set_times.
	const goRead = rightFdRead | rightFdSeek | rightFdTell | rightFdFilestatGet | rightFdFilestatSetSize | rightFdFilestatSetTimes | rightPollFdReadwrite
	fd, e := g.open(roDir, "file", 0, goRead)
	if e != errnoSuccess {
		t.Fatalf("path_open(file) for reading = errno %d", e)
	}
	iov, buf := g.iov("", 64)
	nread := g.alloc(4)
	if e := g.errno("fd_read", uint64(fd), iov, 1, uint64(nread)); e != errnoSuccess {
		t.Fatalf("fd_read = errno %d", e)
	}
	if n := g.u32(nread); n != uint32(len("read-only")) {
		t.Fatalf("read %d bytes", n)
	} else if b, _ := g.mod.Memory().Read(buf, n); string(b) != "read-only" {
		t.Fatalf("read %q", b)
	}
	if e := g.errno("fd_filestat_set_size", uint64(fd), 0); e != errnoRofs {
		t.Errorf("fd_filestat_set_size = errno %d, want EROFS", e)
	}
	for _, tc := range []struct {
		name   string
		oflags uint16
		base   uint64
	}{
		{"write", 0, rightFdWrite},
		{"allocate", 0, rightFdRead | rightFdAllocate},
		{"truncate", oflagTrunc, goRead},
		{"create", oflagCreat, goRead},
	} {
		if _, e := g.open(roDir, "file", tc.oflags, tc.base); e != errnoRofs {
			t.Errorf("path_open(file) to %s = errno %d, want EROFS", tc.name, e)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "file")); string(b) != "read-only" {
		t.Errorf("the file holds %q", b)
	}
}

package wasi

import (
	"os"
	"path/filepath"
	"testing"
)

// fsTree makes a mount with links that lead out of it, a file outside it,
// and a read-only mount; it returns the two mounts' host directories and
// the outside file.
func fsTree(t *testing.T) (rw, ro, secret string) {
	t.Helper()
	base := t.TempDir()
	rw, ro = filepath.Join(base, "mount"), filepath.Join(base, "ro")
	secret = filepath.Join(base, "outside", "secret")
	for _, d := range []string{rw, ro, filepath.Join(rw, "sub"), filepath.Dir(secret)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{secret: "secret", filepath.Join(rw, "file"): "inside", filepath.Join(ro, "file"): "read-only"}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs":    secret,               // absolute
		"up":     "../outside/secret",  // relative, out of the mount
		"subup":  "sub/../../outside",  // through a directory
		"ok":     "file",               // inside
		"subdir": "sub",                // a directory inside
		"loop":   "loop",               // itself
		"deep":   "sub/../../mount/ok", // out and back in
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rw, name)); err != nil {
			t.Fatal(err)
		}
	}
	return rw, ro, secret
}

const rightsRW = rightFdRead | rightFdWrite | rightFdSeek | rightFdFilestatGet

func TestPathOpenConfined(t *testing.T) {
	rw, ro, secret := fsTree(t)
	g := newGuest(t, Config{Mounts: []Mount{{GuestPath: "/data", Root: mustRoot(t, rw)}, {GuestPath: "/ro", Root: mustRoot(t, ro), ReadOnly: true}}})
	const dir, roDir = 3, 4
	tests := []struct {
		path   string
		oflags uint16
		base   uint64
		want   errno
	}{
		{path: "file", base: rightFdRead},
		{path: "ok", base: rightFdRead},
		{path: "subdir/../file", base: rightFdRead},
		{path: "../outside/secret", base: rightFdRead, want: errnoNotcapable},
		{path: "sub/../../outside/secret", base: rightFdRead, want: errnoNotcapable},
		{path: "/etc/passwd", base: rightFdRead, want: errnoNotcapable},
		{path: secret, base: rightFdRead, want: errnoNotcapable},
		{path: "abs", base: rightFdRead, want: errnoNotcapable},
		{path: "up", base: rightFdRead, want: errnoNotcapable},
		{path: "subup/secret", base: rightFdRead, want: errnoNotcapable},
		{path: "deep", base: rightFdRead, want: errnoNotcapable},
		{path: "loop", base: rightFdRead, want: errnoLoop},
		{path: "up", oflags: oflagCreat | oflagTrunc, base: rightFdWrite, want: errnoNotcapable},
		{path: "../escaped", oflags: oflagCreat, base: rightFdWrite, want: errnoNotcapable},
		{path: "missing", base: rightFdRead, want: errnoNoent},
		{path: "new", oflags: oflagCreat | oflagExcl, base: rightFdWrite},
		{path: "file/", base: rightFdRead, want: errnoNotdir},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fd, e := g.open(dir, tt.path, tt.oflags, tt.base)
			if e != tt.want {
				t.Fatalf("path_open(%q) = errno %d, want %d", tt.path, e, tt.want)
			}
			if e == errnoSuccess {
				g.errno("fd_close", uint64(fd))
			}
		})
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Errorf("the outside file is now %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(rw), "escaped")); err == nil {
		t.Error("a file was created outside the mount")
	}

	t.Run("read", func(t *testing.T) {
		fd, e := g.open(dir, "ok", 0, rightFdRead)
		if e != errnoSuccess {
			t.Fatalf("open: %d", e)
		}
		iov, buf := g.iov("", 64)
		n := g.alloc(4)
		if e := g.errno("fd_read", uint64(fd), iov, 1, uint64(n)); e != errnoSuccess {
			t.Fatalf("fd_read: %d", e)
		}
		got, _ := g.mod.Memory().Read(buf, g.u32(n))
		if string(got) != "inside" {
			t.Errorf("read %q, want %q", got, "inside")
		}
		// No write right: the fd refuses writes.
		if e := g.errno("fd_write", uint64(fd), iov, 1, uint64(n)); e != errnoNotcapable {
			t.Errorf("fd_write on a read-only fd = %d, want ENOTCAPABLE", e)
		}
	})

	t.Run("links", func(t *testing.T) {
		op, ol := g.str("up")
		np, nl := g.str("hard")
		if e := g.errno("path_link", dir, lookupSymlinkFollow, op, ol, dir, np, nl); e != errnoNotcapable {
			t.Errorf("path_link following an escaping link = %d, want ENOTCAPABLE", e)
		}
		if _, err := os.Lstat(filepath.Join(rw, "hard")); err == nil {
			t.Error("a hard link to the outside file was made")
		}
		for _, target := range []string{secret, "../outside/secret", "sub/../../x"} {
			tp, tl := g.str(target)
			lp, ll := g.str("mine")
			if e := g.errno("path_symlink", tp, tl, dir, lp, ll); e != errnoPerm {
				t.Errorf("path_symlink(%q) = %d, want EPERM", target, e)
			}
		}
		tp, tl := g.str("sub/../file")
		lp, ll := g.str("mine")
		if e := g.errno("path_symlink", tp, tl, dir, lp, ll); e != errnoSuccess {
			t.Errorf("path_symlink inside = %d", e)
		}
	})

	t.Run("read-only mount", func(t *testing.T) {
		if _, e := g.open(roDir, "file", 0, rightFdRead); e != errnoSuccess {
			t.Errorf("opening for reading = %d", e)
		}
		if _, e := g.open(roDir, "file", 0, rightFdRead|rightFdWrite); e != errnoRofs {
			t.Errorf("opening for writing = %d, want EROFS", e)
		}
		if _, e := g.open(roDir, "new", oflagCreat, rightFdWrite); e != errnoRofs {
			t.Errorf("creating = %d, want EROFS", e)
		}
		p, l := g.str("file")
		q, m := g.str("renamed")
		calls := []struct {
			fn   string
			args []uint64
		}{
			{"path_create_directory", []uint64{roDir, q, m}},
			{"path_unlink_file", []uint64{roDir, p, l}},
			{"path_rename", []uint64{roDir, p, l, roDir, q, m}},
			{"path_symlink", []uint64{p, l, roDir, q, m}},
			{"path_link", []uint64{roDir, 0, p, l, roDir, q, m}},
			{"path_filestat_set_times", []uint64{roDir, 0, p, l, 0, 0, fstMtimNow}},
			{"path_rename", []uint64{dir, p, l, roDir, q, m}},
		}
		for _, c := range calls {
			if e := g.errno(c.fn, c.args...); e != errnoRofs {
				t.Errorf("%s = %d, want EROFS", c.fn, e)
			}
		}
		if b, err := os.ReadFile(filepath.Join(ro, "file")); err != nil || string(b) != "read-only" {
			t.Errorf("the read-only file is now %q, %v", b, err)
		}
	})
}

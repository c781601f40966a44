package wasi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/tetratelabs/wazero/api"
)

// Files and directories. Every path a guest names is resolved through the
// os.Root of the directory fd it is relative to: a pre-opened mount or a
// directory opened below one, which is itself an os.Root. So `..`, absolute
// paths and symbolic links can never lead outside that directory, as WASI's
// capability model has it. Operations on a final path component that
// os.Root has no method for (unlink without following a link, rename and
// link between two directory fds, set times of a link) open the parent
// directory through the root and use the *at system call on the last
// component, which is never `.` or `..`.

// oflags of path_open.
const (
	oflagCreat     = 1
	oflagDirectory = 2
	oflagExcl      = 4
	oflagTrunc     = 8
)

const lookupSymlinkFollow = 1

// pathArg reads the path argument (ptr, len) and the directory fd it is
// relative to.
func (i *Instance) pathArg(mem api.Memory, fd, ptr, l uint32) (*fdEntry, string, errno) {
	e, en := i.fds.get(fd)
	if en != errnoSuccess {
		return nil, "", en
	}
	// The path is copied out of the guest's memory: its length is capped
	// first, as Linux caps it.
	if l > maxPathLen {
		return nil, "", errnoNametoolong
	}
	b, ok := mem.Read(ptr, l)
	if !ok {
		return nil, "", errnoFault
	}
	if e.kind != kindDir {
		return nil, "", errnoNotdir
	}
	name := string(b)
	if strings.IndexByte(name, 0) >= 0 {
		return nil, "", errnoInval
	}
	return e, name, errnoSuccess
}

// checkName refuses what no path operation accepts: an empty or absolute
// path.
func checkName(name string) errno {
	switch {
	case name == "":
		return errnoNoent
	case name[0] == '/':
		return errnoNotcapable
	}
	return errnoSuccess
}

// parent opens the directory holding the last component of name, and
// returns that component (with the trailing slashes of name, which the
// *at calls interpret).
func parent(e *fdEntry, name string) (*os.File, string, errno) {
	if en := checkName(name); en != errnoSuccess {
		return nil, "", en
	}
	trimmed := strings.TrimRight(name, "/")
	dir, last := path.Split(trimmed)
	if last == "." || last == ".." || last == "" {
		return nil, "", errnoInval
	}
	if dir == "" {
		dir = "."
	}
	f, err := e.root.Open(dir)
	if err != nil {
		return nil, "", toErrno(err)
	}
	return f, last + trimmedSuffix(name, trimmed), errnoSuccess
}

func trimmedSuffix(name, trimmed string) string {
	if len(name) > len(trimmed) {
		return "/"
	}
	return ""
}

// atCall runs fn with the parent directory's fd of name.
func atCall(e *fdEntry, name string, fn func(dirfd int, base string) error) errno {
	f, base, en := parent(e, name)
	if en != errnoSuccess {
		return en
	}
	defer f.Close()
	return toErrno(fn(int(f.Fd()), base))
}

func pathCreateDirectory(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if en := checkName(name); en != errnoSuccess {
		return en
	}
	if e.readOnly {
		return errnoRofs
	}
	if clean := path.Clean(name); clean == "." || clean == ".." || strings.HasSuffix(clean, "/..") {
		return errnoExist
	}
	return e.quota.create(func() errno { return toErrno(e.root.Mkdir(name, 0o755)) })
}

func pathFilestatGet(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[2]), u32(s[3]))
	if en != errnoSuccess {
		return en
	}
	if en := checkName(name); en != errnoSuccess {
		return en
	}
	var fi os.FileInfo
	var err error
	if u32(s[1])&lookupSymlinkFollow != 0 {
		fi, err = e.root.Stat(name)
	} else {
		fi, err = e.root.Lstat(name)
	}
	if err != nil {
		return toErrno(err)
	}
	return writeFilestat(mem, u32(s[4]), fi, 0)
}

func pathFilestatSetTimes(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[2]), u32(s[3]))
	if en != errnoSuccess {
		return en
	}
	a, m, aNow, mNow, en := times(s[4], s[5], uint16(s[6]))
	if en != errnoSuccess {
		return en
	}
	if e.readOnly {
		return errnoRofs
	}
	if en := checkName(name); en != errnoSuccess {
		return en
	}
	if u32(s[1])&lookupSymlinkFollow != 0 {
		// Open the file itself through the root (following links inside
		// it) and set the times of what was opened.
		f, err := e.root.Open(name)
		if err != nil {
			return toErrno(err)
		}
		defer f.Close()
		return toErrno(utimensat(int(f.Fd()), "", a, m, aNow, mNow, 0))
	}
	if clean := path.Clean(name); clean == "." {
		f, en := e.dirFile()
		if en != errnoSuccess {
			return en
		}
		return toErrno(utimensat(int(f.Fd()), "", a, m, aNow, mNow, 0))
	}
	return atCall(e, name, func(dirfd int, base string) error {
		return utimensat(dirfd, base, a, m, aNow, mNow, atSymlinkNofollow)
	})
}

func pathLink(i *Instance, mem api.Memory, s []uint64) errno {
	oe, oname, en := i.pathArg(mem, u32(s[0]), u32(s[2]), u32(s[3]))
	if en != errnoSuccess {
		return en
	}
	ne, nname, en := i.pathArg(mem, u32(s[4]), u32(s[5]), u32(s[6]))
	if en != errnoSuccess {
		return en
	}
	if ne.readOnly {
		return errnoRofs
	}
	if oe.mount != ne.mount {
		return errnoXdev
	}
	if u32(s[1])&lookupSymlinkFollow != 0 {
		// Following the link is done by the root, never by the kernel:
		// open what the link leads to and link that file by its fd.
		f, err := oe.root.Open(oname)
		if err != nil {
			return toErrno(err)
		}
		defer f.Close()
		return ne.quota.create(func() errno {
			return atCall(ne, nname, func(dirfd int, base string) error {
				return linkat(atFdcwd, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), dirfd, base, atSymlinkFollow)
			})
		})
	}
	of, obase, en := parent(oe, oname)
	if en != errnoSuccess {
		return en
	}
	defer of.Close()
	return ne.quota.create(func() errno {
		return atCall(ne, nname, func(dirfd int, base string) error {
			return linkat(int(of.Fd()), obase, dirfd, base, 0)
		})
	})
}

func pathOpen(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[2]), u32(s[3]))
	if en != errnoSuccess {
		return en
	}
	if en := checkName(name); en != errnoSuccess {
		return en
	}
	follow := u32(s[1])&lookupSymlinkFollow != 0
	oflags := uint16(s[4])
	base, inheriting := s[5], s[6]
	fdflags := uint16(s[7])
	outPtr := u32(s[8])

	write := base&(rightFdWrite|rightFdAllocate|rightFdFilestatSetSize) != 0 || fdflags&fdflagAppend != 0
	create := oflags&oflagCreat != 0
	trunc := oflags&oflagTrunc != 0
	if e.readOnly {
		// Only a write of data is an open for writing, as open(2) on a
		// read-only file system: Go and wasi-libc ask for the right to
		// change the size on every open, reading ones too. The fd keeps
		// that right and gets EROFS if it uses it.
		if base&(rightFdWrite|rightFdAllocate) != 0 || fdflags&fdflagAppend != 0 || create || trunc {
			return errnoRofs
		}
		write = false
	}
	if trunc && e.base&rightPathFilestatSetSize == 0 {
		return errnoPerm
	}
	if create && e.base&rightPathCreateFile == 0 {
		return errnoNotcapable
	}
	if e.base&rightPathOpen == 0 {
		return errnoNotcapable
	}
	// As open(2) at RLIMIT_NOFILE: nothing is created for an fd the guest
	// cannot have.
	if i.fds.full() {
		return errnoMfile
	}

	lfi, lerr := e.root.Lstat(name)
	if lerr == nil && lfi.Mode()&os.ModeSymlink != 0 {
		if create && oflags&oflagExcl != 0 {
			return errnoExist
		}
		if !follow {
			return errnoLoop
		}
	}
	fi, err := e.root.Stat(name)
	if err == nil {
		if create && oflags&oflagExcl != 0 {
			return errnoExist
		}
		if fi.IsDir() {
			if write || trunc {
				return errnoIsdir
			}
			sub, err := e.root.OpenRoot(name)
			if err != nil {
				return toErrno(err)
			}
			ne := &fdEntry{
				kind: kindDir, root: sub, readOnly: e.readOnly, mount: e.mount, quota: e.quota,
				base: base & e.inheriting & rightsDir, inheriting: inheriting & e.inheriting,
				fdflags: fdflags & fdflagNonblock,
			}
			return i.store(mem, ne, outPtr)
		}
		if oflags&oflagDirectory != 0 {
			return errnoNotdir
		}
	} else if !errors.Is(err, fs.ErrNotExist) || !create {
		if oflags&oflagDirectory != 0 && errors.Is(err, fs.ErrNotExist) && !create {
			return errnoNoent
		}
		return toErrno(err)
	}
	if oflags&oflagDirectory != 0 && create {
		return errnoInval
	}

	flag := os.O_RDONLY
	if write {
		if base&rightFdRead != 0 {
			flag = os.O_RDWR
		} else {
			flag = os.O_WRONLY
		}
	}
	if create {
		flag |= os.O_CREATE
	}
	if oflags&oflagExcl != 0 {
		flag |= os.O_EXCL
	}
	if trunc {
		flag |= os.O_TRUNC
	}
	if fdflags&fdflagAppend != 0 {
		flag |= os.O_APPEND
	}
	if fdflags&(fdflagSync|fdflagRsync) != 0 {
		flag |= os.O_SYNC
	}
	if fdflags&fdflagDsync != 0 {
		flag |= syscall.O_DSYNC
	}
	if en := e.quota.beginOpen(e.root, name, create, trunc); en != errnoSuccess {
		return en
	}
	f, err := e.root.OpenFile(name, flag, 0o644)
	e.quota.endOpen(f)
	if err != nil {
		return toErrno(err)
	}
	ne := &fdEntry{
		kind: kindFile, file: f, readOnly: e.readOnly, fdflags: fdflags, mount: e.mount, quota: e.quota,
		base: base & e.inheriting & rightsFile, inheriting: inheriting & e.inheriting,
	}
	return i.store(mem, ne, outPtr)
}

// store inserts e into the table and writes its fd at ptr.
func (i *Instance) store(mem api.Memory, e *fdEntry, ptr uint32) errno {
	fd, en := i.fds.insert(e)
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint32Le(ptr, fd) {
		if e, en := i.fds.remove(fd); en == errnoSuccess {
			e.close()
		}
		return errnoFault
	}
	return errnoSuccess
}

func pathReadlink(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if en := checkName(name); en != errnoSuccess {
		return en
	}
	target, err := e.root.Readlink(name)
	if err != nil {
		return toErrno(err)
	}
	buf, ok := mem.Read(u32(s[3]), u32(s[4]))
	if !ok {
		return errnoFault
	}
	n := copy(buf, target)
	if !mem.WriteUint32Le(u32(s[5]), uint32(n)) {
		return errnoFault
	}
	return errnoSuccess
}

func pathRemoveDirectory(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if e.readOnly {
		return errnoRofs
	}
	return atCall(e, name, func(dirfd int, base string) error {
		return e.quota.remove(dirfd, base, func() error { return unlinkat(dirfd, base, atRemovedir) })
	})
}

func pathRename(i *Instance, mem api.Memory, s []uint64) errno {
	oe, oname, en := i.pathArg(mem, u32(s[0]), u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	ne, nname, en := i.pathArg(mem, u32(s[3]), u32(s[4]), u32(s[5]))
	if en != errnoSuccess {
		return en
	}
	if oe.readOnly || ne.readOnly {
		return errnoRofs
	}
	if oe.mount != ne.mount {
		return errnoXdev
	}
	of, obase, en := parent(oe, oname)
	if en != errnoSuccess {
		return en
	}
	defer of.Close()
	return atCall(ne, nname, func(dirfd int, base string) error {
		return ne.quota.rename(int(of.Fd()), obase, dirfd, base, func() error {
			return syscall.Renameat(int(of.Fd()), obase, dirfd, base)
		})
	})
}

func pathSymlink(i *Instance, mem api.Memory, s []uint64) errno {
	if u32(s[1]) > maxPathLen {
		return errnoNametoolong
	}
	tb, ok := mem.Read(u32(s[0]), u32(s[1]))
	if !ok {
		return errnoFault
	}
	target := string(tb)
	e, name, en := i.pathArg(mem, u32(s[2]), u32(s[3]), u32(s[4]))
	if en != errnoSuccess {
		return en
	}
	if e.readOnly {
		return errnoRofs
	}
	// A link that points out of the directory could never be followed by
	// the guest, but other readers of the volume would follow it: refuse
	// to make one. This is a defence in depth: a rename can still make a
	// relative link point out, and the node never follows one (it resolves
	// every path of a volume under an os.Root, docs/RATIONALE.md).
	if strings.HasPrefix(target, "/") {
		return errnoPerm
	}
	if strings.IndexByte(target, 0) >= 0 {
		return errnoInval
	}
	if j := path.Join(path.Dir(strings.TrimRight(name, "/")), target); j == ".." || strings.HasPrefix(j, "../") {
		return errnoPerm
	}
	return e.quota.create(func() errno {
		return atCall(e, name, func(dirfd int, base string) error {
			return symlinkat(target, dirfd, base)
		})
	})
}

func pathUnlinkFile(i *Instance, mem api.Memory, s []uint64) errno {
	e, name, en := i.pathArg(mem, u32(s[0]), u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if e.readOnly {
		return errnoRofs
	}
	return atCall(e, name, func(dirfd int, base string) error {
		return e.quota.remove(dirfd, base, func() error { return unlinkat(dirfd, base, 0) })
	})
}

// dirent is one entry of a directory listing, with its cookie: its index
// in the listing, where "." is 0 and ".." is 1.
type dirent struct {
	name   string
	ino    uint64
	typ    uint8
	cookie uint64
}

// fd_readdir's cookie is the index of an entry in the listing; a cookie of
// 0 reads the directory again. The listing is read from the directory a
// batch at a time and only the last batch is kept (e.dirents): a guest can
// fill a directory with millions of empty files and open it as many times
// as it has fds, and a listing kept whole for each fd would cost the node
// that product. A cookie within the batch is served from it, a later one
// reads on, an earlier one reads again from the start; libc's readdir asks
// in order, going back only into the last batch.
func fdReaddir(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.kind != kindDir {
		return errnoNotdir
	}
	if e.base&rightFdReaddir == 0 {
		return errnoNotcapable
	}
	buf, ok := mem.Read(u32(s[1]), u32(s[2]))
	if !ok {
		return errnoFault
	}
	cookie := s[3]
	if cookie == 0 {
		e.dirents = nil
	}
	used := 0
	for ; used < len(buf); cookie++ {
		d, en := i.direntAt(e, cookie)
		if en != errnoSuccess {
			return en
		}
		if d == nil {
			break
		}
		var hdr [24]byte
		putU64(hdr[0:], cookie+1)
		putU64(hdr[8:], d.ino)
		putU32(hdr[16:], uint32(len(d.name)))
		hdr[20] = d.typ
		used += copy(buf[used:], hdr[:])
		used += copy(buf[used:], d.name)
	}
	if !mem.WriteUint32Le(u32(s[4]), uint32(used)) {
		return errnoFault
	}
	return errnoSuccess
}

// direntAt returns the entry of e's listing at index k, or nil past its
// end.
func (i *Instance) direntAt(e *fdEntry, k uint64) (*dirent, errno) {
	for {
		if n := uint64(len(e.dirents)); n > 0 {
			first := e.dirents[0].cookie
			if k >= first && k-first < n {
				return &e.dirents[k-first], errnoSuccess
			}
			if k < first {
				e.dirents = nil
			}
		}
		// A far cookie reads the whole directory: it stops for a kill.
		if i.isKilled() {
			return nil, errnoIntr
		}
		f, en := e.dirFile()
		if en != errnoSuccess {
			return nil, en
		}
		if e.dirents == nil {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, toErrno(err)
			}
			var self uint64
			if fi, err := f.Stat(); err == nil {
				_, self, _, _, _, _ = statOf(fi)
			}
			// The parent's inode is not the guest's to know: it may be
			// the node's, outside the mount.
			e.dirents = []dirent{
				{name: ".", ino: self, typ: filetypeDirectory, cookie: 0},
				{name: "..", typ: filetypeDirectory, cookie: 1},
			}
			continue
		}
		batch, en := readDirents(e, f, e.dirents[len(e.dirents)-1].cookie+1)
		if en != errnoSuccess {
			return nil, en
		}
		if len(batch) == 0 {
			return nil, errnoSuccess
		}
		e.dirents = batch
	}
}

// readDirents reads the next entries of the directory f (one getdents64,
// "." and ".." left out, which the listing has first), numbered from
// cookie; none at its end.
func readDirents(e *fdEntry, f *os.File, cookie uint64) ([]dirent, errno) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, toErrno(err)
	}
	buf := make([]byte, 4096)
	for {
		var n int
		var rerr error
		if err := rc.Control(func(fd uintptr) { n, rerr = syscall.ReadDirent(int(fd), buf) }); err != nil {
			return nil, toErrno(err)
		}
		if rerr != nil {
			return nil, toErrno(rerr)
		}
		if n <= 0 {
			return nil, errnoSuccess
		}
		var list []dirent
		// Each record: d_ino (8), d_off (8), d_reclen (2), d_type (1), then
		// the name up to its NUL.
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.LittleEndian.Uint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				return nil, errnoIo
			}
			nameb := b[19:reclen]
			if z := bytes.IndexByte(nameb, 0); z >= 0 {
				nameb = nameb[:z]
			}
			d := dirent{name: string(nameb), ino: binary.LittleEndian.Uint64(b)}
			dtype := b[18]
			b = b[reclen:]
			if d.name == "." || d.name == ".." {
				continue
			}
			d.typ = direntType(dtype)
			if dtype == dtUnknown {
				// A file system that does not report the type: ask.
				if fi, err := e.root.Lstat(d.name); err == nil {
					d.typ = fileTypeOf(fi.Mode())
				}
			}
			d.cookie = cookie
			cookie++
			list = append(list, d)
		}
		if len(list) > 0 {
			return list, errnoSuccess
		}
	}
}

// d_type of getdents64.
const (
	dtUnknown = 0
	dtChr     = 2
	dtDir     = 4
	dtBlk     = 6
	dtReg     = 8
	dtLnk     = 10
	dtSock    = 12
)

func direntType(t uint8) uint8 {
	switch t {
	case dtReg:
		return filetypeRegularFile
	case dtDir:
		return filetypeDirectory
	case dtLnk:
		return filetypeSymlink
	case dtSock:
		return filetypeSocketStream
	case dtChr:
		return filetypeCharDevice
	case dtBlk:
		return 1 // block device
	}
	return filetypeUnknown
}

func putU64(b []byte, v uint64) {
	for k := 0; k < 8; k++ {
		b[k] = byte(v >> (8 * k))
	}
}

func putU32(b []byte, v uint32) {
	for k := 0; k < 4; k++ {
		b[k] = byte(v >> (8 * k))
	}
}

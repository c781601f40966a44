package wasi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// Quota is the size limit of one volume (a pod's emptyDir): what its
// files, directories and links may take of the node's disk. The layer
// counts every change a guest makes through a mount of the volume, at the
// time of the call, and refuses one that would go past the limit with
// ENOSPC: to a guest the volume is a file system of that size. One Quota
// serves every mount of the volume (each container of the pod, each exec
// probe, each restart), so that they share the limit as they share the
// files.
//
// What is counted is what a file system spends, simplified so that it can
// be known before the change is made:
//
//   - a regular file takes its size rounded up to blocks of 4 KiB, and at
//     least one block (a file written sparsely is counted as if it were
//     not);
//   - a directory, a symbolic link and every name after a file's first
//     (hard links) take one block each, so that the number of names, and
//     the directories that hold them, are bounded by the limit too;
//   - a file removed while a guest still has it open keeps its blocks until
//     its last fd is closed, as on Linux, and is credited then.
//
// Only changes made through the layer are counted: the host must not write
// into a volume with a quota, and renames and links between two mounts are
// refused (EXDEV), so that what a volume holds never moves to another
// without being counted.
type Quota struct {
	limit int64

	// mu orders every counted change of the volume, the system call
	// included: between the look at a file's size and the write that
	// grows it, no other guest of the pod changes it.
	mu   sync.Mutex
	used int64
	// open counts the fds on each file of the volume, in every instance.
	open map[fileID]int

	// The change under way, from a begin to its end, mu held.
	pendSize, pendStart int64
	pendCreate          bool
	pendTrunc           int64 // the old size of a file opened to be truncated; -1: none
}

// fileID is a file's identity on the node.
type fileID struct{ dev, ino uint64 }

func idOf(st *syscall.Stat_t) fileID { return fileID{uint64(st.Dev), st.Ino} }

// quotaBlock is the unit the quota counts in, the block of the common
// Linux file systems.
const quotaBlock = 4096

// fileCost is what a regular file of size bytes is counted.
func fileCost(size int64) int64 {
	if size > math.MaxInt64-quotaBlock {
		return math.MaxInt64 &^ (quotaBlock - 1)
	}
	if size <= quotaBlock {
		return quotaBlock
	}
	return (size + quotaBlock - 1) &^ (quotaBlock - 1)
}

// NewQuota returns the quota of the volume whose directory is root,
// limited to limit bytes, counting what the volume already holds (a
// volume kept across a restart of the node). The walk opens no more than
// one directory at a time, however deep the tree: its depth is the
// guests' choice. The volume must not change while it is measured.
func NewQuota(root *os.Root, limit int64) (*Quota, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("wasi: quota limit %d is not positive", limit)
	}
	used, err := usage(root)
	if err != nil {
		return nil, fmt.Errorf("wasi: measuring the volume %s: %w", root.Name(), err)
	}
	return &Quota{limit: limit, used: used, open: map[fileID]int{}, pendTrunc: -1}, nil
}

// Limit is the quota's limit in bytes.
func (q *Quota) Limit() int64 { return q.limit }

// Used is what the volume holds, as the quota counts it; it may be over
// the limit for a volume that was over it when it was measured.
func (q *Quota) Used() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

// room is what is left under the limit (mu held).
func (q *Quota) room() int64 { return q.limit - q.used }

// beginWrite starts a write of bufs to e's file at off (-1: at the file's
// offset), and returns the buffers cut to what the quota leaves: a write
// that would go past the limit writes what fits, and one of which nothing
// fits is ENOSPC, as on a full file system. Unless it fails, endWrite must
// follow with the bytes written. A nil quota changes nothing.
func (q *Quota) beginWrite(e *fdEntry, bufs [][]byte, off int64) ([][]byte, errno) {
	if q == nil {
		return bufs, errnoSuccess
	}
	q.mu.Lock()
	fi, err := e.file.Stat()
	if err != nil {
		q.mu.Unlock()
		return nil, toErrno(err)
	}
	size, start := fi.Size(), off
	switch {
	case e.fdflags&fdflagAppend != 0:
		start = size // pwrite on Linux appends too
	case start < 0:
		if start, err = e.file.Seek(0, io.SeekCurrent); err != nil {
			q.mu.Unlock()
			return nil, toErrno(err)
		}
	}
	// The file may reach maxEnd: the blocks it has, and the whole blocks
	// the quota has left.
	maxEnd := fileCost(size)
	if r := q.room(); r > 0 {
		maxEnd += min(r&^(quotaBlock-1), math.MaxInt64-maxEnd)
	}
	var want int64
	for _, b := range bufs {
		want += int64(len(b))
	}
	if want == 0 || start <= maxEnd && want <= maxEnd-start {
		q.pendSize, q.pendStart = size, start
		return bufs, errnoSuccess
	}
	allowed := maxEnd - start
	if allowed <= 0 {
		q.mu.Unlock()
		return nil, errnoNospc
	}
	cut := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		if int64(len(b)) > allowed {
			b = b[:allowed]
		}
		cut = append(cut, b)
		if allowed -= int64(len(b)); allowed == 0 {
			break
		}
	}
	q.pendSize, q.pendStart = size, start
	return cut, errnoSuccess
}

// endWrite counts the *n bytes written since beginWrite.
func (q *Quota) endWrite(n *int) {
	if q == nil {
		return
	}
	if end := q.pendStart + int64(*n); end > q.pendSize {
		q.used += fileCost(end) - fileCost(q.pendSize)
	}
	q.mu.Unlock()
}

// resize sets f's size (only when that grows it, with growOnly: fd_allocate),
// counting the blocks it gains or loses. Growth past the limit is ENOSPC.
// With a nil quota it is the plain ftruncate.
func (q *Quota) resize(f *os.File, size int64, growOnly bool) errno {
	if q == nil && !growOnly {
		return toErrno(f.Truncate(size))
	}
	if q != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
	}
	fi, err := f.Stat()
	if err != nil {
		return toErrno(err)
	}
	old := fi.Size()
	if growOnly && old >= size {
		return errnoSuccess
	}
	var delta int64
	if q != nil {
		if delta = fileCost(size) - fileCost(old); delta > q.room() && delta > 0 {
			return errnoNospc
		}
	}
	if err := f.Truncate(size); err != nil {
		return toErrno(err)
	}
	if q != nil {
		q.used += delta
	}
	return errnoSuccess
}

// beginOpen starts path_open's opening of a file, name under root: the
// creation of a file takes a block (ENOSPC without one), a truncation
// gives back the file's blocks. endOpen must follow, with the file opened
// or nil.
func (q *Quota) beginOpen(root *os.Root, name string, create, trunc bool) errno {
	if q == nil {
		return errnoSuccess
	}
	q.mu.Lock()
	q.pendCreate, q.pendTrunc = false, -1
	if !create && !trunc {
		return errnoSuccess
	}
	// Stat follows a link as the open will; a name that cannot be stat'ed
	// for another reason fails the open the same way.
	fi, err := root.Stat(name)
	switch {
	case err == nil:
		if trunc && fi.Mode().IsRegular() {
			q.pendTrunc = fi.Size()
		}
	case create && errors.Is(err, os.ErrNotExist):
		if q.room() < quotaBlock {
			q.mu.Unlock()
			return errnoNospc
		}
		q.pendCreate = true
	}
	return errnoSuccess
}

// endOpen counts the open that beginOpen started, and records f among the
// volume's open files.
func (q *Quota) endOpen(f *os.File) {
	if q == nil {
		return
	}
	defer q.mu.Unlock()
	if f == nil {
		return
	}
	if q.pendCreate {
		q.used += quotaBlock
	}
	if q.pendTrunc >= 0 {
		q.used -= fileCost(q.pendTrunc) - fileCost(0)
	}
	if st, err := fstat(f); err == nil {
		q.open[idOf(st)]++
	}
}

// closeFile closes a file of the volume; the last fd of a file removed
// while it was open gives its blocks back.
func (q *Quota) closeFile(f *os.File) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, err := fstat(f); err == nil {
		id := idOf(st)
		if n := q.open[id]; n > 1 {
			q.open[id] = n - 1
		} else if n == 1 {
			delete(q.open, id)
			if st.Nlink == 0 {
				q.used -= fileCost(st.Size)
			}
		}
	}
	return f.Close()
}

// create runs op, which makes one new name in the volume (a directory, a
// symbolic link, a hard link), and counts a block for it; without one
// left it is ENOSPC and op does not run.
func (q *Quota) create(op func() errno) errno {
	if q == nil {
		return op()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.room() < quotaBlock {
		return errnoNospc
	}
	en := op()
	if en == errnoSuccess {
		q.used += quotaBlock
	}
	return en
}

// MkdirAll makes the directory name under root and what is missing on the
// way to it, as root.MkdirAll does (never leaving root), and counts each
// directory it makes: a node making a subPath in a volume again at every
// start, after a guest removed it, would otherwise give the guest a block
// each time. It makes them even past the limit, which the guest then
// cannot write beyond. A nil quota counts nothing.
func (q *Quota) MkdirAll(root *os.Root, name string, perm os.FileMode) error {
	if q == nil {
		return root.MkdirAll(name, perm)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var prefix string
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." {
			continue
		}
		prefix = path.Join(prefix, c)
		err := root.Mkdir(prefix, perm)
		switch {
		case err == nil:
			q.used += quotaBlock
		case !errors.Is(err, fs.ErrExist):
			return err
		}
	}
	return nil
}

// remove runs op, which removes the name base of the directory dirfd
// (unlink, rmdir), and gives back what the name took.
func (q *Quota) remove(dirfd int, base string, op func() error) error {
	if q == nil {
		return op()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	st, serr := lstatAt(dirfd, base)
	if err := op(); err != nil {
		return err
	}
	if serr == nil {
		q.used -= q.freed(st)
	}
	return nil
}

// rename runs op, which renames obase of odirfd to nbase of ndirfd, and
// gives back what a name it replaced took.
func (q *Quota) rename(odirfd int, obase string, ndirfd int, nbase string, op func() error) error {
	if q == nil {
		return op()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ost, oerr := lstatAt(odirfd, obase)
	nst, nerr := lstatAt(ndirfd, nbase)
	if err := op(); err != nil {
		return err
	}
	// Renaming a name onto another of the same file changes nothing.
	if nerr == nil && (oerr != nil || idOf(ost) != idOf(nst)) {
		q.used -= q.freed(nst)
	}
	return nil
}

// freed is what removing a name of the file st gives back (mu held).
func (q *Quota) freed(st *syscall.Stat_t) int64 {
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink > 1 {
		return quotaBlock
	}
	if q.open[idOf(st)] > 0 {
		return 0 // at its last close
	}
	return fileCost(st.Size)
}

func fstat(f *os.File) (*syscall.Stat_t, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("no file status")
	}
	return st, nil
}

// oPath is Linux's O_PATH (the same on every architecture Go supports),
// which the syscall package names on some only: an fd that can be
// stat'ed, never read, and opens no device.
const oPath = 0x200000

// lstatAt is the status of name in the directory dirfd, without following
// a link (the syscall package has no fstatat on every architecture).
func lstatAt(dirfd int, name string) (*syscall.Stat_t, error) {
	fd, err := openat(dirfd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := syscall.Openat(dirfd, name, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// usage measures the tree of root as the quota counts it.
func usage(root *os.Root) (int64, error) {
	f, err := root.Open(".")
	if err != nil {
		return 0, err
	}
	cur, err := openat(int(f.Fd()), ".", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
	f.Close()
	if err != nil {
		return 0, err
	}
	defer func() { syscall.Close(cur) }()

	type dir struct {
		id    fileID
		names []string // left to look at
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(cur, &st); err != nil {
		return 0, err
	}
	names, err := readNames(cur)
	if err != nil {
		return 0, err
	}
	stack := []dir{{idOf(&st), names}}
	seen := map[fileID]bool{} // files of several names
	var used int64
	errChanged := errors.New("the volume changed while it was measured")
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if len(top.names) == 0 {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				break
			}
			up, err := openat(cur, "..", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
			if err != nil {
				return 0, err
			}
			syscall.Close(cur)
			cur = up
			if err := syscall.Fstat(cur, &st); err != nil {
				return 0, err
			}
			if idOf(&st) != stack[len(stack)-1].id {
				return 0, errChanged
			}
			continue
		}
		name := top.names[len(top.names)-1]
		top.names = top.names[:len(top.names)-1]
		est, err := lstatAt(cur, name)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return 0, err
		}
		switch est.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			used += quotaBlock
			down, err := openat(cur, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
			if err != nil {
				return 0, err
			}
			if err := syscall.Fstat(down, &st); err != nil || idOf(&st) != idOf(est) {
				syscall.Close(down)
				return 0, errChanged
			}
			names, err := readNames(down)
			if err != nil {
				syscall.Close(down)
				return 0, err
			}
			syscall.Close(cur)
			cur = down
			stack = append(stack, dir{idOf(est), names})
		case syscall.S_IFREG:
			id := idOf(est)
			switch {
			case est.Nlink > 1 && seen[id]:
				used += quotaBlock
			case est.Nlink > 1:
				seen[id] = true
				used += fileCost(est.Size)
			default:
				used += fileCost(est.Size)
			}
		default:
			used += quotaBlock
		}
	}
	return used, nil
}

// readNames lists the directory dirfd (without . and ..).
func readNames(dirfd int) ([]string, error) {
	buf := make([]byte, 16<<10)
	var names []string
	for {
		n, err := syscall.ReadDirent(dirfd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
}

package wasi

import (
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"syscall"
)

// fdKind is what an fd of a guest refers to.
type fdKind uint8

const (
	kindStdin    fdKind = iota // the pipe whose end-of-file is SIGTERM
	kindWriter                 // stdout, stderr
	kindDir                    // a directory: a pre-opened mount or one opened below it
	kindFile                   // a file opened below a mount
	kindListener               // a pre-opened listener
	kindConn                   // a connection accepted from a listener
)

// WASI file types.
const (
	filetypeUnknown      = 0
	filetypeCharDevice   = 2
	filetypeDirectory    = 3
	filetypeRegularFile  = 4
	filetypeSocketStream = 6
	filetypeSymlink      = 7
)

// fdflags.
const (
	fdflagAppend   = 1
	fdflagDsync    = 2
	fdflagNonblock = 4
	fdflagRsync    = 8
	fdflagSync     = 16
)

// Rights. They are kept per fd as WASI asks (fd_fdstat_get reports them,
// fd_fdstat_set_rights only drops them) and checked where the testsuite
// and the guests' libraries rely on them.
const (
	rightFdDatasync           = 1 << 0
	rightFdRead               = 1 << 1
	rightFdSeek               = 1 << 2
	rightFdFdstatSetFlags     = 1 << 3
	rightFdSync               = 1 << 4
	rightFdTell               = 1 << 5
	rightFdWrite              = 1 << 6
	rightFdAdvise             = 1 << 7
	rightFdAllocate           = 1 << 8
	rightPathCreateDirectory  = 1 << 9
	rightPathCreateFile       = 1 << 10
	rightPathLinkSource       = 1 << 11
	rightPathLinkTarget       = 1 << 12
	rightPathOpen             = 1 << 13
	rightFdReaddir            = 1 << 14
	rightPathReadlink         = 1 << 15
	rightPathRenameSource     = 1 << 16
	rightPathRenameTarget     = 1 << 17
	rightPathFilestatGet      = 1 << 18
	rightPathFilestatSetSize  = 1 << 19
	rightPathFilestatSetTimes = 1 << 20
	rightFdFilestatGet        = 1 << 21
	rightFdFilestatSetSize    = 1 << 22
	rightFdFilestatSetTimes   = 1 << 23
	rightPathSymlink          = 1 << 24
	rightPathRemoveDirectory  = 1 << 25
	rightPathUnlinkFile       = 1 << 26
	rightPollFdReadwrite      = 1 << 27
	rightSockShutdown         = 1 << 28
	rightSockAccept           = 1 << 29

	rightsFile = rightFdDatasync | rightFdRead | rightFdSeek | rightFdFdstatSetFlags |
		rightFdSync | rightFdTell | rightFdWrite | rightFdAdvise | rightFdAllocate |
		rightFdFilestatGet | rightFdFilestatSetSize | rightFdFilestatSetTimes | rightPollFdReadwrite
	rightsDir = rightFdFdstatSetFlags | rightFdSync | rightFdAdvise | rightPathCreateDirectory |
		rightPathCreateFile | rightPathLinkSource | rightPathLinkTarget | rightPathOpen |
		rightFdReaddir | rightPathReadlink | rightPathRenameSource | rightPathRenameTarget |
		rightPathFilestatGet | rightPathFilestatSetSize | rightPathFilestatSetTimes |
		rightFdFilestatGet | rightFdFilestatSetTimes | rightPathSymlink |
		rightPathRemoveDirectory | rightPathUnlinkFile
	rightsStdio  = rightFdRead | rightFdWrite | rightFdFdstatSetFlags | rightFdFilestatGet | rightPollFdReadwrite
	rightsSocket = rightFdRead | rightFdWrite | rightFdFdstatSetFlags | rightFdFilestatGet |
		rightPollFdReadwrite | rightSockShutdown | rightSockAccept
)

// fdEntry is one open fd of a guest.
type fdEntry struct {
	kind    fdKind
	fdflags uint16
	// rights and inherited rights, as WASI keeps them.
	base, inheriting uint64
	// preopen is the guest path of a pre-opened directory ("" otherwise).
	preopen string
	// readOnly: opened through a read-only mount.
	readOnly bool
	// mount is the pre-opened mount (1 for the first) a directory or file
	// was reached through, 0 for the others: renames and links between
	// two mounts are EXDEV, as between two bind mounts on Linux.
	mount int
	// quota is the size limit of the mount's volume (nil: none).
	quota *Quota

	root *os.Root // kindDir
	file *os.File // kindFile; kindDir once it is read (under fileMu)
	w    io.Writer
	sock *socket // kindListener, kindConn

	// fileMu orders the guest's opening of a directory's file (dirFile)
	// with Kill closing the entry from another goroutine; closed, an entry
	// opens nothing more.
	fileMu sync.Mutex
	closed bool

	// dirents is a directory's listing, read when fd_readdir starts over.
	dirents []dirent
}

// close releases what the entry holds.
func (e *fdEntry) close() error {
	e.fileMu.Lock()
	e.closed = true
	e.fileMu.Unlock()
	var err error
	switch {
	case e.file != nil && e.kind == kindFile && e.quota != nil:
		err = e.quota.closeFile(e.file)
	case e.file != nil:
		err = e.file.Close()
	}
	if e.root != nil {
		if err2 := e.root.Close(); err == nil {
			err = err2
		}
	}
	if e.sock != nil {
		if err2 := e.sock.close(); err == nil {
			err = err2
		}
	}
	return err
}

// filetype is the entry's WASI file type.
func (e *fdEntry) filetype() uint8 {
	switch e.kind {
	case kindStdin, kindWriter:
		return filetypeCharDevice
	case kindDir:
		return filetypeDirectory
	case kindFile:
		return filetypeRegularFile
	default:
		return filetypeSocketStream
	}
}

// maxFds is the most fds an instance may hold, whatever its
// Config.MaxOpenFiles.
const maxFds = 1 << 16

// fdTable is an instance's fds. It is locked because Kill closes every fd
// from another goroutine; the guest itself is one thread.
//
// The table holds at most max entries, pre-opened ones included, so that
// what a guest makes the node hold open is bounded: each entry is one
// descriptor of the node's (two for a directory once it is read or synced,
// one for its os.Root and one for the directory as a file), and the calls
// that use a descriptor only for their own duration (a path's parent
// directory) close it before they return.
type fdTable struct {
	mu     sync.Mutex
	fds    []*fdEntry // nil: free
	open   int        // entries in fds that are not nil
	max    int
	closed bool
}

// init opens the pre-opened fds: stdio, then the mounts, then the
// listeners.
func (t *fdTable) init(cfg Config) error {
	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	t.max = cfg.MaxOpenFiles
	if t.max <= 0 || t.max > maxFds {
		t.max = maxFds
	}
	t.fds = []*fdEntry{
		{kind: kindStdin, base: rightsStdio},
		{kind: kindWriter, w: stdout, base: rightsStdio},
		{kind: kindWriter, w: stderr, base: rightsStdio},
	}
	// Pre-opened fds count against the limit but are always given, as a
	// process inherits its descriptors whatever its RLIMIT_NOFILE: a
	// container with more mounts and ports than its limit opens nothing
	// more.
	t.open = len(t.fds)
	for n, m := range cfg.Mounts {
		if m.Root == nil {
			return fmt.Errorf("mount %s: no directory", m.GuestPath)
		}
		guest := m.GuestPath
		if guest == "" {
			guest = "/"
		}
		t.fds = append(t.fds, &fdEntry{
			kind: kindDir, root: m.Root, preopen: path.Clean(guest), readOnly: m.ReadOnly,
			mount: n + 1, quota: m.Quota,
			base: rightsDir, inheriting: rightsDir | rightsFile,
		})
		t.open++
	}
	for n, l := range cfg.Listeners {
		s, err := newListenerSocket(l.L)
		if err != nil {
			return fmt.Errorf("%w: listener %d (%q): %v", ErrListener, n, l.Name, err)
		}
		// Handed over non-blocking (the guest ABI).
		t.fds = append(t.fds, &fdEntry{
			kind: kindListener, sock: s, fdflags: fdflagNonblock,
			base: rightsSocket, inheriting: rightsSocket,
		})
		t.open++
	}
	return nil
}

// get returns the entry of fd, or EBADF.
func (t *fdTable) get(fd uint32) (*fdEntry, errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int64(fd) >= int64(len(t.fds)) || t.fds[fd] == nil {
		return nil, errnoBadf
	}
	return t.fds[fd], errnoSuccess
}

// insert gives e the lowest free fd; when the table is full (or closed), e
// is closed and the errno is EMFILE (EBADF).
func (t *fdTable) insert(e *fdEntry) (uint32, errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		e.close()
		return 0, errnoBadf
	}
	if t.open >= t.max {
		e.close()
		return 0, errnoMfile
	}
	t.open++
	for n, old := range t.fds {
		if old == nil {
			t.fds[n] = e
			return uint32(n), errnoSuccess
		}
	}
	t.fds = append(t.fds, e)
	return uint32(len(t.fds) - 1), errnoSuccess
}

// full reports whether insert would refuse an entry: a call that would
// take something from another party for it (a connection from a
// listener's queue) asks first, so that what it cannot keep stays where
// it was.
func (t *fdTable) full() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open >= t.max
}

// remove takes fd out of the table and returns its entry.
func (t *fdTable) remove(fd uint32) (*fdEntry, errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int64(fd) >= int64(len(t.fds)) || t.fds[fd] == nil {
		return nil, errnoBadf
	}
	e := t.fds[fd]
	t.fds[fd] = nil
	t.open--
	return e, errnoSuccess
}

// renumber moves from onto to, closing what to was.
func (t *fdTable) renumber(from, to uint32) errno {
	t.mu.Lock()
	n := uint32(len(t.fds))
	if from >= n || to >= n || t.fds[from] == nil || t.fds[to] == nil {
		t.mu.Unlock()
		return errnoBadf
	}
	if from == to {
		t.mu.Unlock()
		return errnoSuccess
	}
	old := t.fds[to]
	t.fds[to] = t.fds[from]
	t.fds[from] = nil
	t.open--
	t.mu.Unlock()
	old.close()
	return errnoSuccess
}

// closeAll closes every fd; the table refuses new ones afterwards.
func (t *fdTable) closeAll() {
	t.mu.Lock()
	fds := t.fds
	t.fds = nil
	t.open = 0
	t.closed = true
	t.mu.Unlock()
	for _, e := range fds {
		if e != nil {
			e.close()
		}
	}
}

// errnoOf is toErrno for the syscall errors of raw fds.
func errnoOf(err error) errno {
	if err == syscall.EWOULDBLOCK {
		return errnoAgain
	}
	return toErrno(err)
}

package wasi

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// The limits of a call. Every count and length a guest passes is checked
// before the layer allocates or loops on it: against the caps below, which
// are Linux's where Linux has one, and against the guest's own memory (what
// does not fit in it is EFAULT). So what the layer allocates for one call is
// bounded by the caps and by the size of the guest's memory, never by a
// number the guest chose: an iovec count of 0x7fffffff once made the layer
// ask Go for 51 GB, which ended the whole node with a fatal error that no
// recover catches.
const (
	// maxIovecs is Linux's IOV_MAX: readv and writev refuse more with
	// EINVAL.
	maxIovecs = 1024
	// maxIovecLen: Linux reads a 32-bit process's iov_len as a signed
	// size and refuses a negative one with EINVAL.
	maxIovecLen = 1<<31 - 1
	// maxTransfer is Linux's MAX_RW_COUNT on 4 KiB pages: one read or
	// write moves at most this much, a longer one is a short transfer. It
	// also keeps the count the guest is given within its 32-bit size.
	maxTransfer = 1<<31 - 4096
	// maxPathLen is Linux's PATH_MAX without the terminating NUL: a
	// longer path (or symbolic link target) is ENAMETOOLONG.
	maxPathLen = 4095
)

// iovecs reads an array of n {buf, len} pairs at ptr and returns views of
// the guest's memory (nothing is copied). The buffers are cut, as Linux
// cuts them, so that they add up to no more than maxTransfer.
func iovecs(mem api.Memory, ptr, n uint32) ([][]byte, errno) {
	if n > maxIovecs {
		return nil, errnoInval
	}
	raw, ok := mem.Read(ptr, 8*n) // at most 8 KiB: the product cannot wrap
	if !ok {
		return nil, errnoFault
	}
	bufs := make([][]byte, n)
	total := uint32(0)
	for k := range bufs {
		off := binary.LittleEndian.Uint32(raw[8*k:])
		l := binary.LittleEndian.Uint32(raw[8*k+4:])
		if l > maxIovecLen {
			return nil, errnoInval
		}
		l = min(l, maxTransfer-total)
		if l == 0 {
			continue // an empty buffer is never dereferenced, wherever it points
		}
		b, ok := mem.Read(off, l)
		if !ok {
			return nil, errnoFault
		}
		bufs[k] = b
		total += l
	}
	return bufs, errnoSuccess
}

func totalLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

func fdRead(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	bufs, en := iovecs(mem, u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if e.base&rightFdRead == 0 {
		return errnoNotcapable
	}
	var n int
	switch e.kind {
	case kindStdin:
		n, en = i.readStdin(e)
	case kindFile:
		n, en = readv(e.file, bufs)
	case kindConn:
		n, en = i.recv(e, bufs, 0)
	case kindDir:
		return errnoIsdir
	default:
		return errnoBadf
	}
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint32Le(u32(s[3]), uint32(n)) {
		return errnoFault
	}
	return errnoSuccess
}

// readStdin reads the guest's stdin: nothing ever comes through it but
// its end, which is SIGTERM.
func (i *Instance) readStdin(e *fdEntry) (int, errno) {
	select {
	case <-i.terminated.Done():
		return 0, errnoSuccess
	default:
	}
	if e.fdflags&fdflagNonblock != 0 {
		return 0, errnoAgain
	}
	select {
	case <-i.terminated.Done():
		return 0, errnoSuccess
	case <-i.kill:
		return 0, errnoIntr
	}
}

func readv(f *os.File, bufs [][]byte) (int, errno) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := f.Read(b)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			if total > 0 {
				break
			}
			return 0, toErrno(err)
		}
		if n < len(b) {
			break
		}
	}
	return total, errnoSuccess
}

func fdWrite(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	bufs, en := iovecs(mem, u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if e.base&rightFdWrite == 0 {
		return errnoNotcapable
	}
	n := 0
	switch e.kind {
	case kindWriter:
		if n, en = i.writeChunks(e.w, bufs); en != errnoSuccess {
			return en
		}
	case kindFile:
		if e.readOnly {
			return errnoRofs
		}
		if bufs, en = e.quota.beginWrite(e, bufs, -1); en != errnoSuccess {
			return en
		}
		defer e.quota.endWrite(&n)
		for _, b := range bufs {
			m, err := e.file.Write(b)
			n += m
			if err != nil {
				if n > 0 {
					break
				}
				return toErrno(err)
			}
		}
	case kindConn:
		n, en = i.send(e, bufs)
		if en != errnoSuccess {
			return en
		}
	case kindDir:
		return errnoIsdir
	default:
		return errnoBadf
	}
	if !mem.WriteUint32Le(u32(s[3]), uint32(n)) {
		return errnoFault
	}
	return errnoSuccess
}

// writerChunk is the most stdout's and stderr's writers are handed at once.
// A guest may write its whole memory in one call; the node's log writer
// copies what it is handed, and did so, for a long line, in time that grew
// with the square of the length (16 MiB: 2.4 s, a guest of 256 MiB: about
// ten minutes, in one call that Kill could not end). In chunks the cost is
// linear, and a kill ends the call between two of them.
const writerChunk = 64 << 10

// writeChunks writes bufs to w, a chunk at a time.
func (i *Instance) writeChunks(w io.Writer, bufs [][]byte) (int, errno) {
	n := 0
	for _, b := range bufs {
		for len(b) > 0 {
			if i.isKilled() {
				return n, errnoIntr
			}
			c := b[:min(len(b), writerChunk)]
			m, err := w.Write(c)
			n += m
			if err != nil {
				if n > 0 {
					return n, errnoSuccess
				}
				return 0, errnoIo
			}
			b = b[len(c):]
		}
	}
	return n, errnoSuccess
}

func fdPread(i *Instance, mem api.Memory, s []uint64) errno {
	e, bufs, off, en := i.positionalArgs(mem, s, rightFdRead)
	if en != errnoSuccess {
		return en
	}
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := e.file.ReadAt(b, off)
		total += n
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			if total > 0 {
				break
			}
			return toErrno(err)
		}
	}
	if !mem.WriteUint32Le(u32(s[4]), uint32(total)) {
		return errnoFault
	}
	return errnoSuccess
}

func fdPwrite(i *Instance, mem api.Memory, s []uint64) errno {
	e, bufs, off, en := i.positionalArgs(mem, s, rightFdWrite)
	if en != errnoSuccess {
		return en
	}
	// pwrite(2) rather than File.WriteAt, which refuses files opened for
	// appending; on Linux such a write appends, as the guest's libc expects.
	rc, err := e.file.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	total := 0
	if bufs, en = e.quota.beginWrite(e, bufs, off); en != errnoSuccess {
		return en
	}
	defer e.quota.endWrite(&total)
	var werr error
	rc.Write(func(fd uintptr) bool {
		for _, b := range bufs {
			for len(b) > 0 {
				n, err := syscall.Pwrite(int(fd), b, off)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				total += n
				off += int64(n)
				b = b[n:]
			}
		}
		return true
	})
	if werr != nil && total == 0 {
		return toErrno(werr)
	}
	if !mem.WriteUint32Le(u32(s[4]), uint32(total)) {
		return errnoFault
	}
	return errnoSuccess
}

func fdAdvise(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if advice := u32(s[3]); advice > 5 {
		return errnoInval
	}
	switch e.kind {
	case kindFile:
		return errnoSuccess // advice only; the layer takes none
	case kindDir:
		return errnoBadf
	}
	return errnoSpipe
}

func fdAllocate(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	switch e.kind {
	case kindFile:
	case kindDir:
		return errnoBadf
	default:
		return errnoSpipe
	}
	if e.readOnly {
		return errnoRofs
	}
	off, length := int64(s[1]), int64(s[2])
	if off < 0 || length <= 0 || off+length < 0 {
		return errnoInval
	}
	return e.quota.resize(e.file, off+length, true)
}

func fdClose(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.remove(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	e.close()
	return errnoSuccess
}

func fdDatasync(i *Instance, mem api.Memory, s []uint64) errno { return fdSyncOf(i, s, true) }
func fdSync(i *Instance, mem api.Memory, s []uint64) errno     { return fdSyncOf(i, s, false) }

func fdSyncOf(i *Instance, s []uint64, data bool) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	switch e.kind {
	case kindFile:
		return toErrno(e.file.Sync())
	case kindDir:
		f, en := e.dirFile()
		if en != errnoSuccess {
			return en
		}
		return toErrno(f.Sync())
	}
	return errnoInval
}

// dirFile is the directory itself as an open file, for reading and
// syncing it.
func (e *fdEntry) dirFile() (*os.File, errno) {
	e.fileMu.Lock()
	defer e.fileMu.Unlock()
	if e.closed {
		return nil, errnoBadf
	}
	if e.file == nil {
		f, err := e.root.Open(".")
		if err != nil {
			return nil, toErrno(err)
		}
		e.file = f
	}
	return e.file, errnoSuccess
}

func fdFdstatGet(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	p := u32(s[1])
	buf, ok := mem.Read(p, 24)
	if !ok {
		return errnoFault
	}
	clear(buf)
	buf[0] = e.filetype()
	mem.WriteUint16Le(p+2, e.fdflags)
	mem.WriteUint64Le(p+8, e.base)
	mem.WriteUint64Le(p+16, e.inheriting)
	return errnoSuccess
}

func fdFdstatSetFlags(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	flags := uint16(s[1])
	if flags&^(fdflagAppend|fdflagDsync|fdflagNonblock|fdflagRsync|fdflagSync) != 0 {
		return errnoInval
	}
	switch e.kind {
	case kindFile:
		if (flags^e.fdflags)&fdflagAppend != 0 {
			if err := fcntlSetAppend(e.file, flags&fdflagAppend != 0); err != nil {
				return toErrno(err)
			}
		}
		// The synchronous-write flags cannot be changed after open
		// (Linux ignores them in fcntl); they keep their open value.
		e.fdflags = e.fdflags&(fdflagDsync|fdflagRsync|fdflagSync) | flags&(fdflagAppend|fdflagNonblock)
	case kindStdin, kindWriter, kindConn, kindListener, kindDir:
		e.fdflags = flags & fdflagNonblock
	}
	return errnoSuccess
}

func fdFdstatSetRights(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	base, inheriting := s[1], s[2]
	if base&^e.base != 0 || inheriting&^e.inheriting != 0 {
		return errnoNotcapable
	}
	e.base, e.inheriting = base, inheriting
	return errnoSuccess
}

// writeFilestat writes a 64-byte filestat at p.
func writeFilestat(mem api.Memory, p uint32, fi os.FileInfo, filetype uint8) errno {
	buf, ok := mem.Read(p, 64)
	if !ok {
		return errnoFault
	}
	clear(buf)
	if fi == nil {
		buf[16] = filetype
		return errnoSuccess
	}
	dev, ino, nlink, atim, mtim, ctim := statOf(fi)
	mem.WriteUint64Le(p, dev)
	mem.WriteUint64Le(p+8, ino)
	buf[16] = fileTypeOf(fi.Mode())
	mem.WriteUint64Le(p+24, nlink)
	mem.WriteUint64Le(p+32, uint64(fi.Size()))
	mem.WriteUint64Le(p+40, uint64(atim))
	mem.WriteUint64Le(p+48, uint64(mtim))
	mem.WriteUint64Le(p+56, uint64(ctim))
	return errnoSuccess
}

func fileTypeOf(m os.FileMode) uint8 {
	switch {
	case m.IsRegular():
		return filetypeRegularFile
	case m.IsDir():
		return filetypeDirectory
	case m&os.ModeSymlink != 0:
		return filetypeSymlink
	case m&os.ModeSocket != 0:
		return filetypeSocketStream
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice != 0:
		return filetypeCharDevice
	case m&os.ModeDevice != 0:
		return 1 // block device
	}
	return filetypeUnknown
}

func fdFilestatGet(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	var fi os.FileInfo
	var err error
	switch e.kind {
	case kindFile:
		fi, err = e.file.Stat()
	case kindDir:
		fi, err = e.root.Stat(".")
	}
	if err != nil {
		return toErrno(err)
	}
	return writeFilestat(mem, u32(s[1]), fi, e.filetype())
}

func fdFilestatSetSize(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	switch e.kind {
	case kindFile:
	case kindDir:
		return errnoIsdir
	default:
		return errnoInval
	}
	if e.readOnly {
		return errnoRofs
	}
	if e.base&rightFdFilestatSetSize == 0 {
		return errnoNotcapable
	}
	size := int64(s[1])
	if size < 0 {
		return errnoInval
	}
	return e.quota.resize(e.file, size, false)
}

// fstflags of the set_times functions.
const (
	fstAtim    = 1
	fstAtimNow = 2
	fstMtim    = 4
	fstMtimNow = 8
)

// times decodes the times of a set_times call.
func times(atim, mtim uint64, flags uint16) (a, m *time.Time, aNow, mNow bool, en errno) {
	if flags&^(fstAtim|fstAtimNow|fstMtim|fstMtimNow) != 0 ||
		flags&(fstAtim|fstAtimNow) == fstAtim|fstAtimNow || flags&(fstMtim|fstMtimNow) == fstMtim|fstMtimNow {
		return nil, nil, false, false, errnoInval
	}
	if flags&fstAtim != 0 {
		t := time.Unix(0, int64(atim))
		a = &t
	}
	if flags&fstMtim != 0 {
		t := time.Unix(0, int64(mtim))
		m = &t
	}
	return a, m, flags&fstAtimNow != 0, flags&fstMtimNow != 0, errnoSuccess
}

func fdFilestatSetTimes(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	a, m, aNow, mNow, en := times(s[1], s[2], uint16(s[3]))
	if en != errnoSuccess {
		return en
	}
	var f *os.File
	switch e.kind {
	case kindFile:
		f = e.file
	case kindDir:
		if f, en = e.dirFile(); en != errnoSuccess {
			return en
		}
	default:
		return errnoBadf
	}
	if e.readOnly {
		return errnoRofs
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = utimensat(int(fd), "", a, m, aNow, mNow, 0) }); err != nil {
		return toErrno(err)
	}
	return toErrno(serr)
}

func fdPrestatGet(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.preopen == "" {
		return errnoBadf
	}
	// Both words are checked at once: p+4 wraps around for a p at the
	// very end of a 4 GiB memory.
	p := u32(s[1])
	if _, ok := mem.Read(p, 8); !ok {
		return errnoFault
	}
	mem.WriteUint32Le(p, 0)
	mem.WriteUint32Le(p+4, uint32(len(e.preopen)))
	return errnoSuccess
}

func fdPrestatDirName(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.preopen == "" {
		return errnoBadf
	}
	if u32(s[2]) < uint32(len(e.preopen)) {
		return errnoNametoolong
	}
	if !mem.WriteString(u32(s[1]), e.preopen) {
		return errnoFault
	}
	return errnoSuccess
}

func fdRenumber(i *Instance, mem api.Memory, s []uint64) errno {
	return i.fds.renumber(u32(s[0]), u32(s[1]))
}

// whence of fd_seek.
const (
	whenceSet = 0
	whenceCur = 1
	whenceEnd = 2
)

func fdSeek(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	off, whence := int64(s[1]), u32(s[2])
	if whence > whenceEnd {
		return errnoInval
	}
	var rights uint64 = rightFdSeek
	if whence == whenceCur && off == 0 {
		rights = rightFdTell | rightFdSeek
	}
	pos, en := seek(e, off, int(whence), rights)
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint64Le(u32(s[3]), uint64(pos)) {
		return errnoFault
	}
	return errnoSuccess
}

func seek(e *fdEntry, off int64, whence int, rights uint64) (int64, errno) {
	switch e.kind {
	case kindFile:
	case kindDir:
		return 0, errnoBadf
	default:
		return 0, errnoSpipe
	}
	if e.base&rights == 0 {
		return 0, errnoNotcapable
	}
	pos, err := e.file.Seek(off, whence)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Err == syscall.EINVAL {
			return 0, errnoInval
		}
		return 0, toErrno(err)
	}
	return pos, errnoSuccess
}

func fdTell(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	pos, en := seek(e, 0, whenceCur, rightFdTell|rightFdSeek)
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint64Le(u32(s[1]), uint64(pos)) {
		return errnoFault
	}
	return errnoSuccess
}

// positionalArgs checks the arguments fd_pread and fd_pwrite share (fd,
// iovs, iovs_len, offset): the fd is a regular file with the right, the
// offset is not negative, and a write does not go to a read-only mount.
func (i *Instance) positionalArgs(mem api.Memory, s []uint64, right uint64) (*fdEntry, [][]byte, int64, errno) {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return nil, nil, 0, en
	}
	bufs, en := iovecs(mem, u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return nil, nil, 0, en
	}
	switch e.kind {
	case kindFile:
	case kindDir:
		return nil, nil, 0, errnoIsdir
	case kindStdin, kindWriter, kindConn, kindListener:
		return nil, nil, 0, errnoSpipe
	}
	if e.base&right == 0 {
		return nil, nil, 0, errnoNotcapable
	}
	if right == rightFdWrite && e.readOnly {
		return nil, nil, 0, errnoRofs
	}
	// Linux refuses a negative offset, and one whose end (offset plus every
	// buffer) is past the largest, with EINVAL.
	off := int64(s[3])
	if off < 0 || off > math.MaxInt64-int64(totalLen(bufs)) {
		return nil, nil, 0, errnoInval
	}
	return e, bufs, off, errnoSuccess
}

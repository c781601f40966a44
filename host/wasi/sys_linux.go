package wasi

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// The *at system calls the syscall package does not offer with flags. The
// layer uses them with a directory fd opened through an os.Root and a
// single final path component, so that they never leave the root.

const (
	atFdcwd           = -100
	atSymlinkNofollow = 0x100
	atRemovedir       = 0x200
	atSymlinkFollow   = 0x400
	utimeNow          = (1 << 30) - 1
	utimeOmit         = (1 << 30) - 2
)

func unlinkat(dirfd int, name string, flags int) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall(syscall.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags))
	return errnoErr(e)
}

func linkat(olddirfd int, oldname string, newdirfd int, newname string, flags int) error {
	o, err := syscall.BytePtrFromString(oldname)
	if err != nil {
		return err
	}
	n, err := syscall.BytePtrFromString(newname)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(olddirfd), uintptr(unsafe.Pointer(o)),
		uintptr(newdirfd), uintptr(unsafe.Pointer(n)), uintptr(flags), 0)
	return errnoErr(e)
}

func symlinkat(target string, dirfd int, name string) error {
	t, err := syscall.BytePtrFromString(target)
	if err != nil {
		return err
	}
	n, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall(syscall.SYS_SYMLINKAT, uintptr(unsafe.Pointer(t)), uintptr(dirfd), uintptr(unsafe.Pointer(n)))
	return errnoErr(e)
}

// utimensat sets the times of name in dirfd, or of dirfd itself when name
// is "". A nil time is left unchanged; now asks for the current time.
func utimensat(dirfd int, name string, atim, mtim *time.Time, atimNow, mtimNow bool, flags int) error {
	ts := [2]syscall.Timespec{timespec(atim, atimNow), timespec(mtim, mtimNow)}
	var p *byte
	if name != "" {
		var err error
		if p, err = syscall.BytePtrFromString(name); err != nil {
			return err
		}
	}
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&ts[0])), uintptr(flags), 0, 0)
	return errnoErr(e)
}

func timespec(t *time.Time, now bool) syscall.Timespec {
	switch {
	case now:
		return syscall.Timespec{Nsec: utimeNow}
	case t == nil:
		return syscall.Timespec{Nsec: utimeOmit}
	}
	return syscall.NsecToTimespec(t.UnixNano())
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const (
	pollIn  = 0x1
	pollOut = 0x4
	pollErr = 0x8
	pollHup = 0x10
)

// pollNow reports, without waiting, which of fds are ready.
func pollNow(fds []pollFd) error {
	if len(fds) == 0 {
		return nil
	}
	var ts syscall.Timespec
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		return errnoErr(e)
	}
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// statOf reads the fields of a file's status that WASI reports.
func statOf(fi os.FileInfo) (dev, ino, nlink uint64, atim, mtim, ctim int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t := fi.ModTime().UnixNano()
		return 0, 0, 1, t, t, t
	}
	return uint64(st.Dev), st.Ino, uint64(st.Nlink), syscall.TimespecToNsec(st.Atim),
		syscall.TimespecToNsec(st.Mtim), syscall.TimespecToNsec(st.Ctim)
}

// fcntlSetAppend sets or clears O_APPEND on an open file.
func fcntlSetAppend(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if e != 0 {
			serr = e
			return
		}
		if on {
			fl |= syscall.O_APPEND
		} else {
			fl &^= syscall.O_APPEND
		}
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, fl); e != 0 {
			serr = e
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// accept4 accepts a connection on a listening socket without waiting.
func accept4(fd int) (int, error) {
	nfd, _, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	return nfd, err
}

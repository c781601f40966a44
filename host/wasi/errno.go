package wasi

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// errno is a WASI preview1 error number.
type errno = uint32

// WASI preview1 error numbers (the ones the layer returns).
const (
	errnoSuccess     errno = 0
	errno2big        errno = 1
	errnoAcces       errno = 2
	errnoAddrinuse   errno = 3
	errnoAgain       errno = 6
	errnoBadf        errno = 8
	errnoBusy        errno = 10
	errnoConnaborted errno = 13
	errnoConnrefused errno = 14
	errnoConnreset   errno = 15
	errnoExist       errno = 20
	errnoFault       errno = 21
	errnoFbig        errno = 22
	errnoIntr        errno = 27
	errnoInval       errno = 28
	errnoIo          errno = 29
	errnoIsdir       errno = 31
	errnoLoop        errno = 32
	errnoMfile       errno = 33
	errnoMlink       errno = 34
	errnoNametoolong errno = 37
	errnoNfile       errno = 41
	errnoNobufs      errno = 42
	errnoNoent       errno = 44
	errnoNomem       errno = 48
	errnoNospc       errno = 51
	errnoNosys       errno = 52
	errnoNotconn     errno = 53
	errnoNotdir      errno = 54
	errnoNotempty    errno = 55
	errnoNotsock     errno = 57
	errnoNotsup      errno = 58
	errnoNotty       errno = 59
	errnoOverflow    errno = 61
	errnoPerm        errno = 63
	errnoPipe        errno = 64
	errnoRange       errno = 68
	errnoRofs        errno = 69
	errnoSpipe       errno = 70
	errnoTimedout    errno = 73
	errnoXdev        errno = 75
	errnoNotcapable  errno = 76
)

// hostErrnos maps the host's error numbers to WASI's.
var hostErrnos = map[syscall.Errno]errno{
	syscall.E2BIG:        errno2big,
	syscall.EACCES:       errnoAcces,
	syscall.EADDRINUSE:   errnoAddrinuse,
	syscall.EAGAIN:       errnoAgain,
	syscall.EBADF:        errnoBadf,
	syscall.EBUSY:        errnoBusy,
	syscall.ECONNABORTED: errnoConnaborted,
	syscall.ECONNREFUSED: errnoConnrefused,
	syscall.ECONNRESET:   errnoConnreset,
	syscall.EEXIST:       errnoExist,
	syscall.EFAULT:       errnoFault,
	syscall.EFBIG:        errnoFbig,
	syscall.EINTR:        errnoIntr,
	syscall.EINVAL:       errnoInval,
	syscall.EIO:          errnoIo,
	syscall.EISDIR:       errnoIsdir,
	syscall.ELOOP:        errnoLoop,
	syscall.EMFILE:       errnoMfile,
	syscall.EMLINK:       errnoMlink,
	syscall.ENAMETOOLONG: errnoNametoolong,
	syscall.ENFILE:       errnoNfile,
	syscall.ENOBUFS:      errnoNobufs,
	syscall.ENOENT:       errnoNoent,
	syscall.ENOMEM:       errnoNomem,
	syscall.ENOSPC:       errnoNospc,
	syscall.ENOSYS:       errnoNosys,
	syscall.ENOTCONN:     errnoNotconn,
	syscall.ENOTDIR:      errnoNotdir,
	syscall.ENOTEMPTY:    errnoNotempty,
	syscall.ENOTSOCK:     errnoNotsock,
	syscall.ENOTSUP:      errnoNotsup,
	syscall.ENOTTY:       errnoNotty,
	syscall.EOVERFLOW:    errnoOverflow,
	syscall.EPERM:        errnoPerm,
	syscall.EPIPE:        errnoPipe,
	syscall.ERANGE:       errnoRange,
	syscall.EROFS:        errnoRofs,
	syscall.ESPIPE:       errnoSpipe,
	syscall.ETIMEDOUT:    errnoTimedout,
	syscall.EXDEV:        errnoXdev,
}

// toErrno is the WASI error number of a host error. An error that carries
// no error number is a refusal of os.Root (a path that would leave the
// directory, an absolute symbolic link): ENOTCAPABLE, WASI's word for an
// operation outside the guest's capabilities.
func toErrno(err error) errno {
	if err == nil {
		return errnoSuccess
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		if e, ok := hostErrnos[en]; ok {
			return e
		}
		return errnoIo
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errnoAgain
	case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed):
		return errnoBadf
	case errors.Is(err, fs.ErrNotExist):
		return errnoNoent
	case errors.Is(err, fs.ErrExist):
		return errnoExist
	case errors.Is(err, fs.ErrPermission):
		return errnoPerm
	case errors.Is(err, fs.ErrInvalid):
		return errnoInval
	}
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return errnoNotcapable
	}
	return errnoIo
}

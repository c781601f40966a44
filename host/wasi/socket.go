package wasi

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Sockets. Every socket of a guest is a Go network object registered with
// the netpoller, used through its syscall.RawConn: a guest's non-blocking
// call is one system call, a blocking one waits on the netpoller (no OS
// thread held), and closing the object ends every wait on it. That is how
// Kill stops a guest blocked in accept, recv or send.

// socket is a listener or a connection.
type socket struct {
	listener bool
	closer   interface{ Close() error }
	rc       syscall.RawConn
	// setDeadline sets the deadline of waits for reading (accepting) or
	// writing; poll_oneoff uses it to end the waits it started.
	setReadDeadline  func(time.Time) error
	setWriteDeadline func(time.Time) error
	closeOnce        sync.Once
	closeErr         error
}

type fileListener interface {
	net.Listener
	File() (*os.File, error)
}

// newListenerSocket wraps a listener. Go's RawConn of a listener offers no
// Read to wait with, so the socket is also opened as a connection (a
// duplicate of its descriptor, registered with the netpoller): waiting
// for it to be readable is waiting for a connection to accept, and
// accept(2) on it takes one from the same queue.
func newListenerSocket(l net.Listener) (*socket, error) {
	fl, ok := l.(fileListener)
	if !ok {
		return nil, errors.New("not a listener of the operating system")
	}
	f, err := fl.File()
	if err != nil {
		return nil, err
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	s, err := newConnSocket(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	s.listener = true
	s.closer = closers{c, l}
	s.setWriteDeadline = func(time.Time) error { return nil }
	return s, nil
}

// closers closes each of its elements.
type closers []interface{ Close() error }

func (cs closers) Close() error {
	var err error
	for _, c := range cs {
		if e := c.Close(); err == nil {
			err = e
		}
	}
	return err
}

// pollable is what a socket needs of a Go object registered with the
// netpoller: a *net.TCPConn, or the *os.File of a non-blocking socket.
type pollable interface {
	SyscallConn() (syscall.RawConn, error)
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
}

func newConnSocket(c any) (*socket, error) {
	p, ok := c.(pollable)
	if !ok {
		return nil, errors.New("not a connection of the operating system")
	}
	rc, err := p.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &socket{
		closer: p, rc: rc,
		setReadDeadline:  p.SetReadDeadline,
		setWriteDeadline: p.SetWriteDeadline,
	}, nil
}

func (s *socket) close() error {
	s.closeOnce.Do(func() { s.closeErr = s.closer.Close() })
	return s.closeErr
}

// accept takes one pending connection; blocking waits for one. The
// connection is the *os.File of the accepted descriptor, which is
// non-blocking and so registered with the netpoller: a net.Conn would cost
// a duplicate of the descriptor and the system calls that name its ends,
// on every connection.
func (s *socket) accept(blocking bool) (*os.File, error) {
	var nfd int
	var aerr error
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			nfd, aerr = accept4(int(fd))
			if aerr != syscall.EINTR && aerr != syscall.ECONNABORTED {
				break
			}
		}
		return !blocking || aerr != syscall.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return os.NewFile(uintptr(nfd), "conn"), nil
}

// sock_accept's flags: only fdflags' nonblock.
func sockAccept(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.sock == nil {
		return errnoNotsock
	}
	if !e.sock.listener {
		return errnoInval
	}
	flags := uint16(s[1])
	if flags&^fdflagNonblock != 0 {
		return errnoInval
	}
	// At the limit the connection stays in the listener's queue, as with
	// accept(2) at RLIMIT_NOFILE, rather than being taken and dropped.
	if i.fds.full() {
		return errnoMfile
	}
	c, err := e.sock.accept(e.fdflags&fdflagNonblock == 0)
	if err != nil {
		return errnoOf(err)
	}
	cs, err := newConnSocket(c)
	if err != nil {
		c.Close()
		return errnoIo
	}
	ne := &fdEntry{kind: kindConn, sock: cs, fdflags: flags, base: rightsSocket &^ rightSockAccept, inheriting: 0}
	return i.store(mem, ne, u32(s[2]))
}

// recv flags.
const (
	riflagRecvPeek    = 1
	riflagRecvWaitall = 2
)

// recv reads from a connection into bufs.
func (i *Instance) recv(e *fdEntry, bufs [][]byte, flags uint16) (int, errno) {
	if e.sock == nil || e.sock.listener {
		return 0, errnoNotconn
	}
	blocking := e.fdflags&fdflagNonblock == 0
	total := 0
	var rerr error
	err := e.sock.rc.Read(func(fd uintptr) bool {
		for _, b := range bufs {
			if len(b) == 0 {
				continue
			}
			var n int
			var err error
			for {
				if flags&riflagRecvPeek != 0 {
					n, _, err = syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK)
				} else {
					n, err = syscall.Read(int(fd), b)
				}
				if err != syscall.EINTR {
					break
				}
			}
			if err != nil {
				rerr = err
				break
			}
			total += n
			if n < len(b) || flags&riflagRecvPeek != 0 {
				break
			}
		}
		if total > 0 {
			rerr = nil
		}
		return !blocking || rerr != syscall.EAGAIN
	})
	if err != nil {
		return 0, errnoOf(err)
	}
	if rerr != nil {
		return 0, errnoOf(rerr)
	}
	return total, errnoSuccess
}

// send writes bufs to a connection: what fits without waiting when the fd
// is non-blocking, all of it otherwise.
func (i *Instance) send(e *fdEntry, bufs [][]byte) (int, errno) {
	if e.sock == nil || e.sock.listener {
		return 0, errnoNotconn
	}
	blocking := e.fdflags&fdflagNonblock == 0
	total := 0
	var werr error
	k := 0
	err := e.sock.rc.Write(func(fd uintptr) bool {
		for k < len(bufs) {
			b := bufs[k]
			if len(b) == 0 {
				k++
				continue
			}
			n, err := syscall.Write(int(fd), b)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				if err == syscall.EAGAIN && blocking {
					return false
				}
				return true
			}
			total += n
			bufs[k] = b[n:]
		}
		werr = nil
		return true
	})
	if total > 0 {
		return total, errnoSuccess
	}
	if err != nil {
		return 0, errnoOf(err)
	}
	if werr != nil {
		return 0, errnoOf(werr)
	}
	return total, errnoSuccess
}

func sockRecv(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.sock == nil {
		return errnoNotsock
	}
	bufs, en := iovecs(mem, u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	flags := uint16(s[3])
	if flags&^(riflagRecvPeek|riflagRecvWaitall) != 0 {
		return errnoInval
	}
	n, en := i.recv(e, bufs, flags)
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint32Le(u32(s[4]), uint32(n)) || !mem.WriteUint16Le(u32(s[5]), 0) {
		return errnoFault
	}
	return errnoSuccess
}

func sockSend(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.sock == nil {
		return errnoNotsock
	}
	bufs, en := iovecs(mem, u32(s[1]), u32(s[2]))
	if en != errnoSuccess {
		return en
	}
	if u32(s[3]) != 0 {
		return errnoInval
	}
	n, en := i.send(e, bufs)
	if en != errnoSuccess {
		return en
	}
	if !mem.WriteUint32Le(u32(s[4]), uint32(n)) {
		return errnoFault
	}
	return errnoSuccess
}

// sdflags of sock_shutdown.
const (
	sdflagRd = 1
	sdflagWr = 2
)

func sockShutdown(i *Instance, mem api.Memory, s []uint64) errno {
	e, en := i.fds.get(u32(s[0]))
	if en != errnoSuccess {
		return en
	}
	if e.sock == nil {
		return errnoNotsock
	}
	var how int
	switch u32(s[1]) {
	case sdflagRd:
		how = syscall.SHUT_RD
	case sdflagWr:
		how = syscall.SHUT_WR
	case sdflagRd | sdflagWr:
		how = syscall.SHUT_RDWR
	default:
		return errnoInval
	}
	if e.sock.listener {
		return errnoNotconn
	}
	var serr error
	if err := e.sock.rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), how) }); err != nil {
		return errnoOf(err)
	}
	return errnoOf(serr)
}

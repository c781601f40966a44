// Package guest is what a Go pod module imports to use wasmlet's guest ABI
// (docs/guest-abi.md): the listeners the node bound for the container's
// declared ports, and a channel closed when the container gets SIGTERM.
//
// Build guests with GOOS=wasip1 GOARCH=wasm. The package also builds for
// native targets, where it reads the same variables (systemd's socket
// activation uses them too) and finds no listeners when they are unset, so
// code that imports it can be unit-tested natively.
//
// The package never binds a socket itself: a guest that finds no listener
// decides what to do (the examples listen on their own, for running outside
// a node).
package guest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNoListener is returned by Listener when no listener of that name was
// handed over by the node.
var ErrNoListener = errors.New("guest: no pre-opened listener")

// NamedListener is one pre-opened listener: the port's name from the pod
// spec (LISTEN_FDNAMES; "unknown" for an unnamed port) and its fd.
type NamedListener struct {
	net.Listener
	Name string
	FD   int

	// file keeps the *os.File reachable: on wasip1 the listener shares its
	// descriptor, which the file's finalizer would otherwise close.
	file *os.File
}

// Socket is a listener's place as the environment describes it, before it is
// opened.
type Socket struct {
	FD   int
	Name string
}

// ParseListenEnv reads LISTEN_FDS, LISTEN_FDNAMES and LISTEN_FDS_START
// through getenv. No LISTEN_FDS means no sockets. LISTEN_FDS_START defaults
// to 3 (systemd's SD_LISTEN_FDS_START); missing names are "unknown".
func ParseListenEnv(getenv func(string) string) ([]Socket, error) {
	countText := strings.TrimSpace(getenv("LISTEN_FDS"))
	if countText == "" {
		return nil, nil
	}
	count, err := strconv.Atoi(countText)
	if err != nil || count < 0 {
		return nil, fmt.Errorf("guest: LISTEN_FDS=%q: not a count of file descriptors", countText)
	}
	if count > 1<<16 {
		return nil, fmt.Errorf("guest: LISTEN_FDS=%d: too many file descriptors", count)
	}
	start := 3
	if text := strings.TrimSpace(getenv("LISTEN_FDS_START")); text != "" {
		start, err = strconv.Atoi(text)
		if err != nil || start < 0 || start > 1<<20 {
			return nil, fmt.Errorf("guest: LISTEN_FDS_START=%q: not a file descriptor number", text)
		}
	}
	var names []string
	if text := getenv("LISTEN_FDNAMES"); text != "" {
		names = strings.Split(text, ":")
	}
	if len(names) > count {
		return nil, fmt.Errorf("guest: LISTEN_FDNAMES has %d names for LISTEN_FDS=%d", len(names), count)
	}
	sockets := make([]Socket, count)
	for i := range sockets {
		name := "unknown"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		sockets[i] = Socket{FD: start + i, Name: name}
	}
	return sockets, nil
}

var listeners struct {
	once sync.Once
	list []NamedListener
	err  error
}

// Listeners returns the pre-opened listeners in the order the container's
// ports are declared. They are opened once; later calls return the same
// listeners. With no LISTEN_FDS in the environment it returns none.
func Listeners() ([]NamedListener, error) {
	listeners.once.Do(func() {
		listeners.list, listeners.err = open(os.Getenv)
	})
	return listeners.list, listeners.err
}

func open(getenv func(string) string) ([]NamedListener, error) {
	sockets, err := ParseListenEnv(getenv)
	if err != nil {
		return nil, err
	}
	var list []NamedListener
	for _, s := range sockets {
		// The node hands listeners over non-blocking already; other hosts
		// (wazero's own WASI among them) may not, and on wasip1 a blocking
		// accept stops every goroutine. os.NewFile only makes a descriptor
		// pollable if it is non-blocking when it is wrapped. A host that
		// cannot change the flag is left to its own choice.
		syscall.SetNonblock(s.FD, true)
		f := os.NewFile(uintptr(s.FD), s.Name)
		if f == nil {
			return list, fmt.Errorf("guest: listener %q: fd %d is not valid", s.Name, s.FD)
		}
		l, err := net.FileListener(f)
		if err != nil {
			return list, fmt.Errorf("guest: listener %q (fd %d): %w", s.Name, s.FD, err)
		}
		list = append(list, NamedListener{Listener: l, Name: s.Name, FD: s.FD, file: f})
	}
	return list, nil
}

// Listener returns the pre-opened listener whose port is named name. A
// container that declares a single port need not name it: when no name
// matches and there is exactly one listener, that one is returned. It
// returns an error wrapping ErrNoListener when there is none to return.
func Listener(name string) (net.Listener, error) {
	list, err := Listeners()
	if err != nil {
		return nil, err
	}
	return pick(list, name)
}

func pick(list []NamedListener, name string) (net.Listener, error) {
	for i := range list {
		if list[i].Name == name {
			return &list[i], nil
		}
	}
	if len(list) == 1 {
		return &list[0], nil
	}
	return nil, fmt.Errorf("%w named %q (have %d)", ErrNoListener, name, len(list))
}

// ListenerOr returns the pre-opened listener named name, or, when the node
// handed over none at all, a listener of its own on addr (for running the
// guest outside a node).
func ListenerOr(name, addr string) (net.Listener, error) {
	l, err := Listener(name)
	if errors.Is(err, ErrNoListener) {
		if list, _ := Listeners(); len(list) == 0 {
			return net.Listen("tcp", addr)
		}
	}
	return l, err
}

var stop struct {
	once sync.Once
	ch   chan struct{}
}

// Stop returns a channel that is closed when the container gets SIGTERM:
// stdin reaching end-of-file (or failing). The first call starts reading
// stdin; whatever is read before EOF is discarded. A guest that never calls
// Stop never reads stdin, and so ignores SIGTERM.
func Stop() <-chan struct{} {
	stop.once.Do(func() {
		stop.ch = make(chan struct{})
		go func() {
			defer close(stop.ch)
			io.Copy(io.Discard, os.Stdin)
		}()
	})
	return stop.ch
}

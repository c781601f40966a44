package wasi

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sub describes one subscription of a poll_oneoff call.
type sub struct {
	userdata uint64
	tag      uint8
	fd       uint32
	timeout  time.Duration
}

// poll calls poll_oneoff and returns the userdata and errno of each event.
func (g *guest) poll(subs ...sub) (map[uint64]errno, errno) {
	g.t.Helper()
	mem := g.mod.Memory()
	in := g.alloc(uint32(len(subs)) * subscriptionSize)
	out := g.alloc(uint32(len(subs)) * eventSize)
	n := g.alloc(4)
	for k, s := range subs {
		p := in + uint32(k)*subscriptionSize
		b, _ := mem.Read(p, subscriptionSize)
		clear(b)
		mem.WriteUint64Le(p, s.userdata)
		mem.WriteByte(p+8, s.tag)
		if s.tag == eventClock {
			mem.WriteUint32Le(p+16, clockMonotonic)
			mem.WriteUint64Le(p+24, uint64(s.timeout))
		} else {
			mem.WriteUint32Le(p+16, s.fd)
		}
	}
	e := g.errno("poll_oneoff", uint64(in), uint64(out), uint64(len(subs)), uint64(n))
	got := map[uint64]errno{}
	for k := uint32(0); k < g.u32(n); k++ {
		ud, _ := mem.ReadUint64Le(out + k*eventSize)
		en, _ := mem.ReadUint16Le(out + k*eventSize + 8)
		got[ud] = errno(en)
	}
	return got, e
}

func TestSockets(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	g := newGuest(t, Config{Listeners: []Listener{{Name: "http", L: l}}, Env: []string{"A=1", "LISTEN_FDS=9"}})
	const lfd = 3

	if want := []string{"A=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=http", "LISTEN_FDS_START=3"}; !equal(g.inst.env, want) {
		t.Errorf("env = %q, want %q", g.inst.env, want)
	}
	out := g.alloc(4)
	if e := g.errno("sock_accept", lfd, 0, uint64(out)); e != errnoAgain {
		t.Fatalf("sock_accept with nothing pending = %d, want EAGAIN", e)
	}
	// Nothing pending: the poll times out, on the clock alone.
	start := time.Now()
	got, e := g.poll(sub{userdata: 1, tag: eventFdRead, fd: lfd}, sub{userdata: 2, tag: eventClock, timeout: 30 * time.Millisecond})
	if e != errnoSuccess || len(got) != 1 || got[2] != errnoSuccess {
		t.Fatalf("poll = %v, %d; want the clock only", got, e)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("poll returned after %s, before its timeout", d)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, _ = g.poll(sub{userdata: 1, tag: eventFdRead, fd: lfd}, sub{userdata: 2, tag: eventClock, timeout: time.Minute})
	if _, ok := got[1]; !ok || len(got) != 1 {
		t.Fatalf("poll with a pending connection = %v, want the listener", got)
	}
	if e := g.errno("sock_accept", lfd, fdflagNonblock, uint64(out)); e != errnoSuccess {
		t.Fatalf("sock_accept = %d", e)
	}
	cfd := uint64(g.u32(out))

	n := g.alloc(4)
	flags := g.alloc(4)
	iov, buf := g.iov("", 16)
	if e := g.errno("sock_recv", cfd, iov, 1, 0, uint64(n), uint64(flags)); e != errnoAgain {
		t.Fatalf("sock_recv with no data = %d, want EAGAIN", e)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("ping"))
	}()
	got, _ = g.poll(sub{userdata: 7, tag: eventFdRead, fd: uint32(cfd)}, sub{userdata: 2, tag: eventClock, timeout: time.Minute})
	if _, ok := got[7]; !ok {
		t.Fatalf("poll for data = %v", got)
	}
	if e := g.errno("sock_recv", cfd, iov, 1, 0, uint64(n), uint64(flags)); e != errnoSuccess {
		t.Fatalf("sock_recv = %d", e)
	}
	if b, _ := g.mod.Memory().Read(buf, g.u32(n)); string(b) != "ping" {
		t.Errorf("received %q", b)
	}
	wiov, _ := g.iov("pong", 4)
	if e := g.errno("fd_write", cfd, wiov, 1, uint64(n)); e != errnoSuccess || g.u32(n) != 4 {
		t.Fatalf("fd_write on the connection = %d (%d bytes)", e, g.u32(n))
	}
	reply := make([]byte, 4)
	if _, err := io.ReadFull(c, reply); err != nil || string(reply) != "pong" {
		t.Errorf("client read %q, %v", reply, err)
	}
	if e := g.errno("sock_shutdown", cfd, sdflagWr); e != errnoSuccess {
		t.Errorf("sock_shutdown = %d", e)
	}
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Errorf("after shutdown the client read %q, %v", b, err)
	}
	if e := g.errno("sock_shutdown", 1, sdflagWr); e != errnoNotsock {
		t.Errorf("sock_shutdown of stdout = %d, want ENOTSOCK", e)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// TestKillEndsBlockingCalls kills a guest blocked in each kind of call: the
// call ends at once, every fd is closed (the port can be bound again) and no
// goroutine is left.
func TestKillEndsBlockingCalls(t *testing.T) {
	tests := []struct {
		name string
		// block makes the blocking call; it gets the guest with a listener
		// at fd 3 and a connection to it.
		block func(g *guest, cfd uint64) error
	}{
		{"sleep", func(g *guest, _ uint64) error {
			_, err := g.callPoll(sub{userdata: 1, tag: eventClock, timeout: time.Hour})
			return err
		}},
		{"poll", func(g *guest, cfd uint64) error {
			// The listener has a connection pending: wait on the
			// accepted connection, stdin and a clock.
			_, err := g.callPoll(sub{userdata: 2, tag: eventFdRead, fd: uint32(cfd)},
				sub{userdata: 3, tag: eventFdRead, fd: 0}, sub{userdata: 4, tag: eventClock, timeout: time.Hour})
			return err
		}},
		{"accept", func(g *guest, _ uint64) error {
			g.errno("fd_fdstat_set_flags", 3, 0)
			// Take the pending connection first: the next accept blocks.
			g.errno("sock_accept", 3, 0, uint64(g.alloc(4)))
			_, err := g.call("sock_accept", 3, 0, uint64(g.alloc(4)))
			return err
		}},
		{"recv", func(g *guest, cfd uint64) error {
			g.errno("fd_fdstat_set_flags", cfd, 0)
			iov, _ := g.iov("", 16)
			_, err := g.call("sock_recv", cfd, iov, 1, 0, uint64(g.alloc(4)), uint64(g.alloc(4)))
			return err
		}},
		{"read", func(g *guest, cfd uint64) error {
			g.errno("fd_fdstat_set_flags", cfd, 0)
			iov, _ := g.iov("", 16)
			_, err := g.call("fd_read", cfd, iov, 1, uint64(g.alloc(4)))
			return err
		}},
		{"stdin", func(g *guest, _ uint64) error {
			iov, _ := g.iov("", 16)
			_, err := g.call("fd_read", 0, iov, 1, uint64(g.alloc(4)))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			l := listen(t)
			addr := l.Addr().String()
			g := newGuest(t, Config{Listeners: []Listener{{L: l}}})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			out := g.alloc(4)
			if e := g.errno("sock_accept", 3, fdflagNonblock, uint64(out)); e != errnoSuccess {
				t.Fatalf("sock_accept = %d", e)
			}
			c2, err := net.Dial("tcp", addr) // pending, for the accept case
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			time.Sleep(5 * time.Millisecond)

			ended := make(chan error, 1)
			var endedAt time.Time
			go func() {
				err := tt.block(g, uint64(g.u32(out)))
				endedAt = time.Now()
				ended <- err
			}()
			time.Sleep(50 * time.Millisecond)
			select {
			case err := <-ended:
				t.Fatalf("the call did not block: %v", err)
			default:
			}
			killedAt := time.Now()
			g.inst.Kill()
			var err2 error
			select {
			case err2 = <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the call did not end after Kill")
			}
			if d := endedAt.Sub(killedAt); d > 100*time.Millisecond {
				t.Errorf("the call ended %s after Kill", d)
			} else {
				t.Logf("the call ended %s after Kill", d)
			}
			var exit *sys.ExitError
			if !asExit(err2, &exit) || exit.ExitCode() != ExitCodeKilled {
				t.Errorf("the call ended with %v, want exit code 137", err2)
			}
			l2, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("the port is still bound after Kill: %v", err)
			} else {
				l2.Close()
			}
			c.Close()
			c2.Close()
			waitGoroutines(t, before)
		})
	}
}

func (g *guest) callPoll(subs ...sub) (errno, error) {
	mem := g.mod.Memory()
	in := g.alloc(uint32(len(subs)) * subscriptionSize)
	out := g.alloc(uint32(len(subs)) * eventSize)
	n := g.alloc(4)
	for k, s := range subs {
		p := in + uint32(k)*subscriptionSize
		mem.WriteUint64Le(p, s.userdata)
		mem.WriteByte(p+8, s.tag)
		if s.tag == eventClock {
			mem.WriteUint32Le(p+16, clockMonotonic)
			mem.WriteUint64Le(p+24, uint64(s.timeout))
		} else {
			mem.WriteUint32Le(p+16, s.fd)
		}
	}
	return g.call("poll_oneoff", uint64(in), uint64(out), uint64(len(subs)), uint64(n))
}

func asExit(err error, target **sys.ExitError) bool {
	e, ok := err.(*sys.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// waitGoroutines waits until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

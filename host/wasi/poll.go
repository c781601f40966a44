package wasi

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// poll_oneoff waits for real readiness: a socket when the netpoller says
// so, stdin when SIGTERM closed it, a clock when its timer fires. Files and
// the log writers are always ready. A wait holds no OS thread: it parks on
// the netpoller through RawConn.Read or Write of each socket, with a
// callback that reports readiness without consuming anything, and whatever
// ends it moves the sockets' deadlines into the past (waitReady).

// Subscription and event tags.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2

	subclockAbstime = 1
	eventHangup     = 1

	subscriptionSize = 48
	eventSize        = 32

	// maxSubscriptions: one subscription for reading and one for writing
	// each fd a table can hold, and a clock. Linux's poll refuses more fds
	// than the process may open with EINVAL; so does poll_oneoff. Within it
	// a call allocates about 100 bytes a subscription, and waits once for
	// each distinct socket however many subscriptions name it.
	maxSubscriptions = 2<<16 + 1
)

type subscription struct {
	userdata uint64
	tag      uint8
	// clock
	timeout time.Duration // from the start of the call
	// fd_read, fd_write
	entry *fdEntry
	err   errno
}

type event struct {
	userdata uint64
	err      errno
	tag      uint8
	nbytes   uint64
	flags    uint16
}

func pollOneoff(i *Instance, mem api.Memory, s []uint64) errno {
	in, out, n, neventsPtr := u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])
	// The count is bounded before it is multiplied: unchecked, 1<<28
	// subscriptions wrapped both array sizes to 0, which the memory
	// accepted, and the layer then asked Go for 10 GiB.
	if n == 0 || n > maxSubscriptions {
		return errnoInval
	}
	raw, ok := mem.Read(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	if _, ok := mem.Read(out, n*eventSize); !ok {
		return errnoFault
	}
	subs := make([]subscription, n)
	for k := range subs {
		subs[k] = i.parseSubscription(raw[k*subscriptionSize : (k+1)*subscriptionSize])
	}
	start := i.clock.Now()
	events := i.readyEvents(subs, 0)
	if len(events) == 0 {
		if en := i.waitReady(subs); en != errnoSuccess {
			return en
		}
		events = i.readyEvents(subs, i.clock.Since(start))
	}
	for k, ev := range events {
		p := out + uint32(k)*eventSize
		b, _ := mem.Read(p, eventSize)
		clear(b)
		mem.WriteUint64Le(p, ev.userdata)
		mem.WriteUint16Le(p+8, uint16(ev.err))
		mem.WriteByte(p+10, ev.tag)
		if ev.tag != eventClock {
			mem.WriteUint64Le(p+16, ev.nbytes)
			mem.WriteUint16Le(p+24, ev.flags)
		}
	}
	if !mem.WriteUint32Le(neventsPtr, uint32(len(events))) {
		return errnoFault
	}
	return errnoSuccess
}

func le64(b []byte) uint64 {
	var v uint64
	for k := 7; k >= 0; k-- {
		v = v<<8 | uint64(b[k])
	}
	return v
}

func (i *Instance) parseSubscription(b []byte) subscription {
	sub := subscription{userdata: le64(b[0:]), tag: b[8]}
	switch sub.tag {
	case eventClock:
		id := uint32(le64(b[16:]))
		timeout := le64(b[24:])
		flags := uint16(b[40]) | uint16(b[41])<<8
		if flags&subclockAbstime == 0 {
			sub.timeout = durationOf(timeout)
			break
		}
		now, en := i.now(id)
		if en != errnoSuccess {
			sub.err = en
			break
		}
		if timeout > now {
			sub.timeout = durationOf(timeout - now)
		}
	case eventFdRead, eventFdWrite:
		e, en := i.fds.get(uint32(le64(b[16:])))
		if en != errnoSuccess {
			sub.err = en
			break
		}
		sub.entry = e
	default:
		sub.err = errnoInval
	}
	return sub
}

func durationOf(ns uint64) time.Duration {
	if ns > uint64(1<<63-1) {
		return 1<<63 - 1
	}
	return time.Duration(ns)
}

// readyEvents lists the subscriptions ready now, elapsed after the start of
// the call.
func (i *Instance) readyEvents(subs []subscription, elapsed time.Duration) []event {
	var events []event
	var socks []pollFd
	var sockSubs []int
	for k := range subs {
		sub := &subs[k]
		if sub.err != errnoSuccess {
			events = append(events, event{userdata: sub.userdata, err: sub.err, tag: sub.tag})
			continue
		}
		switch sub.tag {
		case eventClock:
			if sub.timeout <= elapsed {
				events = append(events, event{userdata: sub.userdata, tag: eventClock})
			}
			continue
		}
		e := sub.entry
		switch e.kind {
		case kindStdin:
			if sub.tag == eventFdWrite {
				events = append(events, event{userdata: sub.userdata, err: errnoBadf, tag: sub.tag})
				continue
			}
			select {
			case <-i.terminated.Done():
				events = append(events, event{userdata: sub.userdata, tag: sub.tag, flags: eventHangup})
			default:
			}
		case kindListener, kindConn:
			ev := int16(pollIn)
			if sub.tag == eventFdWrite {
				ev = pollOut
			}
			fd := -1
			e.sock.rc.Control(func(f uintptr) { fd = int(f) })
			if fd < 0 {
				events = append(events, event{userdata: sub.userdata, err: errnoBadf, tag: sub.tag})
				continue
			}
			socks = append(socks, pollFd{fd: int32(fd), events: ev})
			sockSubs = append(sockSubs, k)
		case kindDir:
			events = append(events, event{userdata: sub.userdata, err: errnoBadf, tag: sub.tag})
		default:
			// Files and writers never make a reader or writer wait.
			events = append(events, event{userdata: sub.userdata, tag: sub.tag, nbytes: fileRemaining(e, sub.tag)})
		}
	}
	if len(socks) > 0 {
		if err := pollNow(socks); err != nil {
			for _, k := range sockSubs {
				events = append(events, event{userdata: subs[k].userdata, err: errnoOf(err), tag: subs[k].tag})
			}
			return events
		}
		for n, p := range socks {
			if p.revents == 0 {
				continue
			}
			ev := event{userdata: subs[sockSubs[n]].userdata, tag: subs[sockSubs[n]].tag}
			if p.revents&pollHup != 0 {
				ev.flags = eventHangup
			}
			events = append(events, ev)
		}
	}
	return events
}

// fileRemaining is the nbytes of a file's read event: what is left to read.
func fileRemaining(e *fdEntry, tag uint8) uint64 {
	if e.kind != kindFile || tag != eventFdRead {
		return 0
	}
	fi, err := e.file.Stat()
	if err != nil {
		return 0
	}
	pos, err := e.file.Seek(0, 1)
	if err != nil || pos >= fi.Size() {
		return 0
	}
	return uint64(fi.Size() - pos)
}

// waitReady waits until one of subs may be ready, or the instance is
// killed (EINTR, which the caller turns into the exit).
//
// With sockets among subs, the wait is the sockets' own: the calling
// goroutine parks on the netpoller for the first socket, one goroutine for
// each other socket, and whatever should end the wait (another socket
// ready, the clock, SIGTERM on stdin) moves every socket's deadlines into
// the past. Kill closes the sockets, which ends their waits too. The common
// wait of a web server, its listener and stdin, thus starts no goroutine
// and ends with no hand-over between goroutines.
func (i *Instance) waitReady(subs []subscription) errno {
	type sockWait struct {
		s     *socket
		write bool
	}
	var (
		socks    []sockWait
		seen     map[sockWait]bool // once there are two
		stdin    bool
		earliest = time.Duration(-1)
	)
	for k := range subs {
		sub := &subs[k]
		if sub.err != errnoSuccess {
			continue
		}
		if sub.tag == eventClock {
			if earliest < 0 || sub.timeout < earliest {
				earliest = sub.timeout
			}
			continue
		}
		switch sub.entry.kind {
		case kindStdin:
			stdin = true
		case kindListener, kindConn:
			// One wait (and so at most one goroutine) per socket and
			// direction: a guest naming the same socket in every
			// subscription does not get a goroutine for each.
			w := sockWait{sub.entry.sock, sub.tag == eventFdWrite}
			if len(socks) > 0 {
				if seen == nil {
					seen = map[sockWait]bool{socks[0]: true}
				}
				if seen[w] {
					continue
				}
				seen[w] = true
			}
			socks = append(socks, w)
		}
	}
	if len(socks) == 0 {
		return i.waitStdinOrClock(stdin, earliest)
	}

	var once sync.Once
	end := func() {
		once.Do(func() {
			past := time.Unix(1, 0)
			for _, w := range socks {
				w.s.setReadDeadline(past)
				w.s.setWriteDeadline(past)
			}
		})
	}
	if earliest >= 0 {
		t := i.clock.AfterFunc(earliest, end)
		defer t.Stop()
	}
	if stdin {
		stop := context.AfterFunc(i.terminated, end)
		defer stop()
	}
	var wg sync.WaitGroup
	for _, w := range socks[1:] {
		wg.Go(func() {
			w.s.waitReady(w.write)
			end()
		})
	}
	socks[0].s.waitReady(socks[0].write)
	end()
	wg.Wait()
	// end ran once: a clock or SIGTERM that comes later does nothing.
	for _, w := range socks {
		w.s.setReadDeadline(time.Time{})
		w.s.setWriteDeadline(time.Time{})
	}
	if i.isKilled() {
		return errnoIntr
	}
	return errnoSuccess
}

// waitStdinOrClock waits for SIGTERM (when stdin is among the
// subscriptions), for the earliest clock (when there is one, earliest >= 0)
// or for Kill.
func (i *Instance) waitStdinOrClock(stdin bool, earliest time.Duration) errno {
	var timer <-chan time.Time
	var stdinDone <-chan struct{}
	if stdin {
		stdinDone = i.terminated.Done()
	}
	if earliest >= 0 {
		t := i.clock.NewTimer(earliest)
		defer t.Stop()
		timer = t.C()
	}
	select {
	case <-stdinDone:
	case <-timer:
	case <-i.kill:
		return errnoIntr
	}
	return errnoSuccess
}

// waitReady parks on the netpoller until the socket is ready for reading
// (accepting) or writing, or its deadline passes, or it is closed.
func (s *socket) waitReady(write bool) {
	if write {
		s.rc.Write(func(fd uintptr) bool { return readyNow(fd, pollOut) })
		return
	}
	s.rc.Read(func(fd uintptr) bool { return readyNow(fd, pollIn) })
}

func readyNow(fd uintptr, ev int16) bool {
	p := []pollFd{{fd: int32(fd), events: ev}}
	if err := pollNow(p); err != nil {
		return true
	}
	return p[0].revents != 0
}

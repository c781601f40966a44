package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is each direction's buffer of a proxied connection: 2 × 16 KiB
// per connection, from a pool, bounded by MaxConnections.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// listener is one address the proxy listens on, for one service port.
type listener struct {
	addr   string
	port   atomic.Pointer[servicePort]
	ln     *net.TCPListener // nil while closed; guarded by Proxier.mu
	failed string           // the last open error reported; Proxier.mu
}

// close stops accepting; connections already accepted go on. Proxier.mu
// is held.
func (l *listener) close() {
	if l.ln != nil {
		_ = l.ln.Close()
		l.ln = nil
	}
}

func (p *Proxier) accept(l *listener, ln *net.TCPListener) {
	defer p.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or the like: wait, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			p.log.Warn("accept failed", "address", l.addr, "err", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case p.sem <- struct{}{}:
		default:
			p.log.Warn("too many proxied connections: resetting a new one", "address", l.addr, "max", p.opts.MaxConnections)
			reset(c)
			continue
		}
		cn := &conn{client: c}
		cn.last.Store(p.epoch.Load())
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			reset(c)
			return
		}
		p.conns[cn] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(l.port.Load(), cn)
	}
}

// conn is one proxied connection.
type conn struct {
	client  *net.TCPConn
	mu      sync.Mutex
	backend *net.TCPConn
	aborted bool
	last    atomic.Uint64 // the reaper's epoch at the last byte either way
}

// abort closes both ends, for the proxy's shutdown.
func (c *conn) abort() {
	c.mu.Lock()
	c.aborted = true
	b := c.backend
	c.mu.Unlock()
	_ = c.client.Close()
	if b != nil {
		_ = b.Close()
	}
}

func (p *Proxier) handle(sp *servicePort, c *conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		<-p.sem
		p.wg.Done()
	}()
	client := ""
	if ap, err := netip.ParseAddrPort(c.client.RemoteAddr().String()); err == nil {
		client = ap.Addr().String()
	}
	table := sp.table.Load()
	var tried []string
	var backend *net.TCPConn
	for len(tried) < maxDialAttempts {
		ep := sp.pick(table, client, p.clock.Now(), tried)
		if ep == "" {
			break
		}
		bc, err := p.dialer.Dial("tcp4", ep) // within DialTimeout
		if err == nil {
			backend = bc.(*net.TCPConn)
			if len(tried) > 0 && table.affinity > 0 {
				sp.remember(client, ep, p.clock.Now(), table.affinity)
			}
			break
		}
		p.log.Debug("endpoint refused a connection", "service", sp.key, "endpoint", ep, "err", err)
		tried = append(tried, ep)
	}
	if backend == nil {
		reset(c.client)
		return
	}
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		_ = backend.Close()
		return
	}
	c.backend = backend
	c.mu.Unlock()
	c.last.Store(p.epoch.Load())

	done := make(chan struct{})
	go func() { p.pipe(c, backend, c.client); close(done) }()
	p.pipe(c, c.client, backend)
	<-done
	_ = c.client.Close()
	_ = backend.Close()
}

// pipe copies src to dst until src ends, then half-closes dst. An error
// ends both directions; the idle reaper ends a connection idle both ways
// by closing it, which ends both pipes.
func (p *Proxier) pipe(c *conn, dst, src *net.TCPConn) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.last.Store(p.epoch.Load())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				// dst's peer is gone: src's peer is told with a reset.
				reset(src)
				_ = dst.Close()
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			_ = dst.CloseWrite()
			return
		case errors.Is(err, net.ErrClosed):
			return // the other direction or the reaper ended the connection
		default:
			// src's peer reset the connection: dst's peer is told so
			// rather than given an end of file it would take for a
			// complete answer.
			reset(dst)
			_ = src.Close()
			return
		}
	}
}

// idleTicks is how many ticks of the reaper make a connection idle: it is
// ended between IdleTimeout and 9/8 of it after its last byte.
const idleTicks = 8

// reapIdle ends the connections that carried no byte for IdleTimeout,
// until ctx ends. Activity is counted in ticks of its own (epoch), so that
// the copy loops read no clock and arm no timer per read.
func (p *Proxier) reapIdle(ctx context.Context) {
	tick := time.NewTicker(p.opts.IdleTimeout / idleTicks)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := p.epoch.Add(1)
		p.mu.Lock()
		for c := range p.conns {
			if now-c.last.Load() > idleTicks {
				c.abort()
			}
		}
		p.mu.Unlock()
	}
}

// reset closes c with an RST, so that its peer sees the connection fail
// rather than end.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

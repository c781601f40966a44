package apiserver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Limits bound what clients can hold of a server, so that no local
// process, with the token or without it, can take the API down. Every
// client of a node comes from 127.0.0.1 and there is one token, so the
// limits are the server's, not a client's: what a client can be told
// apart by is only its connection. The zero value of a field is its
// DefaultLimits value.
type Limits struct {
	// MaxConnections caps the open connections. A connection over the cap
	// closes the connection that has waited longest without a request in
	// it (idle, or not yet through its TLS handshake and first request
	// line); if every connection is serving a request, it waits for one to
	// end.
	MaxConnections int
	// MaxRequestsInFlight caps the requests being served that change
	// nothing, MaxMutatingRequestsInFlight those that write
	// (kube-apiserver's --max-requests-inflight and
	// --max-mutating-requests-inflight). Over either, a request is answered
	// 429 with Retry-After, which client-go and kubectl wait and retry on.
	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	// MaxLongRunning caps the watches and followed logs being served. They
	// last as long as their client wants, so that they are counted apart,
	// as Kubernetes does; over the cap they are answered 429.
	MaxLongRunning int
	// ReadHeaderTimeout bounds the TLS handshake and the reading of a
	// request's headers.
	ReadHeaderTimeout time.Duration
	// RequestTimeout bounds the reading of a request's body and the
	// writing of its answer, for every request but watches and followed
	// logs (kube-apiserver's --request-timeout).
	RequestTimeout time.Duration
	// IdleTimeout closes a connection that has carried no request for that
	// long.
	IdleTimeout time.Duration
}

// DefaultLimits are the limits of a server whose Options set none; see
// docs/RATIONALE.md for the reasons of each number.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:              1024,
		MaxRequestsInFlight:         50,
		MaxMutatingRequestsInFlight: 10,
		MaxLongRunning:              256,
		ReadHeaderTimeout:           10 * time.Second,
		RequestTimeout:              60 * time.Second,
		IdleTimeout:                 90 * time.Second,
	}
}

// withDefaults is l with its zero fields set from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxConnections, d.MaxConnections)
	set(&l.MaxRequestsInFlight, d.MaxRequestsInFlight)
	set(&l.MaxMutatingRequestsInFlight, d.MaxMutatingRequestsInFlight)
	set(&l.MaxLongRunning, d.MaxLongRunning)
	setD(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setD(&l.RequestTimeout, d.RequestTimeout)
	setD(&l.IdleTimeout, d.IdleTimeout)
	return l
}

// maxHeaderBytes bounds a request's headers. kubectl and client-go send a
// few hundred bytes; with the connection cap it bounds what headers read
// slowly by every connection at once can hold (1024 × 64 KiB).
const maxHeaderBytes = 64 << 10

// maxBodyBytes is the largest request body accepted, kube-apiserver's
// MaxRequestBodyBytes (3 MiB: twice etcd's object limit, as a JSON body is
// larger than the object it decodes to).
const maxBodyBytes = 3 << 20

// requestClass is how a request is counted against the limits.
type requestClass int

const (
	readOnly requestClass = iota
	mutating
	longRunning
)

// classify counts watches and followed logs as long-running, and the
// writes (POST, PUT, PATCH, DELETE) as mutating.
func classify(r *http.Request) requestClass {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return mutating
	}
	p := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/")
	segs := strings.Split(p, "/")
	var rest []string
	group := ""
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		group, rest = segs[1], segs[3:]
	default:
		return readOnly
	}
	req, ok := parseResourcePath(group, rest)
	if !ok {
		return readOnly
	}
	q := r.URL.Query()
	switch {
	case req.watch, req.name == "" && isTrue(q.Get("watch")):
		return longRunning
	case req.sub == "log" && isTrue(q.Get("follow")):
		return longRunning
	}
	return readOnly
}

// gate counts the requests of one class being served.
type gate struct {
	n   atomic.Int64
	max int64
}

func (g *gate) enter() bool {
	if g.n.Add(1) > g.max {
		g.n.Add(-1)
		return false
	}
	return true
}

func (g *gate) leave() { g.n.Add(-1) }

// tooManyRequests is the answer over an in-flight limit: 429 with
// Retry-After, which client-go waits and retries on.
func tooManyRequests(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Retry-After", "1")
	writeError(w, r, &api.Status{
		TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: http.StatusTooManyRequests, Reason: api.StatusReasonTooManyRequests,
		Message: fmt.Sprintf("Too many requests: %s, please try again later.", what),
		Details: &api.StatusDetails{RetryAfterSeconds: 1},
	})
}

// requestBody bounds the reading of a request's body in time: the
// connection's read deadline is set when the request starts and cleared
// once the body has been read to its end, so that a client that sends its
// body slowly is cut off at the deadline, and the handler that runs after
// is not. A read that fails is the client's doing (gone, too slow, too
// much): it is logged as such.
type requestBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	header  http.Header
	timeout time.Duration
	log     *slog.Logger
	r       *http.Request
	done    bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		// The answer, an error or not, has its own timeout from here: a
		// write past its deadline would cut it in the middle.
		_ = b.rc.SetWriteDeadline(time.Now().Add(b.timeout))
		if err == io.EOF {
			_ = b.rc.SetReadDeadline(time.Time{})
		} else {
			b.log.Debug("the client did not send the request body", "method", b.r.Method, "path", b.r.URL.Path, "err", err)
			// What is left of the body is unknown: the connection
			// cannot carry another request (HTTP/2 resets the stream
			// alone).
			if b.r.ProtoMajor == 1 {
				b.header.Set("Connection", "close")
			}
		}
	}
	return n, err
}

// bodyError is the Status of a request body that could not be read: the
// client sent too much (413), too slowly (408), or went away (400). These
// are the client's errors, never the server's.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return api.NewRequestEntityTooLarge(fmt.Sprintf("Request entity too large: limit is %d", tooLarge.Limit))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &api.Status{
			TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: http.StatusRequestTimeout, Reason: api.StatusReasonTimeout,
			Message: "Timeout: the request body was not received in time",
		}
	default:
		return api.NewBadRequest(fmt.Sprintf("the request body could not be read: %v", err))
	}
}

// connLimiter is a listener that keeps at most max connections open. At
// the cap it closes the connection that has waited longest without a
// request (its state, from the server's ConnState hook, is new or idle) to
// make room; a connection serving a request is never closed for another.
type connLimiter struct {
	net.Listener
	max int

	mu        sync.Mutex
	open      int                        // slots taken: the connections, and the one being accepted
	accepting bool                       // a slot is taken for the connection being accepted
	quiet     map[*limitedConn]time.Time // new or idle, since
	freed     chan struct{}              // a token when a slot frees
	done      chan struct{}
	once      sync.Once
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: max, quiet: map[*limitedConn]time.Time{},
		freed: make(chan struct{}, 1), done: make(chan struct{})}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			lc := &limitedConn{Conn: c, l: l}
			l.quiet[lc] = time.Now()
			l.mu.Unlock()
			return lc, nil
		}
		victim := l.oldestQuietLocked()
		l.mu.Unlock()
		if victim != nil {
			victim.Close()
			continue
		}
		// Every connection is serving a request: this one waits for a
		// slot, and the next ones in the kernel's backlog.
		select {
		case <-l.freed:
		case <-l.done:
			c.Close()
			return nil, net.ErrClosed
		}
	}
}

func (l *connLimiter) oldestQuietLocked() *limitedConn {
	var victim *limitedConn
	var since time.Time
	for c, t := range l.quiet {
		if victim == nil || t.Before(since) {
			victim, since = c, t
		}
	}
	return victim
}

func (l *connLimiter) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

func (l *connLimiter) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// connState follows the server's ConnState hook: a connection is quiet
// while it is new or idle.
func (l *connLimiter) connState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.closed {
		return
	}
	switch state {
	case http.StateNew, http.StateIdle:
		l.quiet[lc] = time.Now()
	default:
		delete(l.quiet, lc)
	}
}

// openConnections is how many connections are open.
func (l *connLimiter) openConnections() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// limitedConn gives its slot back when it is closed.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	closed bool // under l.mu
	once   sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.closed = true
		delete(c.l.quiet, c)
		c.l.mu.Unlock()
		c.l.release()
	})
	return err
}

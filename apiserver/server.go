// Package apiserver serves a node's objects over HTTPS in Kubernetes' REST
// shape, so that the real kubectl, client-go programs and wasmlet's own
// client work against it: discovery, list/get/create/update/patch/delete
// and watch of every kind, the status, scale and log subresources, Status
// errors with Kubernetes' codes and reasons, and Table responses with
// kubectl's columns.
//
// Every write goes through the registry, which holds Kubernetes' strategies;
// the server only translates HTTP. It never imports the node agent: pod logs
// come through the LogFunc the node hands it.
//
// The server listens with TLS, under a CA and a certificate it creates in
// its data dir on first start, and admits only requests that carry the
// bearer token also kept there (health checks and /version excepted, as
// Kubernetes lets anyone read them).
package apiserver

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmlet/wasmlet/registry"
)

// DefaultListen is the address the server listens on when none is given.
const DefaultListen = "127.0.0.1:7443"

// LogOptions select what a LogFunc writes, as `kubectl logs` does (the
// query parameters of GET .../pods/{name}/log).
type LogOptions struct {
	// Container names the container; "" means the only one.
	Container string
	// Follow streams new lines until the container instance ends or the
	// context does.
	Follow bool
	// Previous reads the previous (terminated) instance.
	Previous bool
	// TailLines, when set, starts that many lines from the end.
	TailLines *int64
	// SinceSeconds, when set, skips lines older than that.
	SinceSeconds *int64
	// SinceTime, when set, skips lines older than it.
	SinceTime *time.Time
	// Timestamps prefixes each line with its RFC 3339 nano time.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes.
	LimitBytes *int64
}

// LogFunc writes the log of a container of a pod to w. Its errors are
// *api.Status values (NotFound, BadRequest, ...) or plain errors (500).
type LogFunc func(ctx context.Context, namespace, pod string, opts LogOptions, w io.Writer) error

// Options configures a Server.
type Options struct {
	// Listen is host:port; "" is DefaultListen; port 0 picks a free port
	// (Addr tells which).
	Listen string
	// DataDir holds the CA, the certificate, the token and the kubeconfig
	// the server writes once it listens; "" keeps them in memory.
	DataDir string
	// Logs serves the log subresource of pods; nil answers it with an
	// error saying the node runs no pods.
	Logs LogFunc
	// NodeProxy serves the proxy subresource of nodes; nil answers it
	// with ServiceUnavailable.
	NodeProxy NodeProxyFunc
	// Logger receives one line per failed request and the server's own
	// errors; nil discards.
	Logger *slog.Logger
	// Now is the time table ages are measured to; nil is time.Now.
	Now func() time.Time
	// Limits bound what clients can hold of the server (connections,
	// requests in flight, timeouts); zero fields take DefaultLimits'
	// values.
	Limits Limits
}

// Server is the HTTPS API of a node.
type Server struct {
	reg   *registry.Registry
	opts  Options
	log   *slog.Logger
	creds *credentials
	now   func() time.Time

	limits Limits
	// watches counts the watch streams being served.
	watches atomic.Int64
	// The requests being served, by class (see classify).
	inFlight [3]gate
	conns    atomic.Pointer[connLimiter]

	ready     chan struct{}
	readyOnce sync.Once
	mu        sync.Mutex
	addr      string
}

// New returns a server over reg. It reads (or creates) the credentials in
// opts.DataDir; nothing listens until Start.
func New(reg *registry.Registry, opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("apiserver: listen address %q: %w", opts.Listen, err)
	}
	var hosts []string
	if host != "" && host != "0.0.0.0" && host != "::" {
		hosts = append(hosts, host)
	}
	creds, err := loadCredentials(opts.DataDir, hosts)
	if err != nil {
		return nil, fmt.Errorf("apiserver: TLS credentials: %w", err)
	}
	s := &Server{reg: reg, opts: opts, log: opts.Logger, creds: creds, now: opts.Now, ready: make(chan struct{}),
		limits: opts.Limits.withDefaults()}
	s.inFlight[readOnly].max = int64(s.limits.MaxRequestsInFlight)
	s.inFlight[mutating].max = int64(s.limits.MaxMutatingRequestsInFlight)
	s.inFlight[longRunning].max = int64(s.limits.MaxLongRunning)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Start listens and serves until ctx ends; then it stops accepting,
// ends every watch and returns. Once it listens, Ready is closed, Addr is
// set and, with a data dir, the kubeconfig is written.
func (s *Server) Start(ctx context.Context) error {
	tcp, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	ln := newConnLimiter(tcp, s.limits.MaxConnections)
	s.conns.Store(ln)
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	if s.opts.DataDir != "" {
		if err := WriteKubeconfig(filepath.Join(s.opts.DataDir, KubeconfigFile), s.URL(), s.creds.caPEM, s.creds.token); err != nil {
			ln.Close()
			return fmt.Errorf("apiserver: writing the kubeconfig: %w", err)
		}
	}
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// No ReadTimeout or WriteTimeout: they would cut watches and followed
	// logs. The body and the answer of every other request are bounded per
	// request instead (serveHTTP).
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         ln.connState,
		// kube-apiserver's number of streams of a connection, each a
		// request that counts against the limits.
		HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: 100},
		BaseContext: func(net.Listener) context.Context { return serveCtx },
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{s.creds.cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	s.readyOnce.Do(func() { close(s.ready) })
	select {
	case err := <-errc:
		return fmt.Errorf("apiserver: %w", err)
	case <-ctx.Done():
	}
	// Watches and followed logs end with serveCtx; give requests in
	// flight a moment to finish.
	cancel()
	shutCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("apiserver: %w", err)
	}
	return nil
}

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on ("" before Start listens).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is "https://" + Addr.
func (s *Server) URL() string { return "https://" + s.Addr() }

// CACertPEM is the PEM of the CA that signed the server's certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.creds.caPEM...) }

// Token is the bearer token clients must present.
func (s *Server) Token() string { return s.creds.token }

// Kubeconfig is a kubeconfig that reaches the server (once it listens).
func (s *Server) Kubeconfig() []byte { return Kubeconfig(s.URL(), s.creds.caPEM, s.creds.token) }

// Handler is the server's HTTP handler (authentication included), for
// tests and for embedding behind another listener.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", p)
			if !rw.wrote {
				writeError(rw, r, internalError(fmt.Errorf("%v", p)))
			}
		}
	}()
	if !publicRead(r) && !s.authenticated(r) {
		// A client without the token keeps nothing of the server, not
		// even its connection (HTTP/2: the connection is shut down once
		// its streams end).
		rw.Header().Set("Connection", "close")
		writeError(rw, r, unauthorized())
		return
	}
	class := classify(r)
	g := &s.inFlight[class]
	if !g.enter() {
		what := "the server is serving as many requests as it may"
		if class == longRunning {
			what = "the server is serving as many watches and followed logs as it may"
		}
		tooManyRequests(rw, r, what)
		return
	}
	defer g.leave()
	if class != longRunning {
		// A watch's stream has no end; anything else must be received and
		// answered in RequestTimeout. ResponseController reaches the
		// connection (HTTP/1) or the stream (HTTP/2).
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(s.limits.RequestTimeout)
		_ = rc.SetWriteDeadline(deadline)
		if r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > maxBodyBytes {
				rw.Header().Set("Connection", "close")
				writeError(rw, r, bodyError(&http.MaxBytesError{Limit: maxBodyBytes}))
				return
			}
			_ = rc.SetReadDeadline(deadline)
			r.Body = &requestBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxBodyBytes), rc: rc,
				header: rw.Header(), timeout: s.limits.RequestTimeout, log: s.log, r: r}
		}
	}
	s.route(rw, r)
	if rw.code >= 500 {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "code", rw.code)
	}
}

// publicRead: what Kubernetes lets unauthenticated clients read
// (system:public-info-viewer): a GET of the health and version paths, and
// nothing else.
func publicRead(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/healthz", "/livez", "/readyz", "/version", "/version/":
		return true
	}
	return false
}

func (s *Server) authenticated(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.creds.token)) == 1
}

// responseWriter remembers the status code, and passes Flush through for
// watches and followed logs.
type responseWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() {
	w.wrote = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Command myweb is the course's small web server: it answers
// "Hello World! I'm <hostname>" on /, has a /healthz endpoint and a /ready
// endpoint whose answer can be switched, and logs every request to stdout.
// It serves on the node's pre-opened listener for its port (named by
// -port-name, or the only one declared); run outside a node, it listens on
// -addr itself.
//
// Flags, each also read from the environment:
//
//	-port-name NAME  PORT_NAME    the containerPort's name (default http)
//	-addr ADDR       ADDR         where to listen without a node (default :8080)
//	-start-delay D   START_DELAY  answer 503 to everything for D after start
//	-fail-after D    FAIL_AFTER   /healthz answers 500 from D after start on
//	-version V       VERSION      the version it reports: a line "Version: V"
//	                              after the greeting and a header X-Version
//	                              on every answer (none when empty, the default)
//
// GET /ready answers 200 "ready" until DELETE /ready, then 503 "not ready"
// until PUT /ready: a readiness probe on /ready fails and passes on demand.
//
// On SIGTERM (stdin reaching end-of-file) it stops accepting, finishes the
// requests in flight and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/guest"
)

func main() {
	portName := flag.String("port-name", envString("PORT_NAME", "http"), "name of the containerPort to serve on")
	addr := flag.String("addr", envString("ADDR", ":8080"), "address to listen on when the node pre-opened no listener")
	startDelay := flag.Duration("start-delay", envDuration("START_DELAY", 0), "answer 503 until this long after start")
	failAfter := flag.Duration("fail-after", envDuration("FAIL_AFTER", -1), "/healthz answers 500 from this long after start (negative: never)")
	version := flag.String("version", envString("VERSION", ""), "version to report in every answer")
	flag.Parse()
	var unready atomic.Bool

	host := hostname()
	started := time.Now()
	l, err := guest.ListenerOr(*portName, *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "myweb: %v\n", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "Hello World! I'm %s\n", host)
		if *version != "" {
			fmt.Fprintf(w, "Version: %s\n", *version)
		}
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodDelete:
			unready.Store(true)
		case http.MethodPut:
			unready.Store(false)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if unready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if *failAfter >= 0 && time.Since(started) >= *failAfter {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if *version != "" {
			w.Header().Set("X-Version", *version)
		}
		if time.Since(started) < *startDelay {
			http.Error(rw, "starting", http.StatusServiceUnavailable)
		} else {
			mux.ServeHTTP(rw, r)
		}
		fmt.Printf("%s %s%s %s %d\n", time.Now().UTC().Format(time.RFC3339), peer(r), r.Method, r.URL.RequestURI(), rw.status)
	})

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	where := serving(l)
	fmt.Printf("myweb %s: serving on %s", host, where)
	if *startDelay > 0 {
		fmt.Printf(", ready in %s", *startDelay)
	}
	if *failAfter >= 0 {
		fmt.Printf(", /healthz fails after %s", *failAfter)
	}
	if *version != "" {
		fmt.Printf(", version %s", *version)
	}
	fmt.Println()

	done := make(chan struct{})
	go func() {
		defer close(done)
		<-guest.Stop()
		fmt.Println("myweb: got SIGTERM, draining")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "myweb: %v\n", err)
		os.Exit(1)
	}
	<-done
	fmt.Println("myweb: exiting")
}

// serving says where l listens, as far as the guest knows. A pre-opened
// socket has no address the guest can read (WASI preview1 has neither
// getsockname nor the port number), only the port's name from the pod spec,
// which LISTEN_FDNAMES gives as "unknown" when the port has none.
func serving(l net.Listener) string {
	nl, ok := l.(*guest.NamedListener)
	if !ok {
		return l.Addr().String()
	}
	if nl.Name == "" || nl.Name == "unknown" {
		return fmt.Sprintf("the pre-opened listener (fd %d)", nl.FD)
	}
	return fmt.Sprintf("port %q (fd %d)", nl.Name, nl.FD)
}

// peer is the client's address and a space, or nothing when it is not known:
// WASI preview1's sock_accept returns no peer address, and Go's wasip1 port
// reports none (or the zero address ":0") for an accepted connection.
func peer(r *http.Request) string {
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || port == "0" || port == "" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return ""
	}
	return r.RemoteAddr + " "
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func hostname() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "myweb"
}

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

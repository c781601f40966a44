// Command grpchealth is a gRPC health server (grpc.health.v1.Health/Check)
// for the grpc probe, with nothing but the standard library: net/http
// serves HTTP/2 without TLS (h2c, as the kubelet's probe speaks it), and
// the two messages involved are small enough to encode by hand.
//
//	-port-name NAME  PORT_NAME  the containerPort's name (default grpc)
//	-addr ADDR       ADDR       where to listen without a node (default :9090)
//	-status S        STATUS     SERVING (default) or NOT_SERVING
//	-services LIST   SERVICES   comma-separated services it knows; others
//	                            get NOT_FOUND. Empty: every name is known.
//
// Watch is not implemented (UNIMPLEMENTED), as probes only call Check.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/wasm-examples/guest"
)

// HealthCheckResponse.ServingStatus values.
const (
	statusServing    = 1
	statusNotServing = 2
)

// gRPC status codes used here.
const (
	codeOK            = 0
	codeInvalidArg    = 3
	codeNotFound      = 5
	codeUnimplemented = 12
)

func main() {
	portName := flag.String("port-name", envString("PORT_NAME", "grpc"), "name of the containerPort to serve on")
	addr := flag.String("addr", envString("ADDR", ":9090"), "address to listen on when the node pre-opened no listener")
	statusName := flag.String("status", envString("STATUS", "SERVING"), "SERVING or NOT_SERVING")
	services := flag.String("services", os.Getenv("SERVICES"), "comma-separated known services (empty: all)")
	flag.Parse()

	status := statusServing
	switch *statusName {
	case "SERVING":
	case "NOT_SERVING":
		status = statusNotServing
	default:
		fmt.Fprintf(os.Stderr, "grpchealth: -status %q: want SERVING or NOT_SERVING\n", *statusName)
		os.Exit(2)
	}
	var known []string
	if *services != "" {
		known = strings.Split(*services, ",")
	}

	l, err := guest.ListenerOr(*portName, *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpchealth: %v\n", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/grpc.health.v1.Health/Check", func(w http.ResponseWriter, r *http.Request) {
		service, err := readRequest(r.Body)
		switch {
		case err != nil:
			finish(w, nil, codeInvalidArg, err.Error())
		case service != "" && len(known) > 0 && !slices.Contains(known, service):
			finish(w, nil, codeNotFound, "unknown service")
		default:
			finish(w, encodeResponse(status), codeOK, "")
		}
		fmt.Printf("%s Check service=%q -> %s\n", time.Now().UTC().Format(time.RFC3339), service, *statusName)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		finish(w, nil, codeUnimplemented, "unknown method "+r.URL.Path)
	})

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	// A pre-opened socket has no address the guest can read (WASI preview1
	// has no getsockname; Go reports ":0"): name the port instead.
	where := l.Addr().String()
	if nl, ok := l.(*guest.NamedListener); ok {
		where = fmt.Sprintf("the pre-opened listener (fd %d)", nl.FD)
		if nl.Name != "" && nl.Name != "unknown" {
			where = fmt.Sprintf("port %q (fd %d)", nl.Name, nl.FD)
		}
	}
	fmt.Printf("grpchealth: serving gRPC health on %s, status %s\n", where, *statusName)

	done := make(chan struct{})
	go func() {
		defer close(done)
		<-guest.Stop()
		fmt.Println("grpchealth: got SIGTERM, exiting")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "grpchealth: %v\n", err)
		os.Exit(1)
	}
	<-done
}

// readRequest reads one gRPC message (a 5-byte prefix: compressed flag and
// big-endian length) holding a HealthCheckRequest, and returns its service
// (field 1, a string). Unknown fields are skipped, as protobuf requires.
func readRequest(body io.Reader) (string, error) {
	var prefix [5]byte
	if _, err := io.ReadFull(body, prefix[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return "", nil // no message: the default request
		}
		return "", fmt.Errorf("reading message prefix: %w", err)
	}
	if prefix[0] != 0 {
		return "", errors.New("compressed messages are not supported")
	}
	n := binary.BigEndian.Uint32(prefix[1:])
	if n > 1<<16 {
		return "", fmt.Errorf("message of %d bytes is too large", n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(body, msg); err != nil {
		return "", fmt.Errorf("reading message: %w", err)
	}
	return decodeRequest(msg)
}

func decodeRequest(msg []byte) (string, error) {
	var service string
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return "", errors.New("bad field key")
		}
		msg = msg[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0: // varint
			_, n = binary.Uvarint(msg)
			if n <= 0 {
				return "", errors.New("bad varint")
			}
			msg = msg[n:]
		case 1: // 64-bit
			if len(msg) < 8 {
				return "", errors.New("short fixed64")
			}
			msg = msg[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 || l > uint64(len(msg)-n) {
				return "", errors.New("bad length")
			}
			if field == 1 {
				service = string(msg[n : n+int(l)])
			}
			msg = msg[n+int(l):]
		case 5: // 32-bit
			if len(msg) < 4 {
				return "", errors.New("short fixed32")
			}
			msg = msg[4:]
		default:
			return "", fmt.Errorf("unsupported wire type %d", wire)
		}
	}
	return service, nil
}

// encodeResponse returns a HealthCheckResponse{status} as a gRPC message:
// field 1, varint.
func encodeResponse(status int) []byte {
	msg := []byte{1<<3 | 0, byte(status)}
	out := []byte{0, 0, 0, 0, byte(len(msg))}
	return append(out, msg...)
}

// finish writes the response headers, the message if any, and the gRPC
// status as trailers.
func finish(w http.ResponseWriter, msg []byte, code int, message string) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	w.WriteHeader(http.StatusOK)
	w.Write(msg)
	w.Header().Set("Grpc-Status", fmt.Sprint(code))
	w.Header().Set("Grpc-Message", message)
}

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

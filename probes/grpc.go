package probes

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The gRPC probe is a grpc.health.v1.Health/Check call over HTTP/2 without
// TLS (h2c with prior knowledge), written with net/http and two hand-made
// protobuf messages instead of the grpc-go module (docs/RATIONALE.md).

// healthCheckPath is the method the probe calls.
const healthCheckPath = "/grpc.health.v1.Health/Check"

// maxGRPCMessage bounds the response message read (grpc-go's default
// receive limit is 4 MiB; a HealthCheckResponse is 2 bytes).
const maxGRPCMessage = 4 << 20

// grpcReconnect is grpc-go's first reconnection back-off: a probe whose
// connection failed tries again after it, until its timeout.
const grpcReconnect = time.Second

// gRPC status codes ([grpc] codes).
var grpcCodeNames = []string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
	"Unauthenticated",
}

const (
	grpcUnknown       = 2
	grpcUnimplemented = 12
	grpcInternal      = 13
	grpcUnavailable   = 14
)

func grpcCodeName(c int) string {
	if c >= 0 && c < len(grpcCodeNames) {
		return grpcCodeNames[c]
	}
	return "Code(" + strconv.Itoa(c) + ")"
}

// grpcStatus is a non-OK gRPC status.
type grpcStatus struct {
	code    int
	message string
}

func (s *grpcStatus) Error() string {
	return fmt.Sprintf("rpc error: code = %s desc = %s", grpcCodeName(s.code), s.message)
}

// servingStatusName is a HealthCheckResponse.ServingStatus as protobuf's
// String writes it.
func servingStatusName(s uint64) string {
	switch s {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	default:
		return strconv.FormatUint(s, 10)
	}
}

// grpcProbe is the kubelet's gRPC prober: connect to host:port (retrying,
// as grpc-go's blocking dial does, until the timeout), call Check with the
// service, and succeed only on SERVING. Every problem is a failure, with
// the kubelet's message.
func (m *Manager) grpcProbe(ctx context.Context, host string, port int, service string, timeout time.Duration) (result, string, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ctx, cancel := m.withTimeout(ctx, timeout)
	defer cancel()

	conn, err := m.dialGRPC(ctx, addr)
	if err != nil {
		if timedOut(ctx) {
			return resultFailure, fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, context.DeadlineExceeded), nil
		}
		return resultFailure, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err), nil
	}
	status, err := grpcHealthCheck(ctx, conn, addr, service, timeout)
	if err != nil {
		if timedOut(ctx) {
			return resultFailure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout), nil
		}
		var st *grpcStatus
		if errors.As(err, &st) && st.code == grpcUnimplemented {
			return resultFailure, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.message, nil
		}
		return resultFailure, fmt.Sprintf("error: health rpc probe failed: %+v", err), nil
	}
	if status != 1 {
		return resultFailure, fmt.Sprintf("service unhealthy (responded with %q)", servingStatusName(status)), nil
	}
	return resultSuccess, "service healthy", nil
}

// dialGRPC connects, trying again after grpcReconnect while ctx lasts.
func (m *Manager) dialGRPC(ctx context.Context, addr string) (net.Conn, error) {
	for {
		c, err := dialProbe(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t := m.clock.NewTimer(grpcReconnect)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C():
		}
	}
}

// grpcHealthCheck makes one Check call on conn (which it closes) and
// returns the serving status.
func grpcHealthCheck(ctx context.Context, conn net.Conn, addr, service string, timeout time.Duration) (uint64, error) {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	var used atomic.Bool
	tr := &http.Transport{
		Protocols:          &protocols,
		DisableCompression: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errors.New("grpc probe: one connection per probe")
			}
			return conn, nil
		},
	}
	defer func() {
		tr.CloseIdleConnections()
		conn.Close()
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+healthCheckPath, bytes.NewReader(encodeHealthCheckRequest(service)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", userAgent("probe"))
	req.Header.Set("Grpc-Timeout", strconv.FormatInt(timeout.Milliseconds(), 10)+"m")
	res, err := tr.RoundTrip(req)
	if err != nil {
		return 0, &grpcStatus{code: grpcUnavailable, message: err.Error()}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, &grpcStatus{code: grpcCodeOfHTTP(res.StatusCode), message: fmt.Sprintf("unexpected HTTP status code received from server: %d (%s)", res.StatusCode, http.StatusText(res.StatusCode))}
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return 0, &grpcStatus{code: grpcUnknown, message: fmt.Sprintf("transport: received unexpected content-type %q", ct)}
	}
	msg, haveMsg, err := readGRPCMessage(res.Body)
	if err != nil {
		return 0, &grpcStatus{code: grpcInternal, message: err.Error()}
	}
	// The status is in the trailers, or in the headers of a response
	// without a body ("trailers-only").
	code, message := res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
	if code == "" {
		code, message = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
	}
	if code == "" {
		return 0, &grpcStatus{code: grpcInternal, message: "server closed the stream without sending trailers"}
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return 0, &grpcStatus{code: grpcInternal, message: fmt.Sprintf("transport: malformed grpc-status: %q", code)}
	}
	if n != 0 {
		if m, err := url.PathUnescape(message); err == nil {
			message = m
		}
		return 0, &grpcStatus{code: n, message: message}
	}
	if !haveMsg {
		return 0, &grpcStatus{code: grpcInternal, message: "cardinality violation: received no response message from non-streaming RPC"}
	}
	return decodeHealthCheckResponse(msg)
}

// grpcCodeOfHTTP maps an HTTP status that is not 200 to a gRPC code, as
// gRPC's HTTP/2 transport specification says.
func grpcCodeOfHTTP(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return 16
	case http.StatusForbidden:
		return 7
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	default:
		return grpcUnknown
	}
}

// encodeHealthCheckRequest is a HealthCheckRequest{service} framed as a
// gRPC message: a zero compression flag, a big-endian length, and field 1
// (a string) unless empty.
func encodeHealthCheckRequest(service string) []byte {
	var msg []byte
	if service != "" {
		msg = append(msg, 1<<3|2)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	out := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// readGRPCMessage reads the one message of a unary response; haveMsg is
// false when the body ended before any.
func readGRPCMessage(r io.Reader) (msg []byte, haveMsg bool, err error) {
	var prefix [5]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading a message: %w", err)
	}
	if prefix[0] != 0 {
		return nil, false, errors.New("compressed messages are not supported")
	}
	n := binary.BigEndian.Uint32(prefix[1:])
	if n > maxGRPCMessage {
		return nil, false, fmt.Errorf("received message larger than max (%d vs. %d)", n, maxGRPCMessage)
	}
	msg = make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, false, fmt.Errorf("reading a message: %w", err)
	}
	// Drain to the end of the stream, where the trailers are.
	_, _ = io.Copy(io.Discard, io.LimitReader(r, maxGRPCMessage))
	return msg, true, nil
}

// decodeHealthCheckResponse returns field 1 (status, a varint) of a
// HealthCheckResponse, skipping unknown fields; absent, it is 0 (UNKNOWN).
func decodeHealthCheckResponse(msg []byte) (uint64, error) {
	var status uint64
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, &grpcStatus{code: grpcInternal, message: "grpc: failed to unmarshal the received message: bad field key"}
		}
		msg = msg[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, &grpcStatus{code: grpcInternal, message: "grpc: failed to unmarshal the received message: bad varint"}
			}
			if field == 1 {
				status = v
			}
			msg = msg[n:]
		case 1:
			if len(msg) < 8 {
				return 0, &grpcStatus{code: grpcInternal, message: "grpc: failed to unmarshal the received message: short fixed64"}
			}
			msg = msg[8:]
		case 2:
			l, n := binary.Uvarint(msg)
			if n <= 0 || l > uint64(len(msg)-n) {
				return 0, &grpcStatus{code: grpcInternal, message: "grpc: failed to unmarshal the received message: bad length"}
			}
			msg = msg[n+int(l):]
		case 5:
			if len(msg) < 4 {
				return 0, &grpcStatus{code: grpcInternal, message: "grpc: failed to unmarshal the received message: short fixed32"}
			}
			msg = msg[4:]
		default:
			return 0, &grpcStatus{code: grpcInternal, message: fmt.Sprintf("grpc: failed to unmarshal the received message: wire type %d", wire)}
		}
	}
	return status, nil
}

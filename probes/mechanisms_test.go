package probes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port := hostPort(t, l.Addr().String())
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, open := hostPort(t, l.Addr().String())
	closed := closedPort(t)
	tests := []struct {
		name   string
		action api.TCPSocketAction
		res    result
		output string
	}{
		{"open", api.TCPSocketAction{Port: api.FromInt32(open)}, resultSuccess, ""},
		{"named", api.TCPSocketAction{Port: api.FromString("app")}, resultSuccess, ""},
		{"explicit host", api.TCPSocketAction{Port: api.FromInt32(open), Host: "127.0.0.1"}, resultSuccess, ""},
		{"refused", api.TCPSocketAction{Port: api.FromInt32(closed)}, resultFailure, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, _ := newTestManager(t, nil)
			a := tt.action
			p := &api.Probe{ProbeHandler: api.ProbeHandler{TCPSocket: &a}}
			ip := "127.0.0.1"
			if a.Host != "" {
				ip = "192.0.2.1"
			}
			pod := newTestPod(api.Container{Name: "app", Ports: []api.ContainerPort{{Name: "app", ContainerPort: open}}, ReadinessProbe: p}, ip)
			res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
			if res != tt.res || out != tt.output || err != nil {
				t.Errorf("got %s %q %v, want %s %q", res, out, err, tt.res, tt.output)
			}
		})
	}
}

// healthServer is a gRPC health service over h2c, as the grpchealth
// example serves it.
type healthServer struct {
	mu       sync.Mutex
	status   byte          // ServingStatus answered
	known    []string      // services it knows (nil: all)
	noHealth bool          // answer every method UNIMPLEMENTED
	stall    chan struct{} // hold every call until closed
	entered  chan struct{} // told of each stalled call
	requests []string      // "service ua content-type"
}

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	finish := func(msg []byte, code int, message string) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		w.Write(msg)
		w.Header().Set("Grpc-Status", fmt.Sprint(code))
		w.Header().Set("Grpc-Message", message)
	}
	h.mu.Lock()
	status, known, noHealth, stall := h.status, h.known, h.noHealth, h.stall
	h.mu.Unlock()
	if stall != nil {
		h.entered <- struct{}{}
		select {
		case <-stall:
		case <-r.Context().Done():
		}
		return
	}
	if noHealth || r.URL.Path != healthCheckPath {
		finish(nil, 12, "unknown service grpc.health.v1.Health")
		return
	}
	var prefix [5]byte
	io.ReadFull(r.Body, prefix[:])
	msg := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	io.ReadFull(r.Body, msg)
	service := ""
	if len(msg) > 2 {
		service = string(msg[2:])
	}
	h.mu.Lock()
	h.requests = append(h.requests, service+" "+r.UserAgent()+" "+r.Header.Get("Content-Type")+" "+r.Proto)
	h.mu.Unlock()
	if known != nil && !contains(known, service) {
		finish(nil, 5, "unknown service")
		return
	}
	if status == 0 {
		finish([]byte{0, 0, 0, 0, 0}, 0, "")
		return
	}
	finish([]byte{0, 0, 0, 0, 2, 1 << 3, status}, 0, "")
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// serveH2C serves h on 127.0.0.1 over unencrypted HTTP/2 and returns its
// port.
func serveH2C(t *testing.T, h http.Handler) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port := hostPort(t, l.Addr().String())
	return port
}

func TestGRPCProbe(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name    string
		server  *healthServer
		service *string
		res     result
		output  string
		request string
	}{
		{name: "serving", server: &healthServer{status: 1}, res: resultSuccess, output: "service healthy",
			request: " kube-probe/1.32 application/grpc HTTP/2.0"},
		{name: "serving a named service", server: &healthServer{status: 1, known: []string{"shop"}}, service: str("shop"), res: resultSuccess, output: "service healthy",
			request: "shop kube-probe/1.32 application/grpc HTTP/2.0"},
		{name: "not serving", server: &healthServer{status: 2}, res: resultFailure, output: `service unhealthy (responded with "NOT_SERVING")`},
		{name: "unknown status", server: &healthServer{status: 0}, res: resultFailure, output: `service unhealthy (responded with "UNKNOWN")`},
		{name: "service unknown", server: &healthServer{status: 3}, res: resultFailure, output: `service unhealthy (responded with "SERVICE_UNKNOWN")`},
		{name: "unknown service", server: &healthServer{status: 1, known: []string{"shop"}}, service: str("cart"), res: resultFailure,
			output: "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
		{name: "no health service", server: &healthServer{noHealth: true}, res: resultFailure,
			output: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server
			port := serveH2C(t, srv)
			m, _, _ := newTestManager(t, nil)
			p := &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: port, Service: tt.service}}}
			pod := newTestPod(api.Container{Name: "g", LivenessProbe: p}, "127.0.0.1")
			res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
			if res != tt.res || out != tt.output || err != nil {
				t.Errorf("got %s %q %v, want %s %q", res, out, err, tt.res, tt.output)
			}
			if tt.request != "" && (len(srv.requests) != 1 || srv.requests[0] != tt.request) {
				t.Errorf("requests %q, want [%q]", srv.requests, tt.request)
			}
		})
	}
}

// TestGRPCProbeTimeouts: a refused connection is tried again until the
// timeout, as grpc-go's blocking dial does, and a call that does not
// finish fails at the timeout; both on the probe's clock.
func TestGRPCProbeTimeouts(t *testing.T) {
	t.Run("connect", func(t *testing.T) {
		m, clk, _ := newTestManager(t, nil)
		port := closedPort(t)
		p := &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: port}}, TimeoutSeconds: 3}
		pod := newTestPod(api.Container{Name: "g", LivenessProbe: p}, "127.0.0.1")
		// The timeout and the back-off pending: three back-offs end in the timeout.
		go func() {
			for range 3 {
				clk.BlockUntil(2)
				clk.Advance(time.Second)
			}
		}()
		res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
		want := fmt.Sprintf(`timeout: failed to connect service "127.0.0.1:%d" within 3s: context deadline exceeded`, port)
		if res != resultFailure || out != want || err != nil {
			t.Errorf("got %s %q %v, want failure %q", res, out, err, want)
		}
	})
	t.Run("call", func(t *testing.T) {
		m, clk, _ := newTestManager(t, nil)
		stall := make(chan struct{})
		defer close(stall)
		entered := make(chan struct{}, 1)
		port := serveH2C(t, &healthServer{stall: stall, entered: entered})
		p := &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: port}}}
		pod := newTestPod(api.Container{Name: "g", LivenessProbe: p}, "127.0.0.1")
		go func() {
			<-entered
			clk.Advance(time.Second)
		}()
		res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
		if want := "timeout: health rpc did not complete within 1s"; res != resultFailure || out != want || err != nil {
			t.Errorf("got %s %q %v, want failure %q", res, out, err, want)
		}
	})
}

func TestExecProbe(t *testing.T) {
	var gotArgv []string
	rt := &fakeRuntime{run: func(ctx context.Context, pod *api.Pod, container string, argv []string, stdout, stderr io.Writer) (int32, error) {
		gotArgv = argv
		switch argv[0] {
		case "ok":
			fmt.Fprint(stdout, "out ")
			fmt.Fprint(stderr, "err")
			return 0, nil
		case "cat":
			fmt.Fprintf(stderr, "cat: can't open '%s': No such file or directory\n", argv[1])
			return 1, nil
		case "chatty":
			fmt.Fprint(stdout, strings.Repeat("o", 8<<10))
			fmt.Fprint(stderr, strings.Repeat("e", 8<<10))
			return 0, nil
		case "hang":
			<-ctx.Done()
			return 0, ctx.Err()
		default:
			return 0, errors.New("module not found")
		}
	}}
	tests := []struct {
		name    string
		command []string
		env     []api.EnvVar
		res     result
		output  string
		argv    string
		errText string
	}{
		{name: "exit 0", command: []string{"ok"}, res: resultSuccess, output: "out err"},
		{name: "exit 1", command: []string{"cat", "/tmp/healthy"}, res: resultFailure, output: "cat: can't open '/tmp/healthy': No such file or directory\n"},
		{name: "output cut at 10 KiB", command: []string{"chatty"}, res: resultSuccess, output: strings.Repeat("o", 8<<10) + strings.Repeat("e", 2<<10)},
		{name: "static env expanded", command: []string{"cat", "$(DIR)/healthy", "$$(DIR)", "$(NOPE)", "$(FROM)"},
			env: []api.EnvVar{{Name: "DIR", Value: "/data"}, {Name: "FROM", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			res: resultFailure, output: "cat: can't open '/data/healthy': No such file or directory\n", argv: "cat /data/healthy $(DIR) $(NOPE) $(FROM)"},
		{name: "timeout", command: []string{"hang", "now"}, res: resultFailure, output: `command "hang now" timed out`},
		{name: "cannot run", command: []string{"missing"}, res: resultUnknown, errText: "module not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk, _ := newTestManager(t, rt)
			p := &api.Probe{ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: tt.command}}}
			pod := newTestPod(api.Container{Name: "c", Env: tt.env, LivenessProbe: p}, "127.0.0.1")
			if tt.command[0] == "hang" {
				advanceWhenWaiting(clk, 1, time.Second)
			}
			res, out, err := m.runProbe(context.Background(), p, testInstance(m, pod))
			if res != tt.res || out != tt.output {
				t.Errorf("got %s %q, want %s %q", res, out, tt.res, tt.output)
			}
			if got := fmt.Sprint(err); (tt.errText == "" && err != nil) || (tt.errText != "" && got != tt.errText) {
				t.Errorf("error %v, want %q", err, tt.errText)
			}
			if tt.argv != "" && strings.Join(gotArgv, " ") != tt.argv {
				t.Errorf("argv %q, want %q", gotArgv, tt.argv)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "x"},
		{"pre$(A)post", "prexpost"},
		{"$(A)$(A)", "xx"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$(B)", "$(B)"},
		{"$(EMPTY)", ""},
		{"$()", "$()"},
		{"$(A", "$(A"},
		{"$A", "$A"},
		{"$", "$"},
		{"a$", "a$"},
		{"$$$(A)", "$x"},
	}
	for _, tt := range tests {
		if got := expand(tt.in, vars); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$", "$(", "a$(A)b$$(B)", "$"} {
		f.Add(s)
	}
	vars := map[string]string{"A": "x"}
	f.Fuzz(func(t *testing.T, s string) {
		out := expand(s, vars)
		if !strings.Contains(s, "$") && out != s {
			t.Errorf("expand(%q) = %q without a $", s, out)
		}
		if len(out) > len(s)*2 {
			t.Errorf("expand(%q) grew to %q", s, out)
		}
	})
}

func FuzzDecodeHealthCheckResponse(f *testing.F) {
	for _, s := range [][]byte{{}, {8, 1}, {8, 2}, {8, 1, 18, 1, 'x'}, {0x80}, {13, 1, 2, 3, 4}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		status, err := decodeHealthCheckResponse(msg)
		if err == nil && len(msg) == 0 && status != 0 {
			t.Errorf("empty message decoded as %d", status)
		}
		if err != nil {
			var st *grpcStatus
			if !errors.As(err, &st) || st.code != grpcInternal {
				t.Errorf("error %v is not an Internal status", err)
			}
		}
	})
}

func TestDecodeHealthCheckResponse(t *testing.T) {
	tests := []struct {
		msg    []byte
		status uint64
		err    bool
	}{
		{nil, 0, false},
		{[]byte{8, 1}, 1, false},
		{[]byte{8, 2}, 2, false},
		{[]byte{18, 1, 'x', 8, 1}, 1, false}, // an unknown field first
		{[]byte{8}, 0, true},
		{[]byte{18, 5, 'x'}, 0, true},
		{[]byte{0x0f}, 0, true}, // wire type 7
	}
	for _, tt := range tests {
		status, err := decodeHealthCheckResponse(tt.msg)
		if status != tt.status || (err != nil) != tt.err {
			t.Errorf("decode(%v) = %d, %v", tt.msg, status, err)
		}
	}
	if got := encodeHealthCheckRequest("shop"); string(got) != "\x00\x00\x00\x00\x06\x0a\x04shop" {
		t.Errorf("request %q", got)
	}
}

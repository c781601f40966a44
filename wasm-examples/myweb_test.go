package examples_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/logging"
	"github.com/tetratelabs/wazero/experimental/sock"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// syncBuffer is a bytes.Buffer safe to read while the guest writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a loopback port that was free a moment ago: wazero's
// socket configuration takes a fixed port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// guestRun is a guest started under wazero's own WASI with one pre-opened
// listener at fd 3, as the node hands it over.
type guestRun struct {
	addr   string
	stdout *syncBuffer
	stdin  *os.File // write end; closing it is SIGTERM
	done   chan error
	feed   chan struct{} // closed to stop feeding stdin
}

func startGuest(t *testing.T, name string, env map[string]string, args ...string) *guestRun {
	t.Helper()
	wasm, err := os.ReadFile(examples.MustBuild(t, name))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ctx := sock.WithConfig(context.Background(), sock.NewConfig().WithTCPListener("127.0.0.1", port))
	if os.Getenv("WASMLOG") != "" {
		ctx = experimental.WithFunctionListenerFactory(ctx, logging.NewHostLoggingListenerFactory(os.Stderr, logging.LogScopeAll))
	}
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	t.Cleanup(func() { r.Close(context.Background()) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinR.Close(); stdinW.Close() })
	g := &guestRun{addr: fmt.Sprintf("127.0.0.1:%d", port), stdout: &syncBuffer{}, stdin: stdinW, done: make(chan error, 1)}
	cfg := wazero.NewModuleConfig().WithStdin(stdinR).WithStdout(g.stdout).WithStderr(g.stdout).
		WithArgs(append([]string{name}, args...)...).WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithEnv("HOSTNAME", "myweb-test").WithEnv("LISTEN_FDS", "1").WithEnv("LISTEN_FDS_START", "3").WithEnv("LISTEN_FDNAMES", "http")
	for k, v := range env {
		cfg = cfg.WithEnv(k, v)
	}
	go func() {
		_, err := r.InstantiateModule(ctx, compiled, cfg)
		g.done <- err
	}()
	// wazero's own poll_oneoff, while the guest also waits on stdin, blocks
	// on stdin alone until it is readable or a timer is due, and only then
	// reports the sockets ready. Feeding stdin a byte now and then (which
	// guest.Stop discards) keeps the guest's network moving. The node's WASI
	// layer polls stdin and sockets together and needs no such help.
	g.feed = make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-g.feed:
				return
			case <-tick.C:
				stdinW.Write([]byte{'\n'})
			}
		}
	}()
	t.Cleanup(func() {
		// A guest still running when the test ends is closed with the
		// runtime; wait for it so that no goroutine outlives the test.
		r.Close(context.Background())
		<-g.done
	})
	return g
}

// get retries until the guest answers or ten seconds pass.
func (g *guestRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get("http://" + g.addr + path)
		if err != nil {
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	t.Fatalf("GET %s: %v (guest output %q)", path, lastErr, g.stdout.String())
	return 0, ""
}

// terminate sends SIGTERM and returns the guest's exit code.
func (g *guestRun) terminate(t *testing.T) uint32 {
	t.Helper()
	close(g.feed)
	g.stdin.Close()
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("guest: %v", err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatalf("guest did not exit after SIGTERM; output %q", g.stdout.String())
		return 0
	}
}

func TestMywebServesPreopenedListener(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs myweb")
	}
	g := startGuest(t, "myweb", map[string]string{"FAIL_AFTER": "0s"})
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", http.StatusOK, "Hello World! I'm myweb-test\n"},
		{"/healthz", http.StatusInternalServerError, "unhealthy\n"},
		{"/nothing", http.StatusNotFound, "404 page not found\n"},
	}
	for _, tt := range tests {
		status, body := g.get(t, tt.path)
		if status != tt.status || body != tt.body {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.status, tt.body)
		}
	}
	if code := g.terminate(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	out := g.stdout.String()
	for _, want := range []string{"GET / 200", "GET /healthz 500", "got SIGTERM, draining", "myweb: exiting"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestMywebSaysOnlyWhatItKnows: a port declared without a name reaches the
// guest as "unknown" (LISTEN_FDNAMES), and an accepted connection has no
// peer address under WASI preview1; myweb prints neither as if it were one.
func TestMywebSaysOnlyWhatItKnows(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs myweb")
	}
	g := startGuest(t, "myweb", map[string]string{"LISTEN_FDNAMES": "unknown"})
	if status, _ := g.get(t, "/"); status != http.StatusOK {
		t.Fatalf("GET / = %d", status)
	}
	if code := g.terminate(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	out := g.stdout.String()
	if !strings.Contains(out, "myweb myweb-test: serving on the pre-opened listener (fd 3)\n") {
		t.Errorf("the serving line does not say which listener:\n%s", out)
	}
	if strings.Contains(out, "unknown") || strings.Contains(out, ":0 ") {
		t.Errorf("output shows an unknown port or peer:\n%s", out)
	}
	request := regexp.MustCompile(`(?m)^\S+ GET / 200$`)
	if !request.MatchString(out) {
		t.Errorf("no request line `TIME GET / 200`:\n%s", out)
	}
}

// TestMywebReportsItsVersionAndReadinessOnDemand: VERSION shows in every
// answer (a Deployment whose template changes it rolls out a new version),
// and /ready fails from DELETE /ready until PUT /ready (a readiness probe
// made to fail on demand).
func TestMywebReportsItsVersionAndReadinessOnDemand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs myweb")
	}
	g := startGuest(t, "myweb", map[string]string{"VERSION": "v2"})
	if status, body := g.get(t, "/"); status != http.StatusOK || body != "Hello World! I'm myweb-test\nVersion: v2\n" {
		t.Errorf("GET / = %d %q", status, body)
	}
	do := func(method, path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+g.addr+path, nil)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header.Get("X-Version")
	}
	steps := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/ready", http.StatusOK, "ready\n"},
		{"DELETE", "/ready", http.StatusServiceUnavailable, "not ready\n"},
		{"GET", "/ready", http.StatusServiceUnavailable, "not ready\n"},
		{"GET", "/", http.StatusOK, "Hello World! I'm myweb-test\nVersion: v2\n"},
		{"PUT", "/ready", http.StatusOK, "ready\n"},
		{"GET", "/ready", http.StatusOK, "ready\n"},
		{"POST", "/ready", http.StatusMethodNotAllowed, "method not allowed\n"},
	}
	for _, s := range steps {
		status, body, version := do(s.method, s.path)
		if status != s.status || body != s.body || version != "v2" {
			t.Errorf("%s %s = %d %q X-Version %q; want %d %q v2", s.method, s.path, status, body, version, s.status, s.body)
		}
	}
	if code := g.terminate(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if out := g.stdout.String(); !strings.Contains(out, ", version v2\n") {
		t.Errorf("the serving line does not say the version:\n%s", out)
	}
}

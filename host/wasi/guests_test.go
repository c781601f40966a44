package wasi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/host/wasi"
)

// Tests with the example guests of wasm-examples, built by the tests.

// serveMyweb starts myweb on a listener of its own and waits until it
// answers.
func serveMyweb(t *testing.T, out io.Writer) (*wasi.Instance, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	inst := start(t, "myweb", wasi.Config{
		Args: []string{"myweb"}, Env: []string{"HOSTNAME=web-1"}, Stdout: out,
		Listeners: []wasi.Listener{{Name: "http", L: l}},
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := get("http://" + addr + "/")
		if err == nil {
			if body != "Hello World! I'm web-1\n" {
				t.Fatalf("GET / = %q", body)
			}
			return inst, addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("myweb does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestMywebTerminate(t *testing.T) {
	var out syncBuffer
	inst, addr := serveMyweb(t, &out)
	for range 3 {
		if _, err := get("http://" + addr + "/healthz"); err != nil {
			t.Fatal(err)
		}
	}
	inst.Terminate()
	select {
	case <-inst.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("myweb did not stop on SIGTERM")
	}
	if st := inst.Wait(); st.Code != 0 || st.Killed {
		t.Errorf("status = %+v, want exit 0", st)
	}
	if !strings.Contains(out.String(), "myweb: got SIGTERM, draining") || strings.Count(out.String(), "GET /healthz 200") != 3 {
		t.Errorf("stdout:\n%s", out.String())
	}
	rebind(t, addr)
}

// rebind checks that addr can be bound again.
func rebind(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("%s is still bound: %v", addr, err)
		return
	}
	l.Close()
}

func TestKillGuests(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (*wasi.Instance, string)
	}{
		{"idle web server", func(t *testing.T) (*wasi.Instance, string) { return serveMyweb(t, io.Discard) }},
		{"sleeping", func(t *testing.T) (*wasi.Instance, string) {
			var out syncBuffer
			inst := start(t, "stubborn", wasi.Config{Args: []string{"stubborn"}, Env: []string{"INTERVAL=1h"}, Stdout: &out})
			waitFor(t, func() bool { return strings.Contains(out.String(), "SIGTERM will be ignored") })
			inst.Terminate() // ignored
			return inst, ""
		}},
		{"spinning", func(t *testing.T) (*wasi.Instance, string) {
			var out syncBuffer
			inst := start(t, "spin", wasi.Config{Args: []string{"spin"}, Stdout: &out})
			waitFor(t, func() bool { return strings.Contains(out.String(), "spinning") })
			return inst, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, addr := tt.start(t)
			select {
			case <-inst.Done():
				t.Fatalf("ended before Kill: %+v", inst.Wait())
			case <-time.After(50 * time.Millisecond):
			}
			killed := time.Now()
			inst.Kill()
			waitKilled(t, inst)
			t.Logf("ended %s after Kill", time.Since(killed))
			if addr != "" {
				rebind(t, addr)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestContextEndKills(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := wasi.Start(ctx, testRT, compiled(t, "stubborn"), wasi.Config{Env: []string{"INTERVAL=1h"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitKilled(t, inst)
}

// waitKilled waits for a killed instance to end, and checks that it ended
// as killed: exit 137, not for memory.
func waitKilled(t *testing.T, inst *wasi.Instance) {
	t.Helper()
	select {
	case <-inst.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not ended 10 s after it was killed")
	}
	if st := inst.Wait(); st.Code != wasi.ExitCodeKilled || !st.Killed || st.OOMKilled {
		t.Errorf("status = %+v, want killed with 137", st)
	}
}

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit uint64
		oom   bool
	}{
		{"over the limit", 48 << 20, true},
		{"initial memory over the limit", 64 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			inst := start(t, "hog", wasi.Config{Args: []string{"hog"}, Env: []string{"INTERVAL=1ms"}, Stdout: &out, MemoryLimitBytes: tt.limit})
			select {
			case <-inst.Done():
			case <-time.After(60 * time.Second):
				t.Fatalf("hog still runs; stdout:\n%s", out.String())
			}
			st := inst.Wait()
			if st.OOMKilled != tt.oom || st.Code != wasi.ExitCodeKilled || st.Killed {
				t.Errorf("status = %+v, want OOMKilled with 137", st)
			}
			t.Logf("%+v; last output: %q", st, lastLine(out.String()))
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestIdleCPU checks that an idle web server guest costs no CPU: the
// process's CPU time over a second stays far below what a busy poll
// (a whole core) would use.
func TestIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a second")
	}
	serveMyweb(t, io.Discard)
	serveMyweb(t, io.Discard)
	time.Sleep(200 * time.Millisecond) // let the guests settle
	runtime.GC()
	before := cpuTime(t)
	start := time.Now()
	time.Sleep(time.Second)
	used, wall := cpuTime(t)-before, time.Since(start)
	t.Logf("two idle guests: %s of CPU in %s (%.1f%% of a core)", used, wall, 100*float64(used)/float64(wall))
	if used > wall/5 {
		t.Errorf("idle guests used %s of CPU in %s", used, wall)
	}
}

func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

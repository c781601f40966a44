package host

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/internal/clock"
)

func TestParseImage(t *testing.T) {
	pin := strings.Repeat("ab", 32)
	tests := []struct {
		image   string
		want    ImageRef
		wantErr string
	}{
		{"bin/hello.wasm", ImageRef{Path: "/root/bin/hello.wasm"}, ""},
		{"/abs/hello.wasm", ImageRef{Path: "/abs/hello.wasm"}, ""},
		{"file:///abs/hello.wasm", ImageRef{Path: "/abs/hello.wasm"}, ""},
		{"file://rel/hello.wasm", ImageRef{Path: "/root/rel/hello.wasm"}, ""},
		{"../up.wasm", ImageRef{Path: "/up.wasm"}, ""},
		{"https://example.com/m.wasm", ImageRef{URL: "https://example.com/m.wasm"}, ""},
		{"http://127.0.0.1:8080/m.wasm@sha256:" + pin, ImageRef{URL: "http://127.0.0.1:8080/m.wasm", Digest: pin}, ""},
		{"hello.wasm@sha256:" + strings.ToUpper(pin), ImageRef{Path: "/root/hello.wasm", Digest: pin}, ""},
		{"", ImageRef{}, "invalid image name: empty"},
		{"hello.wasm@sha256:abc", ImageRef{}, "64 hex digits"},
		{"hello.wasm@sha256:" + strings.Repeat("zz", 32), ImageRef{}, "not hex"},
		{"docker://nginx", ImageRef{}, "the image is a path on the node"},
		{"https://", ImageRef{}, "invalid image name"},
		{"file://", ImageRef{}, "invalid image name"},
	}
	for _, tt := range tests {
		got, err := ParseImage(tt.image, "/root")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.image, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.image, got, err, tt.want)
		}
	}
}

func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"bin/hello.wasm", "file:///a", "https://h/m.wasm@sha256:" + strings.Repeat("0", 64), "@sha256:", "x://", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseImage(s, "/root")
		if err != nil {
			return
		}
		if (ref.Path == "") == (ref.URL == "") {
			t.Fatalf("%q: exactly one of path and URL must be set: %+v", s, ref)
		}
		if ref.Path != "" && !filepath.IsAbs(ref.Path) {
			t.Fatalf("%q: relative path %q", s, ref.Path)
		}
		if ref.Digest != "" && len(ref.Digest) != 64 {
			t.Fatalf("%q: digest %q", s, ref.Digest)
		}
	})
}

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		stream  string
		partial bool
		text    string
	}{
		{"2026-01-02T03:04:05.123456789Z stdout F hello world", true, "stdout", false, "hello world"},
		{"2026-01-02T03:04:05Z stderr P part", true, "stderr", true, "part"},
		{"2026-01-02T03:04:05Z stdout F", true, "stdout", false, ""},
		{"2026-01-02T03:04:05Z stdout F ", true, "stdout", false, ""},
		{"2026-01-02T03:04:05Z stdin F x", false, "", false, ""},
		{"2026-01-02T03:04:05Z stdout X x", false, "", false, ""},
		{"2026-01-02T03:04:05Z stdout Fx", false, "", false, ""},
		{"yesterday stdout F x", false, "", false, ""},
		{"", false, "", false, ""},
	}
	for _, tt := range tests {
		r, err := parseLogLine([]byte(tt.line))
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v", tt.line, err)
			continue
		}
		if tt.ok && (r.stream != tt.stream || r.partial != tt.partial || string(r.text) != tt.text) {
			t.Errorf("%q: %+v", tt.line, r)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	f.Add([]byte("2026-01-02T03:04:05.123456789Z stdout F hello"))
	f.Add([]byte("2026-01-02T03:04:05Z stderr P "))
	f.Add([]byte(" "))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseLogLine(line)
		if err != nil {
			return
		}
		if r.stream != "stdout" && r.stream != "stderr" {
			t.Fatalf("stream %q", r.stream)
		}
	})
}

func TestContainerLogWriteRotateAndRead(t *testing.T) {
	clk := clock.NewFake(t0)
	dir, name := t.TempDir(), filepath.Join("c", "0.log")
	path := filepath.Join(dir, name)
	l, err := openContainerLog(dir, name, 200, clk)
	if err != nil {
		t.Fatal(err)
	}
	out, errw := l.Stream("stdout"), l.Stream("stderr")
	out.Write([]byte("one\ntw"))
	out.Write([]byte("o\n"))
	errw.Write([]byte("oops\n"))
	clk.Advance(time.Minute)
	for i := 0; i < 5; i++ {
		out.Write([]byte("line of some length to fill the file\n"))
	}
	out.Write([]byte("unfinished"))
	out.Close()
	errw.Close()
	l.Close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	read := func(opts LogOptions) string {
		var b bytes.Buffer
		if err := readLog(context.Background(), dir, name, opts, clk.Now(), nil, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	all := read(LogOptions{})
	if !strings.HasSuffix(all, "line of some length to fill the file\nunfinished") {
		t.Errorf("all: %q", all)
	}
	tail := int64(2)
	if got := read(LogOptions{TailLines: &tail}); got != "line of some length to fill the file\nunfinished" {
		t.Errorf("tail 2: %q", got)
	}
	since := int64(30)
	if got := read(LogOptions{SinceSeconds: &since}); strings.Contains(got, "oops") {
		t.Errorf("since 30s: %q", got)
	}
	zero := int64(0)
	if got := read(LogOptions{TailLines: &zero}); got != "" {
		t.Errorf("tail 0: %q", got)
	}
}

func TestContainerLogFollow(t *testing.T) {
	clk := clock.NewFake(t0)
	dir := t.TempDir()
	l, err := openContainerLog(dir, "0.log", 0, clk)
	if err != nil {
		t.Fatal(err)
	}
	out := l.Stream("stdout")
	out.Write([]byte("first\n"))
	pr, pw := ioPipe()
	done := make(chan error, 1)
	go func() {
		done <- readLog(context.Background(), dir, "0.log", LogOptions{Follow: true}, clk.Now(), l, pw)
		pw.Close()
	}()
	if got := pr.next(); got != "first\n" {
		t.Fatalf("got %q", got)
	}
	out.Write([]byte("second\n"))
	if got := pr.next(); got != "second\n" {
		t.Fatalf("got %q", got)
	}
	out.Close()
	l.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// linePipe hands written chunks to the reader one at a time.
type linePipe struct{ ch chan string }

func ioPipe() (*linePipe, *linePipe) { p := &linePipe{ch: make(chan string, 16)}; return p, p }

func (p *linePipe) Write(b []byte) (int, error) { p.ch <- string(b); return len(b), nil }
func (p *linePipe) Close() error                { return nil }
func (p *linePipe) next() string {
	select {
	case s := <-p.ch:
		return s
	case <-clock.Real().After(10 * time.Second):
		return "<timeout>"
	}
}

func TestIPAllocator(t *testing.T) {
	a, err := newIPAllocator("127.42.0.0/30")
	if err != nil {
		t.Fatal(err)
	}
	ip, err := a.Allocate("a")
	if err != nil || ip != "127.42.0.2" {
		t.Fatalf("first IP %q, %v", ip, err)
	}
	if again, _ := a.Allocate("a"); again != ip {
		t.Errorf("same pod got %q then %q", ip, again)
	}
	if _, err := a.Allocate("b"); err == nil {
		t.Error("a /30 has one pod address; second allocation succeeded")
	}
	a.Release("a")
	if ip, err := a.Allocate("b"); err != nil || ip != "127.42.0.2" {
		t.Errorf("after release: %q, %v", ip, err)
	}
	if a.Reserve("c", "127.42.0.2") {
		t.Error("reserved an IP held by another pod")
	}
	if a.Reserve("c", "10.0.0.1") || a.Reserve("c", "127.42.0.1") || a.Reserve("c", "127.42.0.0") {
		t.Error("reserved an IP outside the usable range")
	}
	if _, err := newIPAllocator("nonsense"); err == nil {
		t.Error("bad CIDR accepted")
	}
	b, _ := newIPAllocator("127.42.0.0/16")
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		ip, err := b.Allocate(string(rune('a' + i)))
		if err != nil || seen[ip] || ip == "127.42.0.1" || ip == "127.42.0.0" {
			t.Fatalf("allocation %d: %q, %v", i, ip, err)
		}
		seen[ip] = true
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	tests := map[string]string{
		"$(A)":        "x",
		"$(A)-$(B)":   "x-y",
		"$$(A)":       "$(A)",
		"$(C)":        "$(C)",
		"$(A":         "$(A",
		"plain":       "plain",
		"$":           "$",
		"a$b":         "a$b",
		"$(A)$(A)$$$": "xx$$",
	}
	for in, want := range tests {
		if got := expandVars(in, vars); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

// A line far longer than maxLogLine, written at once, becomes whole partial
// records and leaves only its tail pending.
func TestContainerLogLongLine(t *testing.T) {
	dir := t.TempDir()
	l, err := openContainerLog(dir, "0.log", 64<<20, clock.NewFake(t0))
	if err != nil {
		t.Fatal(err)
	}
	out := l.Stream("stdout")
	out.Write(bytes.Repeat([]byte("x"), 64*maxLogLine+5))
	out.Close()
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 65 {
		t.Fatalf("%d records, want 65", len(lines))
	}
	for k, line := range lines {
		want := maxLogLine
		if k == 64 {
			want = 5
		}
		if f := strings.SplitN(line, " ", 4); len(f) != 4 || f[2] != "P" || len(f[3]) != want {
			t.Fatalf("record %d: %.60q... (%d bytes of text), want a partial record of %d", k, line, len(f[len(f)-1]), want)
		}
	}
}

// BenchmarkContainerLogLongLine: 16 MiB without a newline in one write
// (took seconds while each record moved the rest of the line).
func BenchmarkContainerLogLongLine(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 16<<20)
	for b.Loop() {
		dir := b.TempDir()
		l, err := openContainerLog(dir, "0.log", 64<<20, clock.NewFake(t0))
		if err != nil {
			b.Fatal(err)
		}
		out := l.Stream("stdout")
		out.Write(line)
		out.Close()
		l.Close()
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestUpKeepsTheCompilationCache: `wasmlet up` without --data-dir runs on a
// data dir it removes at the end, but keeps the machine code of the modules
// in the user's cache dir, so that the second run starts myweb without
// compiling it again (about 15 s for myweb on a quiet 2-core machine). The
// node says which: its log (-v) has cached=false, then cached=true.
func TestUpKeepsTheCompilationCache(t *testing.T) {
	t.Parallel()
	bin := build(t)
	if _, err := examples.Build("myweb"); err != nil {
		t.Fatal(err)
	}
	manifests := t.TempDir()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(manifests, "myweb-pod.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	cidr := podCIDR()
	running := regexp.MustCompile(`(?m)\bmyweb\s+1/1\s+Running\b`)
	compiled := regexp.MustCompile(`msg="module compiled" .*\bcached=(true|false)\b`)

	for i, want := range []string{"false", "true"} {
		cmd := exec.Command(bin, "up", "-v", "-f", manifests, "--image-root", repoRoot(t), "--pod-cidr", cidr,
			"--node-name", "n1", "--shutdown-grace-period", "5s")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache)
		var stdout, stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		deadline := time.Now().Add(3 * time.Minute)
		for !running.MatchString(stdout.String()) || !compiled.MatchString(stderr.String()) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-done
				t.Fatalf("run %d: myweb not Running after 3 minutes:\nstdout:\n%s\nstderr:\n%s", i+1, stdout.String(), stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := compiled.FindStringSubmatch(stderr.String())[1]; got != want {
			t.Errorf("run %d: myweb compiled with cached=%s, want %s:\n%s", i+1, got, want, stderr.String())
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run %d: up after SIGINT: %v\n%s", i+1, err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("run %d: up still runs 30 s after SIGINT", i+1)
		}
		if strings.Contains(stderr.String(), "compilation cache: removed") {
			t.Errorf("run %d: an entry was refused:\n%s", i+1, stderr.String())
		}
	}
	// In the user's cache dir, not in the data dir that up removed.
	entries, _ := filepath.Glob(filepath.Join(cache, "wasmlet", "compilation", "build-*", "wazero-*", "*.seal"))
	if len(entries) == 0 {
		t.Errorf("no sealed entry under %s", filepath.Join(cache, "wasmlet", "compilation"))
	}
}

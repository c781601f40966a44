package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestServeInitContainers applies the example manifests with init
// containers to a node of the built binary and reads the STATUS column of
// `wasmlet get pods`, and of kubectl's when it is installed, as a user
// watching them does: init-demo goes Init:0/2, Init:1/2, then Running;
// init-crash goes Init:Error, then Init:CrashLoopBackOff, its container
// never started.
func TestServeInitContainers(t *testing.T) {
	t.Parallel()
	bin := build(t)
	if _, err := examples.Build("crash"); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	startServer(t, bin, serveArgs(t, dataDir))
	manifests := filepath.Join(repoRoot(t), "wasm-examples", "manifests")
	run(t, bin, kc, "apply", "-f", filepath.Join(manifests, "init-pod.yaml"))
	run(t, bin, kc, "apply", "-f", filepath.Join(manifests, "exercises", "init-crash-pod.yaml"))
	kubectl, _ := exec.LookPath("kubectl")

	// The STATUS each tool showed for each pod, repeats dropped.
	seen := map[string][]string{}
	note := func(tool, out string) {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[0] == "NAME" {
				continue
			}
			key := tool + " " + f[0]
			if s := seen[key]; len(s) == 0 || s[len(s)-1] != f[2] {
				seen[key] = append(s, f[2])
			}
		}
	}
	last := func(key string) string {
		if s := seen[key]; len(s) > 0 {
			return s[len(s)-1]
		}
		return ""
	}
	tools := []string{"wasmlet"}
	if kubectl != "" {
		tools = append(tools, "kubectl")
	}
	// The first start compiles the crash and myweb modules (seconds each,
	// more on a loaded machine).
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		out, _, err := runErr(bin, kc, "get", "pods")
		if err == nil {
			note("wasmlet", out)
		}
		if kubectl != "" {
			if out, err := exec.Command(kubectl, "--kubeconfig", kc, "get", "pods").Output(); err == nil {
				note("kubectl", string(out))
			}
		}
		done := true
		for _, tool := range tools {
			done = done && last(tool+" init-demo") == "Running" && last(tool+" init-crash") == "Init:CrashLoopBackOff"
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("STATUS seen after 3 minutes: %q", seen)
		}
	}
	t.Logf("STATUS seen: %q", seen)
	// Each tool saw the steps in order; a poll may fall between two
	// writes and miss one, never see them out of order.
	inOrder := func(got, want []string, need ...string) bool {
		i := 0
		for _, s := range got {
			for i < len(want) && want[i] != s {
				i++
			}
			if i == len(want) {
				return false
			}
		}
		for _, s := range need {
			if !slices.Contains(got, s) {
				return false
			}
		}
		return true
	}
	for _, tool := range tools {
		if got := seen[tool+" init-demo"]; !inOrder(got, []string{"Pending", "Init:0/2", "Init:1/2", "PodInitializing", "Running"}, "Init:0/2", "Init:1/2") {
			t.Errorf("%s get pods: init-demo went %q", tool, got)
		}
		// A crash loop cycles Init:0/1, Init:Error, Init:CrashLoopBackOff
		// and back to Init:0/1 at each restart; a poll may miss any one
		// of them, so only the states and the first one are checked.
		if got := seen[tool+" init-crash"]; len(got) == 0 || !slices.Contains([]string{"Pending", "Init:0/1"}, got[0]) ||
			!slices.Contains(got, "Init:CrashLoopBackOff") || slices.ContainsFunc(got, func(s string) bool {
			return !slices.Contains([]string{"Pending", "Init:0/1", "Init:Error", "Init:CrashLoopBackOff"}, s)
		}) {
			t.Errorf("%s get pods: init-crash went %q", tool, got)
		}
	}
	out := run(t, bin, kc, "get", "pod", "init-crash", "-o",
		"jsonpath={.status.phase} {.status.initContainerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.reason} {.status.conditions[?(@.type==\"Initialized\")].reason}")
	// Restarted at least once (a back-off may have ended since).
	if f := strings.Fields(out); len(f) != 4 || f[0] != "Pending" || f[1] == "0" || f[2] != "PodInitializing" || f[3] != "ContainersNotInitialized" {
		t.Errorf("init-crash: phase, init restarts, container's reason, Initialized's reason: %q", out)
	}
	if logs := run(t, bin, kc, "logs", "init-demo", "-c", "migrate"); !strings.Contains(logs, "exiting with code 0") {
		t.Errorf("logs init-demo -c migrate: %q", logs)
	}
}

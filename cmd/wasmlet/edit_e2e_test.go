package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// userEnv is the environment of a user's shell: the test's own, without
// the variables the test sets, and with those it sets.
func userEnv(set ...string) []string {
	drop := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// runEnv runs a program in env and returns its stdout, stderr and error.
func runEnv(env []string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// editorScript writes a shell script that runs step on the file it is
// given, as an editor would change it, the first time it runs; later (an
// edit the node refused reopens the editor) it saves the file unchanged,
// which ends the edit.
func editorScript(t *testing.T, step string) string {
	t.Helper()
	dir := t.TempDir()
	path, ran := filepath.Join(dir, "editor"), filepath.Join(dir, "ran")
	script := "#!/bin/sh\nset -e\n[ -e " + ran + " ] && exit 0\ntouch " + ran + "\n" + step + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEditAsAUserRunsIt: `wasmlet edit rc myweb-rc` from the built binary,
// in a shell's environment, with an editor that saves nothing, one that
// changes a field, and KUBE_EDITOR over EDITOR. It panicked in a process
// (a dependency only the unit tests set), and printed nothing kubectl
// prints. kubectl, when installed, prints the same.
func TestEditAsAUserRunsIt(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	startServer(t, bin, serveArgs(t, dataDir))
	run(t, bin, kc, "apply", "-f", filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-rc.yaml"))
	tmp := t.TempDir()
	base := []string{"KUBECONFIG=" + kc, "TMPDIR=" + tmp}

	edit := func(name string, editors ...string) (string, string, error) {
		return runEnv(userEnv(append(append([]string{}, base...), editors...)...), name, "edit", "rc", "myweb-rc")
	}
	field := func(path string) string {
		return run(t, bin, kc, "get", "rc", "myweb-rc", "-o", "jsonpath={"+path+"}")
	}

	cancelled := func(who string, out, errOut string, err error) {
		t.Helper()
		if err != nil || out != "" || errOut != "Edit cancelled, no changes made.\n" {
			t.Errorf("%s edit with EDITOR=true: %v\nstdout %q\nstderr %q", who, err, out, errOut)
		}
	}
	out, errOut, err := edit(bin, "KUBE_EDITOR=", "EDITOR=true")
	cancelled("wasmlet", out, errOut, err)

	replicas := editorScript(t, `sed -i 's/^  replicas: 3$/  replicas: 2/' "$1"`)
	out, errOut, err = edit(bin, "KUBE_EDITOR=", "EDITOR="+replicas)
	if err != nil || out != "replicationcontroller/myweb-rc edited\n" || errOut != "" {
		t.Errorf("edit of replicas: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	if got := field(".spec.replicas"); got != "2" {
		t.Errorf("spec.replicas after the edit = %q, want 2", got)
	}

	// KUBE_EDITOR is the editor when both are set; EDITOR here would fail.
	label := editorScript(t, `sed -i '/^  labels:$/{n;s/^    app: web$/    app: web\n    tier: front/}' "$1"`)
	out, errOut, err = edit(bin, "KUBE_EDITOR="+label, "EDITOR=false")
	if err != nil || out != "replicationcontroller/myweb-rc edited\n" || errOut != "" {
		t.Errorf("edit with KUBE_EDITOR: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	if got := field(".metadata.labels.tier"); got != "front" {
		t.Errorf("metadata.labels.tier after the edit = %q, want front", got)
	}
	// An editor command with arguments runs through the shell.
	out, errOut, err = edit(bin, "KUBE_EDITOR=", "EDITOR=sh -c true")
	cancelled("wasmlet (EDITOR=sh -c true)", out, errOut, err)

	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("edits that were saved or cancelled left %d files in TMPDIR", len(left))
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl is not in PATH: its edit is not compared")
		return
	}
	out, errOut, err = edit(kubectl, "KUBE_EDITOR=", "EDITOR=true")
	cancelled("kubectl", out, errOut, err)
	back := editorScript(t, `sed -i 's/^  replicas: 2$/  replicas: 3/' "$1"`)
	out, errOut, err = edit(kubectl, "KUBE_EDITOR="+back, "EDITOR=false")
	if err != nil || out != "replicationcontroller/myweb-rc edited\n" || errOut != "" {
		t.Errorf("kubectl edit with KUBE_EDITOR: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
}

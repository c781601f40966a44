package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompletionAsAUserRunsIt: the script of `wasmlet completion bash`,
// sourced by a real bash, completes verbs, kinds and the node's object
// names through the built binary; zsh's, when zsh is installed, completes
// in an interactive zsh as a user presses Tab.
func TestCompletionAsAUserRunsIt(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	startServer(t, bin, serveArgs(t, dataDir))
	run(t, bin, kc, "apply", "-f", filepath.Join(repoRoot(t), "wasm-examples", "manifests", "myweb-pod.yaml"))
	env := userEnv("KUBECONFIG=" + kc)

	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is not installed")
	}
	// complete sources the script and calls its function as bash does on
	// Tab: COMP_WORDS is the line (the program first), COMP_CWORD the word
	// under the cursor, the last one given.
	const script = `source <("$0" completion bash) || exit 1
complete -p wasmlet >/dev/null || exit 1
COMP_WORDS=("$0" "$@")
COMP_CWORD=$#
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
__wasmlet_complete
printf '%s\n' "${COMPREPLY[@]}"`
	complete := func(words ...string) []string {
		t.Helper()
		start := time.Now()
		out, errOut, err := runEnv(env, "bash", append([]string{"-c", script, bin}, words...)...)
		if err != nil || errOut != "" {
			t.Fatalf("bash completion of %q: %v\nstdout %s\nstderr %s", words, err, out, errOut)
		}
		t.Logf("%q completed in %v", words, time.Since(start).Round(time.Millisecond))
		return strings.Fields(out)
	}
	has := func(words []string, got []string, want ...string) {
		t.Helper()
		set := map[string]bool{}
		for _, g := range got {
			set[g] = true
		}
		for _, w := range want {
			if !set[w] {
				t.Errorf("completion of %q: %q has no %q", words, got, w)
			}
		}
	}
	equal := func(words []string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("completion of %q: %q, want %q", words, got, want)
		}
	}
	for _, tt := range []struct {
		words []string
		check func([]string, []string, ...string)
		want  []string
	}{
		{[]string{"ge"}, equal, []string{"get"}},
		{[]string{""}, has, []string{"get", "describe", "delete", "edit", "logs", "apply", "completion"}},
		{[]string{"get", ""}, has, []string{"pods", "po", "replicationcontrollers", "rc", "replicasets", "rs", "nodes", "no", "events", "ev", "namespaces", "ns", "all"}},
		{[]string{"describe", "r"}, equal, []string{"replicationcontrollers", "rc", "replicasets", "rs"}},
		{[]string{"get", "pods", ""}, equal, []string{"myweb"}},
		{[]string{"delete", "po", "my"}, equal, []string{"myweb"}},
		{[]string{"get", "pod/"}, equal, []string{"pod/myweb"}},
		{[]string{"logs", "m"}, equal, []string{"myweb"}},
		{[]string{"get", "nodes", ""}, equal, []string{"n1"}},
		{[]string{"get", "pods", "-n", ""}, has, []string{"default"}},
		{[]string{"get", "pods", "-n", "kube-system", ""}, equal, nil},
		// bash splits --namespace=de at the '='.
		{[]string{"get", "pods", "--namespace", "=", "de"}, equal, []string{"default"}},
		{[]string{"edit", "--ou"}, equal, []string{"--output"}},
		{[]string{"completion", ""}, equal, []string{"bash", "zsh"}},
	} {
		tt.check(tt.words, complete(tt.words...), tt.want...)
	}

	// A node that does not answer: kinds still complete, names are none,
	// and the shell is not kept waiting.
	down := userEnv("KUBECONFIG=" + filepath.Join(t.TempDir(), "none.yaml"))
	start := time.Now()
	out, errOut, err := runEnv(down, "bash", "-c", script, bin, "get", "pods", "")
	if err != nil || out != "\n" || errOut != "" {
		t.Errorf("completion without a node: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("completion without a node took %v", d)
	}

	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Log("zsh is not installed: its completion is not tried")
		return
	}
	t.Run("zsh", func(t *testing.T) { zshCompletes(t, zsh, bin, kc) })
}

// zshCompletes types lines into an interactive zsh (on a pseudo-terminal,
// through zsh's own zpty) with the script loaded, presses Tab, then Enter,
// and reads what the completed command printed.
func zshCompletes(t *testing.T, zsh, bin, kubeconfig string) {
	binDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(binDir, "wasmlet")); err != nil {
		t.Fatal(err)
	}
	// Keys are queued on the terminal, so Tab completes before Enter runs
	// the line; the output is read until it holds WANT, for 20 s at most.
	const script = `zmodload zsh/zpty || exit 1
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; autoload -Uz compinit; compinit -u; source <(wasmlet completion zsh)'
zpty -w -n z "$TYPED"$'\t\n'
out= line=
for i in {1..100}; do
    while zpty -r -t z line; do out+=$line; done
    [[ $out == *$WANT* ]] && break
    sleep 0.2
done
print -r -- "$out"
zpty -d z`
	for _, tt := range []struct{ typed, want string }{
		{"wasmlet get -o name po my", "pod/myweb"},
		{"wasmlet get -o name nod", "node/n1"},
		{"wasmlet get pods -o name --namespace=defa", "pod/myweb"},
	} {
		env := userEnv("KUBECONFIG="+kubeconfig, "PATH="+binDir+":"+os.Getenv("PATH"), "HOME="+t.TempDir(), "TYPED="+tt.typed, "WANT="+tt.want)
		out, errOut, err := runEnv(env, zsh, "-f", "-c", script)
		if err != nil || !strings.Contains(out, tt.want) {
			t.Errorf("zsh: typed %q, Tab, Enter: %v, want %q in\n%s%s", tt.typed, err, tt.want, out, errOut)
		}
	}
}

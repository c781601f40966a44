package cli

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

// TestCompleteWords: the candidates for the last word of a line, with the
// node's names given by a lister that answers by kind.
func TestCompleteWords(t *testing.T) {
	app := (&environment{}).newApp()
	var verbs []string
	for _, c := range app.Commands {
		if !c.Hidden {
			verbs = append(verbs, c.Name)
		}
	}
	names := map[string][]string{
		"pods":                   {"myweb", "myweb-rc-abcde", "other"},
		"replicationcontrollers": {"myweb-rc"},
		"namespaces":             {"default", "kube-system"},
		"nodes":                  {"n1"},
	}
	var asked []string // kind and flags of each question to the node
	lister := func(cmd *ucli.Command, flags []string, r *api.ResourceInfo) []string {
		asked = append(asked, cmd.Name+" "+r.Resource+" "+strings.Join(flags, " "))
		return names[r.Resource]
	}
	allKinds := "pods po replicationcontrollers rc services svc deployments deploy replicasets rs endpoints ep endpointslices configmaps cm secrets events ev namespaces ns nodes no"
	for _, tt := range []struct {
		words string // the last word is the one completed; _ is an empty word
		want  string // space-separated; :files when the shell completes files
		asked string
	}{
		{"_", strings.Join(verbs, " "), ""},
		{"ge", "get", ""},
		{"de", "describe delete", ""},
		{"get _", allKinds + " all", ""},
		{"get r", "replicationcontrollers rc replicasets rs", ""},
		{"describe p", "pods po", ""},
		{"explain _", allKinds, ""},
		{"get pods,r", "pods,replicationcontrollers pods,rc pods,replicasets pods,rs", ""},
		{"get po _", "myweb myweb-rc-abcde other", "get pods "},
		{"get pods my", "myweb myweb-rc-abcde", "get pods "},
		{"delete pod myweb _", "myweb-rc-abcde other", "delete pods "},
		{"edit rc _", "myweb-rc", "edit replicationcontrollers "},
		{"edit -n kube-system rc _", "myweb-rc", "edit replicationcontrollers -n kube-system"},
		{"get no _", "n1", "get nodes "},
		{"describe rc/m", "rc/myweb-rc", "describe replicationcontrollers "},
		{"get pods,rc _", "", ""},
		{"get nothings _", "", ""},
		{"logs _", "myweb myweb-rc-abcde other", "logs pods "},
		{"logs pod/o", "pod/other", "logs pods "},
		{"logs myweb _", "", ""},
		{"get -n _", "default kube-system", "get namespaces "},
		{"get pods --namespace=k", "kube-system", "get namespaces "},
		{"get pods --namespace = k", "kube-system", "get namespaces "},
		{"get pods --namespace =", "default kube-system", "get namespaces "},
		{"apply -f _", ":files", ""},
		{"apply --filename=m", ":files", ""},
		{"get --kubeconfig _", ":files", ""},
		{"edit --o", "--output", ""},
		{"scale -", "--kubeconfig --namespace -n --request-timeout --filename -f --recursive -R --replicas --current-replicas --resource-version --selector -l --all --timeout --help -h", ""},
		{"apply _", "", ""},
		{"completion _", "bash zsh", ""},
		{"completion z", "zsh", ""},
		{"completion bash _", "", ""},
		{"frobnicate _", "", ""},
	} {
		asked = nil
		words := strings.Fields(strings.ReplaceAll(tt.words, "_", " _ "))
		for i, w := range words {
			if w == "_" {
				words[i] = ""
			}
		}
		got, files := completeWords(app, words, lister)
		s := strings.Join(got, " ")
		if files {
			s = strings.TrimSpace(s + " :files")
		}
		if tt.words == "scale -" {
			// The flags of a verb are its own: compare with what it declares.
			if !strings.HasPrefix(s, "--kubeconfig --namespace -n --request-timeout") || !strings.HasSuffix(s, "--help -h") || !strings.Contains(s, "--replicas") {
				t.Errorf("%q: %q", tt.words, s)
			}
			continue
		}
		if s != tt.want {
			t.Errorf("%q: got %q, want %q", tt.words, s, tt.want)
		}
		if a := strings.Join(asked, ";"); a != tt.asked {
			t.Errorf("%q: asked the node %q, want %q", tt.words, a, tt.asked)
		}
	}
}

// TestCompleteKindsFromTheKindTable: every name of every kind the CLI
// accepts after get, and only those, is a candidate.
func TestCompleteKindsFromTheKindTable(t *testing.T) {
	app := (&environment{}).newApp()
	got, _ := completeWords(app, []string{"get", ""}, func(*ucli.Command, []string, *api.ResourceInfo) []string { return nil })
	want := map[string]bool{}
	for _, r := range api.Resources() {
		want[r.Resource] = true
		for _, s := range r.ShortNames {
			want[s] = true
		}
		for _, c := range r.Categories {
			want[c] = true
		}
	}
	if len(got) != len(want) {
		t.Errorf("candidates %v, want the %d names of the kind table", got, len(want))
	}
	for _, k := range got {
		if _, err := parseResourceArgs([]string{k}); err != nil || !want[k] {
			t.Errorf("candidate %q: %v", k, err)
		}
	}
}

// completeLine runs `wasmlet __complete` as the scripts run it.
func completeLine(env *environment, words ...string) (int, string, string) {
	var out, errOut syncBuffer
	env.stdout, env.stderr = &out, &errOut
	code := env.run(context.Background(), append([]string{"wasmlet", completeCommandName}, words...))
	return code, out.String(), errOut.String()
}

// TestCompleteAsksTheNode: __complete lists names through the client the
// verb uses, in the namespace of -n, and prints only the directive when
// the node cannot be reached.
func TestCompleteAsksTheNode(t *testing.T) {
	now := time.Now()
	node := newMemoryNode(now)
	for _, p := range []struct{ ns, name string }{{"default", "web-1"}, {"default", "web-2"}, {"other", "db"}} {
		pod := &api.Pod{}
		pod.Namespace, pod.Name = p.ns, p.name
		node.seed(pod)
	}
	var kubeconfigs []string
	env := &environment{dial: func(kc string) (nodeClient, error) {
		kubeconfigs = append(kubeconfigs, kc)
		return node, nil
	}}
	for _, tt := range []struct {
		words []string
		out   string
	}{
		{[]string{"get", "pods", ""}, "web-1\nweb-2\n:nofiles\n"},
		{[]string{"get", "pods", "-n", "other", ""}, "db\n:nofiles\n"},
		{[]string{"get", "-n", "other", "pods", "d"}, "db\n:nofiles\n"},
		{[]string{"get", "pods", "-A", ""}, "web-1\nweb-2\ndb\n:nofiles\n"},
		{[]string{"--kubeconfig", "/x/kc.yaml", "describe", "po", "web-2"}, "web-2\n:nofiles\n"},
		{[]string{"get", "-"}, ""},
	} {
		code, out, errOut := completeLine(env, tt.words...)
		if code != 0 || errOut != "" || (tt.out != "" && out != tt.out) || (tt.out == "" && !strings.Contains(out, "--namespace\n")) {
			t.Errorf("__complete %q: exit %d\nstdout %q\nstderr %q", tt.words, code, out, errOut)
		}
	}
	if kubeconfigs[len(kubeconfigs)-1] != "/x/kc.yaml" {
		t.Errorf("--kubeconfig on the line was not used: %q", kubeconfigs)
	}

	down := &environment{dial: func(string) (nodeClient, error) { return nil, errors.New("connection refused") }}
	if code, out, errOut := completeLine(down, "get", "pods", ""); code != 0 || out != ":nofiles\n" || errOut != "" {
		t.Errorf("__complete with the node down: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if code, out, _ := completeLine(down, "get", ""); code != 0 || !strings.HasPrefix(out, "pods\npo\n") {
		t.Errorf("__complete of kinds with the node down: exit %d\nstdout %q", code, out)
	}
}

// TestCompletionCommand: the scripts for bash and zsh, and kubectl's
// errors for a missing or unknown shell, naming those supported.
func TestCompletionCommand(t *testing.T) {
	for _, tt := range []struct{ line, stdout, stderr string }{
		{"completion bash", bashCompletion, ""},
		{"completion zsh", zshCompletion, ""},
		{"completion fish", "", "error: Unsupported shell type \"fish\": the shells supported are bash and zsh.\nSee 'wasmlet completion --help' for help and examples.\n"},
		{"completion", "", "error: Shell not specified: the shells supported are bash and zsh.\nSee 'wasmlet completion --help' for help and examples.\n"},
		{"completion bash zsh", "", "error: Too many arguments. Expected only the shell type.\nSee 'wasmlet completion --help' for help and examples.\n"},
	} {
		var out, errOut syncBuffer
		env := &environment{stdout: &out, stderr: &errOut}
		code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(tt.line)...))
		if (code == 0) != (tt.stderr == "") || out.String() != tt.stdout || errOut.String() != tt.stderr {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", tt.line, code, out.String(), errOut.String())
		}
	}
	for shell, script := range completionShells {
		sh, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s is not installed: its script's syntax is not checked", shell)
			continue
		}
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}

// The verbs' argument kinds come from their usage lines: check that each
// verb that takes objects is read as such.
func TestArgsOf(t *testing.T) {
	app := (&environment{}).newApp()
	got := map[string]argsKind{}
	for _, c := range app.Commands {
		got[c.Name] = argsOf(c)
	}
	want := map[string]argsKind{
		"get": argsKindNames, "describe": argsKindNames, "delete": argsKindNames, "edit": argsKindNames,
		"label": argsKindNames, "annotate": argsKindNames, "patch": argsKindNames, "scale": argsKindNames,
		"explain": argsKinds, "logs": argsPod,
		"apply": argsNone, "create": argsNone, "replace": argsNone, "diff": argsNone, "serve": argsNone, "up": argsNone,
	}
	for name, k := range want {
		if got[name] != k {
			t.Errorf("%s: argsOf = %d, want %d", name, got[name], k)
		}
	}
	if !reflect.DeepEqual(withPrefix([]string{"a", "ab", "b"}, "a"), []string{"a", "ab"}) {
		t.Error("withPrefix")
	}
}

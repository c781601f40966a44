package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The comparison of the verbs that run on: watches (get -w, get
// --watch-only, events -w), edit with an editor, and logs of pods that
// run. Both programs run at the same time against one node; the test
// changes objects while they watch and stops them once both have printed
// what the change brings. The normalisations of TestKubectlComparison
// apply, and these, each for a difference that is not one:
//   - kubectl runs with -v=6, so that the test sees in its log when its
//     watch is open before it changes anything; its log lines (klog's
//     "I1129 05:13:35.664961 ...") are left out of its stderr;
//   - a stopped watch: kubectl is interrupted (SIGINT), wasmlet's context
//     ends (its main turns SIGINT into the end of the context); both then
//     exit 1;
//   - the temporary file that edit keeps after a failed edit has a random
//     name in both programs: <edit-file>;
//   - edit runs on twins; their creationTimestamps differ: RFC 3339
//     times in edit's files and outputs become <time>.
//
// Watches ended by the node after --request-timeout are compared in
// kubectl_e2e_test.go; the watches here are stopped as a user stops them.

// kubectlLog is a line of kubectl's own log (-v=6).
var kubectlLog = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]+\] .*\n`)

// streamRun is one program running a command that runs on.
type streamRun struct {
	stdout, stderr syncBuffer
	done           chan struct{}
	code           int
	ready          func() bool // the watch is open
	stop           func()
}

// finish stops r (if it still runs) and waits for its end.
func (r *streamRun) finish(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("a stopped command did not end")
	}
}

// ended reports whether r ended on its own.
func (r *streamRun) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// startKubectl starts kubectl with args and the environment env (added to
// the test's); without env, it logs its requests (-v=6) for ready.
func (c *comparer) startKubectl(env []string, args ...string) *streamRun {
	c.t.Helper()
	flags := []string{"--kubeconfig", c.kubeconfig, "--cache-dir", filepath.Join(c.home, "cache")}
	if env == nil {
		flags = append(flags, "-v=6")
	}
	cmd := exec.Command(c.kubectl, append(flags, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + c.home, "KUBECTL_KUBERC=false", "KUBE_EDITOR=", "KUBECTL_EXTERNAL_DIFF="}, env...)...)
	r := &streamRun{done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("kubectl %v: %v", args, err)
	}
	go func() {
		defer close(r.done)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
	}()
	r.ready = func() bool {
		for _, l := range strings.Split(r.stderr.String(), "\n") {
			if strings.Contains(l, "watch=true") && strings.Contains(l, " 200 OK") {
				return true
			}
		}
		return false
	}
	r.stop = func() { cmd.Process.Signal(os.Interrupt) }
	c.t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.done
	})
	return r
}

// watchSignal is the node's client that says when a watch is open.
type watchSignal struct {
	*client.Client
	once    sync.Once
	watched chan struct{}
}

func (w *watchSignal) Watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts client.ListOptions) (<-chan client.WatchEvent, error) {
	ch, err := w.Client.Watch(ctx, r, namespace, opts)
	w.once.Do(func() { close(w.watched) })
	return ch, err
}

// startWasmlet starts wasmlet's CLI in-process with args; getenv answers
// what the environment holds besides KUBECONFIG.
func (c *comparer) startWasmlet(getenv map[string]string, args ...string) *streamRun {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r := &streamRun{done: make(chan struct{})}
	sig := &watchSignal{watched: make(chan struct{})}
	env := &environment{stdin: strings.NewReader(""), stdout: &r.stdout, stderr: &r.stderr, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return c.kubeconfig
			}
			return getenv[k]
		},
		dial: func(kubeconfig string) (nodeClient, error) {
			cl, err := client.FromKubeconfig(kubeconfig)
			if err != nil {
				return nil, err
			}
			sig.Client = cl
			return sig, nil
		}}
	go func() {
		defer close(r.done)
		r.code = env.run(ctx, append([]string{"wasmlet"}, args...))
	}()
	r.ready = func() bool {
		select {
		case <-sig.watched:
			return true
		default:
			return false
		}
	}
	r.stop = cancel
	c.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// poll checks cond every 20 ms until it holds or 20 s have passed.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// watchCase is a watch both programs run while change runs; they are
// stopped once both printed the same lines, a line matching until among
// them.
type watchCase struct {
	line   string
	change func()
	until  *regexp.Regexp
}

func (c *comparer) sameWatch(wc watchCase) {
	c.t.Helper()
	args := strings.Fields(wc.line)
	k, w := c.startKubectl(nil, args...), c.startWasmlet(nil, args...)
	if !poll(func() bool { return (k.ready() || k.ended()) && (w.ready() || w.ended()) }) {
		c.t.Errorf("%s: the watches did not open:\nkubectl: %s%s\nwasmlet: %s%s", wc.line, k.stdout.String(), k.stderr.String(), w.stdout.String(), w.stderr.String())
	}
	if wc.change != nil {
		wc.change()
	}
	if wc.until != nil {
		poll(func() bool {
			ko, wo := normalizeE2E(k.stdout.String(), false), normalizeE2E(w.stdout.String(), false)
			return ko == wo && wc.until.MatchString(ko)
		})
	}
	k.finish(c.t)
	w.finish(c.t)
	ko, ke := normalizeE2E(k.stdout.String(), false), kubectlLog.ReplaceAllString(k.stderr.String(), "")
	wo, we := normalizeE2E(fromWasmlet(w.stdout.String()), false), normalizeE2E(fromWasmlet(w.stderr.String()), false)
	if ko != wo || ke != we || (wc.until != nil && !wc.until.MatchString(ko)) {
		c.t.Errorf("%s:\nkubectl:\n%s%s\nwasmlet:\n%s%s\n%s", wc.line, ko, ke, wo, we, firstDifference(ko+ke, wo+we))
	}
	if k.code != w.code {
		c.t.Errorf("%s: kubectl exited %d, wasmlet %d", wc.line, k.code, w.code)
	}
}

// sameLines runs line with both programs and compares exit codes, stderr
// and the lines of stdout in any order.
func (c *comparer) sameLines(line string) {
	c.t.Helper()
	args := strings.Fields(line)
	k, w := c.runKubectl("", args), c.runWasmlet("", args)
	sorted := func(s string) string {
		lines := strings.Split(normalizeE2E(fromWasmlet(s), false), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	k.stdout, w.stdout = sorted(k.stdout), sorted(w.stdout)
	k.stderr, w.stderr = normalizeE2E(k.stderr, false), normalizeE2E(fromWasmlet(w.stderr), false)
	if k != w {
		c.t.Errorf("%s (lines in any order):\nkubectl: exit %d\n%s%s\nwasmlet: exit %d\n%s%s", line, k.code, k.stdout, k.stderr, w.code, w.stdout, w.stderr)
	}
}

// firstDifference names the first line where a (kubectl's) and b
// (wasmlet's) differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference, line %d:\nkubectl: %q\nwasmlet: %q", i+1, x, y)
		}
	}
	return "no difference"
}

// kubectlOK runs kubectl and fails the test if it fails.
func (c *comparer) kubectlOK(args ...string) string {
	c.t.Helper()
	r := c.runKubectl("", args)
	if r.code != 0 {
		c.t.Fatalf("kubectl %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (c *comparer) kubectlStdin(stdin string, args ...string) {
	c.t.Helper()
	if r := c.runKubectl(stdin, args); r.code != 0 {
		c.t.Fatalf("kubectl %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
}

const streamPod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    app: %s
    tier: front
spec:
  containers:
  - name: c
    image: hello.wasm
`

const streamRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: s-rs
spec:
  replicas: 1
  selector:
    matchLabels:
      app: s-rs
  template:
    metadata:
      labels:
        app: s-rs
    spec:
      containers:
      - name: web
        image: web.wasm
`

// editScript is the editor of the comparison of edit, run as
// `sh edit.sh MODE STATE FILE`: it counts its runs in STATE, keeps a copy
// of each file it is given (STATE.N), and edits FILE as MODE says.
const editScript = `mode=$1 state=$2 file=$3
n=$(( $(cat "$state" 2>/dev/null || echo 0) + 1 ))
echo $n > "$state"
cp "$file" "$state.$n"
case $mode in
label) sed -i 's/tier: front/tier: edited/' "$file" ;;
# refused, then saved again unchanged: cancelled
invalid) [ $n = 1 ] && sed -i 's/tier: front/tier: -bad-/' "$file" ;;
# refused, then corrected
fix) if [ $n = 1 ]; then sed -i 's/tier: front/tier: -bad-/' "$file"; else sed -i 's/tier: -bad-/tier: fixed/' "$file"; fi ;;
syntax) [ $n = 1 ] && sed -i 's/tier: front/tier: [front/' "$file" ;;
empty) : > "$file" ;;
jsoninvalid) [ $n = 1 ] && sed -i 's/"tier": "front"/"tier": "-bad-"/' "$file" ;;
esac
exit 0
`

var e2eEditFile = regexp.MustCompile(`"[^"]*(kubectl|wasmlet)-edit-[^"]*"`)

// sameEdit runs line on twins with the editor in mode and compares the
// outputs and every file the editor was given.
func (c *comparer) sameEdit(mode, line string) {
	c.t.Helper()
	dir := c.t.TempDir()
	script := filepath.Join(dir, "edit.sh")
	if err := os.WriteFile(script, []byte(editScript), 0o644); err != nil {
		c.t.Fatal(err)
	}
	kState, wState := filepath.Join(dir, "k"), filepath.Join(dir, "w")
	kLine, wLine := strings.ReplaceAll(line, "{N}", "k-"), strings.ReplaceAll(line, "{N}", "w-")
	tmp := c.t.TempDir() // the copies a cancelled edit keeps
	kr := c.startKubectl([]string{"KUBE_EDITOR=/bin/sh " + script + " " + mode + " " + kState, "TMPDIR=" + tmp}, strings.Fields(kLine)...)
	wr := c.startWasmlet(map[string]string{"KUBE_EDITOR": "/bin/sh " + script + " " + mode + " " + wState, "TMPDIR": tmp}, strings.Fields(wLine)...)
	for _, r := range []*streamRun{kr, wr} {
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			c.t.Fatalf("%s: edit did not end", line)
		}
	}
	norm := func(s string) string {
		s = e2eEditFile.ReplaceAllString(s, "<edit-file>")
		return normalizeE2E(fromWasmlet(s), true)
	}
	k := result{kr.code, norm(kr.stdout.String()), norm(kr.stderr.String())}
	w := result{wr.code, norm(wr.stdout.String()), norm(wr.stderr.String())}
	if k != w {
		c.t.Errorf("edit %s: %s:\nkubectl: exit %d\n%s%s\nwasmlet: exit %d\n%s%s", mode, kLine, k.code, k.stdout, k.stderr, w.code, w.stdout, w.stderr)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return string(b)
	}
	runs := read(kState)
	if runs != read(wState) {
		c.t.Errorf("edit %s: %s: kubectl ran the editor %q times, wasmlet %q", mode, kLine, runs, read(wState))
	}
	for i := 1; ; i++ {
		kf, wf := read(fmt.Sprintf("%s.%d", kState, i)), read(fmt.Sprintf("%s.%d", wState, i))
		if kf == "" && wf == "" {
			break
		}
		if norm(kf) != norm(wf) {
			c.t.Errorf("edit %s: %s: the editor's file %d:\nkubectl:\n%s\nwasmlet:\n%s\n%s", mode, kLine, i, norm(kf), norm(wf), firstDifference(norm(kf), norm(wf)))
		}
	}
}

var (
	streamGuestsOnce sync.Once
	streamGuestPaths map[string]string
	streamGuestsErr  error
)

// streamGuests builds hello, crash and graceful and compiles them into the
// test processes' shared compilation cache (examples.Precompile), once.
func streamGuests(t *testing.T) map[string]string {
	t.Helper()
	myweb(t) // sets cacheDir
	streamGuestsOnce.Do(func() {
		streamGuestPaths = map[string]string{"myweb": myweb(t)}
		names := []string{"hello", "crash", "graceful"}
		paths, err := examples.Precompile(cacheDir, names...)
		if err != nil {
			streamGuestsErr = err
			return
		}
		for i, name := range names {
			streamGuestPaths[name] = paths[i]
		}
	})
	if streamGuestsErr != nil {
		t.Fatal(streamGuestsErr)
	}
	return streamGuestPaths
}

// streamLogPods are the pods whose logs both programs read: s-one prints
// two lines, s-two has two containers, s-g waits for SIGTERM, and s-web's
// two pods serve.
const streamLogPods = `apiVersion: v1
kind: Pod
metadata:
  name: s-one
  labels: {app: s-x}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: CRASH
    env: [{name: CRASH_AFTER, value: 0s}, {name: EXIT_CODE, value: "0"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: s-two
  labels: {app: s-x}
spec:
  restartPolicy: Never
  containers:
  - name: a
    image: HELLO
  - name: b
    image: CRASH
    env: [{name: CRASH_AFTER, value: 0s}, {name: EXIT_CODE, value: "0"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: s-g
spec:
  containers:
  - name: g
    image: GRACEFUL
    env: [{name: DRAIN, value: 10ms}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: s-web
spec:
  replicas: 2
  selector:
    matchLabels: {app: s-web}
  template:
    metadata:
      labels: {app: s-web}
    spec:
      containers:
      - name: web
        image: MYWEB
`

func TestKubectlStreams(t *testing.T) {
	bin := kubectlPath(t)
	t.Run("logs", func(t *testing.T) {
		guests := streamGuests(t)
		c := &comparer{t: t, kubectl: bin, kubeconfig: testNode(t), home: t.TempDir(), dir: t.TempDir()}
		pods := strings.NewReplacer("CRASH", guests["crash"], "HELLO", guests["hello"], "GRACEFUL", guests["graceful"], "MYWEB", guests["myweb"]).Replace(streamLogPods)
		c.kubectlStdin(pods, "apply", "-f", "-")
		ready := regexp.MustCompile(`(?m)^s-g +1/1 +Running`)
		done := regexp.MustCompile(`(?m)^s-one +0/1 +Completed`)
		done2 := regexp.MustCompile(`(?m)^s-two +0/2 +Completed`)
		web := regexp.MustCompile(`(?m)^s-web-\w+ +1/1 +Running(.*\n)*s-web-\w+ +1/1 +Running`)
		if !poll(func() bool {
			out := c.runKubectl("", []string{"get", "pods"}).stdout
			return ready.MatchString(out) && done.MatchString(out) && done2.MatchString(out) && web.MatchString(out)
		}) {
			t.Fatalf("the pods did not start: %s", c.runKubectl("", []string{"get", "pods"}).stdout)
		}
		// kubectl 1.32 reads the logs of several containers (--all-containers,
		// -l) in the order of a Go map, which changes from run to run: their
		// lines are compared as sets.
		for _, line := range []string{
			"logs s-two --all-containers",
			"logs s-two --all-containers --prefix",
			"logs -l app=s-x",
			"logs -l app=s-x --prefix",
			"logs -l app=s-x --all-containers --prefix",
			"logs -l app=s-x --tail=1",
			"logs -l app=s-web --prefix",
		} {
			c.sameLines(line)
		}
		for _, line := range []string{
			"logs s-one",
			"logs s-one --tail=1",
			"logs s-one --timestamps",
			"logs s-one -f",
			"logs pod/s-one",
			"logs s-two",
			"logs s-two b",
			"logs s-two -c b",
			"logs rs/s-web",
			"logs s-g",
			"logs nope",
			"logs rs/nope",
			"logs -l app=nope",
			// A node that runs pods, described.
			"describe nodes",
			"get nodes -o wide",
			"describe pod s-one",
		} {
			c.same(line, false)
		}

		// Followed until the container ends: s-g ends on SIGTERM.
		k, w := c.startKubectl([]string{}, "logs", "s-g", "-f"), c.startWasmlet(nil, "logs", "s-g", "-f")
		if !poll(func() bool { return k.stdout.String() != "" && w.stdout.String() != "" }) {
			t.Errorf("logs -f printed nothing: %q %q", k.stdout.String(), w.stdout.String())
		}
		c.kubectlOK("delete", "pod", "s-g", "--wait=false")
		for _, r := range []*streamRun{k, w} {
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				t.Fatal("logs -f did not end with the container")
			}
		}
		kr := result{k.code, k.stdout.String(), k.stderr.String()}
		wr := result{w.code, w.stdout.String(), w.stderr.String()}
		if kr != wr || !strings.Contains(kr.stdout, "got SIGTERM, exiting") {
			t.Errorf("logs s-g -f:\nkubectl: exit %d\n%s%s\nwasmlet: exit %d\n%s%s", kr.code, kr.stdout, kr.stderr, wr.code, wr.stdout, wr.stderr)
		}
	})
	t.Run("watch", func(t *testing.T) {
		c := &comparer{t: t, kubectl: bin, kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
		c.kubectlStdin(fmt.Sprintf(streamPod, "s-a", "s-w"), "create", "-f", "-")
		c.kubectlStdin(streamRS, "create", "-f", "-")
		for _, wc := range []watchCase{
			{line: "get pods -w -l app=s-w", change: func() {
				c.kubectlStdin(fmt.Sprintf(streamPod, "s-b", "s-w"), "create", "-f", "-")
				c.kubectlOK("label", "pod", "s-a", "color=red")
				c.kubectlOK("delete", "pod", "s-b", "--wait=false")
			}, until: regexp.MustCompile(`(?m)^s-b .*\n(.*\n)*s-b .*\n(.*\n)*s-b `)},
			{line: "get pods --watch-only -l app=s-w", change: func() {
				c.kubectlOK("label", "pod", "s-a", "color=blue", "--overwrite")
			}, until: regexp.MustCompile(`s-a`)},
			{line: "get pod s-a -w -o name", change: func() {
				c.kubectlOK("annotate", "pod", "s-a", "n=1")
			}, until: regexp.MustCompile(`(pod/s-a\n){2}`)},
			{line: "get rs -w", change: func() {
				c.kubectlOK("scale", "rs", "s-rs", "--replicas=2")
			}, until: regexp.MustCompile(`(?m)^s-rs +2 +2 `)},
			{line: "get pods -w -n kube-system"},
			{line: "events -w -n kube-system"},
			{line: "events -w --for rs/s-rs", change: func() {
				c.kubectlOK("scale", "rs", "s-rs", "--replicas=3")
			}, until: regexp.MustCompile(`(?s)SuccessfulCreate.*SuccessfulCreate.*SuccessfulCreate`)},
			// The events there are, in the node's order, and new ones.
			{line: "events -w", change: func() {
				c.kubectlOK("scale", "rs", "s-rs", "--replicas=4")
			}, until: regexp.MustCompile(`(?s)(Created pod: s-rs-.*){4}`)},
			{line: "events -w --for rs/s-rs -o yaml", until: regexp.MustCompile(`(?s)(Created pod: s-rs-.*){4}`)},
			{line: "events -w --for rs/s-rs -o json", until: regexp.MustCompile(`(?s)(Created pod: s-rs-.*){4}`)},
			{line: "get rs s-rs -w -o yaml", change: func() {
				c.kubectlOK("label", "rs", "s-rs", "x=z")
			}, until: regexp.MustCompile(`x: z`)},
		} {
			c.sameWatch(wc)
		}

		for _, p := range []string{"k-", "w-"} {
			c.kubectlStdin(fmt.Sprintf(streamPod, p+"e", "s-e"), "create", "-f", "-")
		}
		for _, e := range []struct{ mode, line string }{
			{"label", "edit pod {N}e"},
			{"label", "edit pod/{N}e"},
			{"none", "edit pod {N}e"},
			{"empty", "edit pod {N}e"},
			{"invalid", "edit pod {N}e"},
			{"syntax", "edit pod {N}e"},
			{"fix", "edit pod {N}e"},
			{"none", "edit pod {N}e -o json"},
			{"jsoninvalid", "edit pod {N}e -o json"},
			{"none", "edit pod {N}nope"},
		} {
			c.sameEdit(e.mode, e.line)
			c.same("get pod {N}e -o jsonpath={.metadata.labels.tier}", true)
			c.kubectlOK("label", "pod", "k-e", "w-e", "tier=front", "--overwrite")
		}
	})
}

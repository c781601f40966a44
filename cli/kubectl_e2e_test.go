package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
)

// The comparison suite runs the real kubectl and wasmlet's CLI, one
// command after the other, against one node started in-process (store,
// API server and controllers; no pods are run, so they stay Pending and
// nothing changes under the commands), and requires the same exit code,
// stdout and stderr.
//
// Normalisations, each for a difference that is not one:
//   - ages (5s, 3m2s) become <age>: the two commands run a moment apart;
//     a comparison that still differs (an age that crossed 9s -> 10s
//     widens a column) is run again a second later, up to four times;
//   - commands that change objects run on twins: kubectl on k-NAME,
//     wasmlet on w-NAME, equally long names so that columns keep their
//     widths; "w-" names in wasmlet's output are read as "k-";
//   - twins have their own uids, resourceVersions and times (created a
//     moment apart, in two different seconds now and then), which are
//     left out;
//     uids are left out everywhere, so that the age pattern never matches
//     inside one;
//   - the program's own name where messages name a command ("wasmlet
//     apply should only be used ...", "Use \"wasmlet api-resources\"",
//     "See 'wasmlet logs -h'", "e.g. wasmlet explain pods") is read as
//     kubectl;
//   - diff's header lines name temporary directories and times, which
//     differ from run to run; they are compared without them.

// e2eNode starts a node without the pod runtime and returns its
// kubeconfig.
func e2eNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := wasmlet.NewConfig().
		WithDataDir(dir).
		WithInMemory(true).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPods(false)
	node, err := wasmlet.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		node.Close()
	})
	if err := node.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return filepath.Join(dir, "kubeconfig.yaml")
}

type result struct {
	code           int
	stdout, stderr string
}

// comparer runs the same command line with both programs.
type comparer struct {
	t          *testing.T
	kubectl    string
	kubeconfig string
	home       string
	dir        string // manifests
}

func (c *comparer) runKubectl(stdin string, args []string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectl, append([]string{"--kubeconfig", c.kubeconfig, "--cache-dir", filepath.Join(c.home, "cache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "KUBECTL_KUBERC=false", "KUBE_EDITOR=", "KUBECTL_EXTERNAL_DIFF=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("kubectl %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

func (c *comparer) runWasmlet(stdin string, args []string) result {
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return c.kubeconfig
			}
			return ""
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := env.run(ctx, append([]string{"wasmlet"}, args...))
	return result{code, out.String(), errOut.String()}
}

var (
	e2eUIDs    = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	e2eRVs     = regexp.MustCompile(`resourceVersion: "\d+"|"resourceVersion": "\d+"`)
	e2eTimes   = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b`)
	e2eAges    = regexp.MustCompile(`\b\d+(s|m|h|d|y)(\d+(s|m|h))?\b`)
	e2eTwins   = regexp.MustCompile(`\bw-`)
	e2eDiffHdr = regexp.MustCompile(`(?m)^(diff -u -N|---|\+\+\+) .*\n`)
)

func normalizeE2E(s string, twins bool) string {
	s = e2eUIDs.ReplaceAllString(s, "<uid>")
	s = e2eAges.ReplaceAllString(s, "<age>")
	s = e2eDiffHdr.ReplaceAllString(s, "")
	if twins {
		s = e2eTwins.ReplaceAllString(s, "k-")
		s = e2eRVs.ReplaceAllString(s, "resourceVersion: <rv>")
		s = e2eTimes.ReplaceAllString(s, "<time>")
	}
	return s
}

func fromWasmlet(s string) string {
	return strings.NewReplacer(
		"'wasmlet ", "'kubectl ", // See 'wasmlet logs -h'
		`"wasmlet `, `"kubectl `, // Use "wasmlet api-resources"
		"e.g. wasmlet ", "e.g. kubectl ",
		"wasmlet apply", "kubectl apply",
		"wasmlet create", "kubectl create",
	).Replace(s)
}

// same runs line (split on spaces; {DIR} is the manifests' directory)
// with both programs and reports any difference. With twins, kubectl
// runs it on k-NAME and wasmlet on w-NAME ({N} in line).
func (c *comparer) same(line string, twins bool) {
	c.t.Helper()
	c.sameStdin("", line, twins)
}

func (c *comparer) sameStdin(stdin, line string, twins bool) {
	c.t.Helper()
	line = strings.ReplaceAll(line, "{DIR}", c.dir)
	kLine, wLine := strings.ReplaceAll(line, "{N}", "k-"), strings.ReplaceAll(line, "{N}", "w-")
	kIn, wIn := strings.ReplaceAll(stdin, "{N}", "k-"), strings.ReplaceAll(stdin, "{N}", "w-")
	var k, w result
	for attempt := 0; attempt < 4; attempt++ {
		// A second between attempts: a table whose age column just
		// widened, or a state that a loaded machine is still settling,
		// reads the same a moment later.
		if attempt > 0 {
			c.t.Logf("%s: differs, run again:\nkubectl: exit %d\n%s%s\nwasmlet: exit %d\n%s%s", kLine, k.code, k.stdout, k.stderr, w.code, w.stdout, w.stderr)
			time.Sleep(time.Second)
		}
		k = c.runKubectl(kIn, strings.Fields(kLine))
		w = c.runWasmlet(wIn, strings.Fields(wLine))
		k.stdout, k.stderr = normalizeE2E(k.stdout, twins), normalizeE2E(k.stderr, twins)
		w.stdout, w.stderr = normalizeE2E(fromWasmlet(w.stdout), twins), normalizeE2E(fromWasmlet(w.stderr), twins)
		if k == w || twins {
			break
		}
	}
	if k != w {
		c.t.Errorf("%s:\nkubectl: exit %d\n%s%s\nwasmlet: exit %d\n%s%s", kLine, k.code, k.stdout, k.stderr, w.code, w.stdout, w.stderr)
	}
}

// knownDifference runs a command whose outputs are known to differ and
// logs both, with the reason; it fails if they no longer differ, so that
// the note does not outlive the difference.
func (c *comparer) knownDifference(line, reason string) {
	c.t.Helper()
	line = strings.ReplaceAll(line, "{DIR}", c.dir)
	k := c.runKubectl("", strings.Fields(strings.ReplaceAll(line, "{N}", "k-")))
	w := c.runWasmlet("", strings.Fields(strings.ReplaceAll(line, "{N}", "w-")))
	k.stdout, k.stderr = normalizeE2E(k.stdout, true), normalizeE2E(k.stderr, true)
	w.stdout, w.stderr = normalizeE2E(fromWasmlet(w.stdout), true), normalizeE2E(fromWasmlet(w.stderr), true)
	if k == w {
		c.t.Errorf("%s: the outputs no longer differ; remove the known difference (%s)", line, reason)
		return
	}
	c.t.Logf("known difference: %s: %s\nkubectl: %s%s\nwasmlet: %s%s", line, reason, k.stdout, k.stderr, w.stdout, w.stderr)
}

// twinFile writes a manifest for both twins: {N} becomes k- in
// name.k.yaml and w- in name.w.yaml; lines refer to it as {DIR}/name.{N}yaml.
func (c *comparer) twinFile(name, content string) {
	c.t.Helper()
	for _, p := range []string{"k-", "w-"} {
		file := filepath.Join(c.dir, name+"."+p+"yaml")
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(content, "{N}", p)), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

const e2eRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {N}web
  labels:
    app: web
spec:
  replicas: %d
  selector:
    matchLabels:
      app: {N}web
  template:
    metadata:
      labels:
        app: {N}web
    spec:
      containers:
      - name: web
        image: web.wasm
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: A
          value: "1"
%s`

const e2eRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: {N}rc
spec:
  replicas: 1
  selector:
    app: {N}rc
  template:
    metadata:
      labels:
        app: {N}rc
    spec:
      containers:
      - name: web
        image: web.wasm
`

const e2ePod = `apiVersion: v1
kind: Pod
metadata:
  name: {N}pod
  labels:
    app: web
    tier: %s
spec:
  containers:
  - name: c
    image: hello.wasm
    env:
    - name: GREETING
      value: hi
    startupProbe:
      grpc:
        port: 9090
`

// kubectlPath is the kubectl to compare with; without one (a user's
// machine), the test is skipped and says why.
func kubectlPath(t *testing.T) string {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not in PATH: the comparison of wasmlet's CLI with the real kubectl is skipped")
	}
	return bin
}

func TestKubectlComparison(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}

	// Objects both programs read: created once, by kubectl.
	c.twinFile("rs", fmt.Sprintf(e2eRS, 2, ""))
	c.twinFile("rc", e2eRC)
	c.twinFile("pod", fmt.Sprintf(e2ePod, "front"))
	for _, f := range []string{"rs.k-yaml", "rc.k-yaml", "pod.k-yaml", "rs.w-yaml", "rc.w-yaml", "pod.w-yaml"} {
		if r := c.runKubectl("", []string{"apply", "-f", filepath.Join(c.dir, f)}); r.code != 0 {
			t.Fatalf("apply %s: %s", f, r.stderr)
		}
	}
	// Until the controllers have made their pods, the tables change.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.runKubectl("", []string{"get", "pods", "-o", "name"})
		if strings.Count(r.stdout, "\n") == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controllers made no pods: %q", r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // status and events of the last creations

	for _, line := range []string{
		"get pods",
		"get pods -o wide",
		"get rs",
		"get rs -o wide",
		"get rc -o wide",
		"get pods -o name",
		"get rs,rc -o name",
		"get pod k-pod -o yaml",
		"get rs k-web -o json",
		"get rc k-rc -o yaml",
		"get pods -l app=web",
		"get pods -l app=web --show-labels",
		"get pods -L app",
		"get rs,rc",
		"get all",
		"get pods --sort-by=.metadata.name -o name",
		"get pod k-pod -o jsonpath={.spec.containers[0].image}",
		"get pods -o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image",
		"get pods --no-headers",
		"get pods -A",
		"get ns",
		"get nodes",
		"get pods,nodes -n nowhere",
		"get nodes,pods -o wide -n nowhere",
		"get nodes,no",
		"get pods,nodes k-pod",
		"get pod nope",
		"get services",
		"describe pod k-pod",
		"describe rs k-web",
		"describe rc k-rc",
		"describe ns default",
		"describe node n1",
		"describe pods -l app=web",
		"describe rs",
		"get events",
		"get ev -o wide",
		"get pods,rs -o wide -L app",
		"get pods,rs -w",
		"get pods k-pod w-pod -w",
		"explain pods",
		"explain pods.spec.restartPolicy",
		"explain rs.spec.selector.matchExpressions",
		"explain rs.spec.selector.matchExpressions --recursive",
		"explain pods.spec.containers",
		"explain rc --recursive",
		"explain pods --recursive",
		"explain pods.spec.nope",
		"explain rs --api-version=v1",
		"api-resources",
		"api-resources -o wide",
		"api-resources --namespaced=false",
		"api-versions",
		"events",
		"events --for rs/k-web",
		// A watch that the node ends after --request-timeout.
		"get rs -w --request-timeout=1s",
		"get pods -l app=none -w --request-timeout=1",
		// Usage errors, and refusals of the node in kubectl's words.
		"get pods --request-timeout=x",
		"get",
		"get pods -l a%b",
		"get pods --field-selector=nope=1",
		"get pods --field-selector=status.phse=Running",
		"logs k-pod -c nope",
		"describe",
		"explain",
		"explain nope",
		"label",
		"annotate pod k-pod",
		"delete",
		"delete pod",
		"logs",
		"apply",
		"create",
		"patch pod k-pod",
		"edit",
	} {
		c.same(line, false)
	}
	c.knownDifference("get pods -o nope", "the list of output formats: wasmlet has no Go templates (go-template, template and their -file forms)")
	c.knownDifference("get pods --sort-by=.nope", "kubectl 1.32 prints \"No resources found\" and exits 0 when no object has the field; wasmlet says that no object has it, and exits 1")

	// Verbs that change objects, on twins.
	c.twinFile("pod2", strings.Replace(fmt.Sprintf(e2ePod, "back"), "{N}pod", "{N}pod2", 1))
	c.twinFile("rs3", fmt.Sprintf(e2eRS, 3, ""))
	c.twinFile("patch", "metadata:\n  labels:\n    patched: \"yes\"\n")
	// A file taken from get -o yaml, under new names: created with the
	// resourceVersion and uid of the object it came from cleared.
	live := c.kubectlOK("get", "pod", "k-pod", "-o", "yaml")
	c.twinFile("copy", strings.ReplaceAll(live, "name: k-pod", "name: {N}copy"))
	c.twinFile("copy2", strings.ReplaceAll(live, "name: k-pod", "name: {N}copy2"))
	c.twinFile("typo", strings.Replace(fmt.Sprintf(e2ePod, "t"), "  containers:", "  containerz:", 1))
	c.twinFile("rs-env", fmt.Sprintf(e2eRS, 2, "        - name: B\n          value: \"2\"\n"))
	for _, line := range []string{
		"create -f {DIR}/pod2.{N}yaml",
		"create -f {DIR}/pod2.{N}yaml",
		"apply -f {DIR}/copy.{N}yaml",
		"apply -f {DIR}/copy.{N}yaml",
		"create -f {DIR}/copy2.{N}yaml",
		"replace --force -f {DIR}/copy2.{N}yaml",
		"label pod {N}pod2 color=red",
		"label pod {N}pod2 color=blue",
		"label pod {N}pod2 color=blue --overwrite",
		"label pod {N}pod2 color-",
		"annotate pod {N}pod2 note=one",
		"annotate pod {N}pod2 note=two --overwrite",
		`patch pod {N}pod2 --type merge -p {"metadata":{"labels":{"m":"1"}}}`,
		`patch pod {N}pod2 --type merge -p {"metadata":{"labels":{"m":"1"}}}`,
		`patch pod {N}pod2 --type json -p [{"op":"replace","path":"/spec/containers/0/image","value":"hello2.wasm"}]`,
		`patch pod {N}pod2 -p {"spec":{"containers":[{"name":"c","env":[{"name":"X","value":"y"}]}]}}`,
		"patch pod {N}pod2 --patch-file {DIR}/patch.{N}yaml",
		"patch pod {N}pod2 --type merge --patch-file {DIR}/patch.{N}yaml",
		"get pod {N}pod2 -o yaml",

		// apply: created, unchanged, configured (scaled), configured
		// (env var added, then removed from the file), diff.
		"apply -f {DIR}/rs.{N}yaml",
		"diff -f {DIR}/rs3.{N}yaml",
		"apply -f {DIR}/rs3.{N}yaml",
		"diff -f {DIR}/rs-env.{N}yaml",
		"apply -f {DIR}/rs-env.{N}yaml",
		"get rs {N}web -o jsonpath={.spec.replicas};{.spec.template.spec.containers[0].env[*].name}",
		"apply -f {DIR}/rs.{N}yaml",
		"get rs {N}web -o jsonpath={.spec.replicas};{.spec.template.spec.containers[0].env[*].name}",
		"diff -f {DIR}/rs.{N}yaml",
		"scale rs {N}web --replicas=1",
		"get rs {N}web -o jsonpath={.spec.replicas}",
		"scale rc {N}rc --replicas=2 --current-replicas=5",
		`patch rs {N}web --type strategic -p {"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"C","value":"3"}]}]}}}}`,
		"get rs {N}web -o jsonpath={.spec.template.spec.containers[0].env[*].name}",
		"replace -f {DIR}/rs3.{N}yaml",
		"get rs {N}web -o jsonpath={.spec.replicas};{.spec.template.spec.containers[0].env[*].name}",
		"label pods -l tier=back where={N}here --overwrite",
		"label pods --all {N}batch=x",
		"label pods --all {N}batch-",
		"annotate pods --all {N}note=x",
		"annotate pods -l tier=back {N}note-",
		"scale --replicas=2 rs/{N}web",
		"scale -f {DIR}/rs.{N}yaml --replicas=1",
		"get rs {N}web -o jsonpath={.spec.replicas}",
		"annotate pod {N}pod2 note-",
		"logs {N}pod2",
		"replace --force -f {DIR}/pod2.{N}yaml",
		"delete pod {N}pod2",
		"delete pod {N}pod2",
		"delete pod {N}pod2 --ignore-not-found",
		"delete rc {N}rc --cascade=orphan --wait=false",
		"delete pod {N}pod --grace-period=0 --force",
	} {
		c.same(line, true)
	}

	// Files the node judges: an unknown field refused on create, on
	// apply's patch and on replace, accepted with --validate=warn and
	// ignore; a field wasmlet does not implement, accepted with the
	// node's warning.
	c.twinFile("typo-live", strings.Replace(fmt.Sprintf(e2ePod, "t"), "  containers:", "  containerz: 1\n  containers:", 1))
	pod4 := strings.Replace(fmt.Sprintf(e2ePod, "p"), "{N}pod", "{N}pod4", 1)
	c.twinFile("pod4", pod4)
	c.twinFile("typo4", strings.Replace(pod4, "  containers:", "  containerz: 1\n  containers:", 1))
	c.twinFile("unimpl", strings.Replace(strings.Replace(fmt.Sprintf(e2ePod, "u"), "{N}pod", "{N}pod3", 1), "  containers:", "  hostPID: true\n  containers:", 1))
	// A misspelled kind or group version: kubectl's validation finds
	// neither in /openapi/v3, asks /openapi/v2, and leaves the error to its
	// resource mapping. A List: kubectl validates it against /openapi/v2.
	c.twinFile("kindtypo", strings.Replace(fmt.Sprintf(e2eRS, 1, ""), "kind: ReplicaSet", "kind: RelicaSets", 1))
	c.twinFile("gvtypo", strings.Replace(fmt.Sprintf(e2eRS, 1, ""), "apiVersion: apps/v1", "apiVersion: app/v1", 1))
	c.twinFile("spectypo", strings.Replace(fmt.Sprintf(e2eRS, 1, ""), "  replicas: 1", "  replicas: 1\n  foo: 1", 1))
	list := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {N}listed\n  spec:\n    containers:\n    - name: c\n      image: a.wasm\n"
	c.twinFile("list", list)
	c.twinFile("listtypo", strings.Replace(list, "      image: a.wasm", "      image: a.wasm\n      foo: 1", 1))
	for _, line := range []string{
		"apply -f {DIR}/kindtypo.{N}yaml",
		"create -f {DIR}/kindtypo.{N}yaml",
		"apply -f {DIR}/gvtypo.{N}yaml",
		"apply -f {DIR}/spectypo.{N}yaml",
		"create -f {DIR}/spectypo.{N}yaml",
		"apply -f {DIR}/listtypo.{N}yaml",
		"apply -f {DIR}/list.{N}yaml",
		"delete -f {DIR}/list.{N}yaml",
		"apply -f {DIR}/typo.{N}yaml",
		"create -f {DIR}/typo.{N}yaml",
		"apply -f {DIR}/typo-live.{N}yaml",
		"replace -f {DIR}/typo-live.{N}yaml",
		"apply -f {DIR}/typo-live.{N}yaml --validate=warn",
		"apply -f {DIR}/typo-live.{N}yaml --validate=false",
		"apply -f {DIR}/typo-live.{N}yaml --validate=nope",
		"apply -f {DIR}/pod4.{N}yaml",
		"apply -f {DIR}/typo4.{N}yaml",
		"replace -f {DIR}/typo4.{N}yaml",
		"diff -f {DIR}/typo4.{N}yaml",
		"create -f {DIR}/unimpl.{N}yaml",
		"get pod {N}pod3 -o jsonpath={.spec.hostPID}",
		"delete pod {N}pod3 --now",
		"delete pod {N}pod4 --cascade=foreground --grace-period=5",
		"delete -f {DIR}/typo-live.{N}yaml",
		"delete pod {N}pod4 {N}nope --ignore-not-found",
	} {
		c.same(line, true)
	}

	// apply --prune: two pods applied with a label, then a file with one.
	c.twinFile("two", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {N}a\n  labels: {set: {N}p}\nspec:\n  containers:\n  - name: c\n    image: a.wasm\n---\n"+
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {N}b\n  labels: {set: {N}p}\nspec:\n  containers:\n  - name: c\n    image: b.wasm\n")
	c.twinFile("one", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {N}a\n  labels: {set: {N}p}\nspec:\n  containers:\n  - name: c\n    image: a.wasm\n")
	for _, line := range []string{
		"apply -f {DIR}/two.{N}yaml",
		"apply --prune -f {DIR}/one.{N}yaml",
		// kubectl's default prune list names kinds the node does not
		// serve (PersistentVolumeClaim, ...), which kubectl refuses: the kinds are
		// given.
		"apply --prune -l set={N}p --prune-allowlist=core/v1/Pod -f {DIR}/one.{N}yaml",
		"get pods -l set={N}p -o name",
	} {
		c.same(line, true)
	}
	// What README.md tells kubectl's users: without --prune-allowlist,
	// kubectl refuses to prune, naming a kind of its default list that the
	// node does not serve; wasmlet prunes the kinds the node serves.
	line := []string{"apply", "--prune", "-l", "set=k-p", "-f", filepath.Join(c.dir, "one.k-yaml")}
	if r := c.runKubectl("", line); r.code != 1 || !strings.Contains(r.stderr, `no matches for kind "PersistentVolumeClaim" in version "v1"`) {
		t.Errorf("kubectl %v: exit %d\n%s%s\nwant exit 1 and no PersistentVolumeClaim kind (README.md says so)", line, r.code, r.stdout, r.stderr)
	}
	if r := c.runWasmlet("", line); r.code != 0 || r.stdout != "pod/k-a unchanged\n" {
		t.Errorf("wasmlet %v: exit %d\n%s%s", line, r.code, r.stdout, r.stderr)
	}
}

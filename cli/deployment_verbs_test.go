package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// deploymentNode starts a node without pods and without controllers: the
// verbs of Deployments are tested against the ReplicaSets and statuses
// the tests write, as the Deployment controller writes them, so that
// nothing changes under a command.
func deploymentNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := wasmlet.NewConfig().
		WithDataDir(dir).
		WithInMemory(true).
		WithListen("127.0.0.1:0").
		WithNodeName("n1").
		WithPods(false).
		WithControllers(false)
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

func nodeClientOf(t *testing.T, kubeconfig string) *client.Client {
	t.Helper()
	cl, err := client.FromKubeconfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func getDeployment(t *testing.T, cl *client.Client, name string) *api.Deployment {
	t.Helper()
	r, _ := api.LookupResource("deployments")
	obj, err := cl.Get(context.Background(), r, "default", name)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*api.Deployment)
}

// revisionRS is a ReplicaSet of the Deployment's as the controller makes
// one: named by its hash, labelled with it, owned by the Deployment, its
// revision in an annotation; extra is more of its metadata.
const revisionRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %[1]s-%[2]s
  annotations:
    deployment.kubernetes.io/revision: "%[3]d"
    deployment.kubernetes.io/desired-replicas: "1"
%[6]s  labels: {app: %[1]s, pod-template-hash: "%[2]s"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: %[1]s, uid: %[4]s, controller: true, blockOwnerDeletion: true}
spec:
  replicas: 0
  selector:
    matchLabels: {app: %[1]s, pod-template-hash: "%[2]s"}
  template:
    metadata:
      labels: {app: %[1]s, pod-template-hash: "%[2]s"}
    spec:
      containers:
      - name: web
        image: %[5]s
`

func TestContainerNameOf(t *testing.T) {
	random := regexp.MustCompile(`^b-c-d-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for image, want := range map[string]string{
		"nginx":                        "nginx",
		"nginx:1.9.1":                  "nginx",
		"ghcr.io/org/myweb:v2":         "myweb",
		"ghcr.io/org/myweb@sha256:abc": "myweb",
		"wasm-examples/bin/myweb.wasm": "myweb",
		"/abs/path/hello.wasm":         "hello",
		"localhost:5000/x/y:1":         "y",
	} {
		if got := containerNameOf(image); got != want {
			t.Errorf("containerNameOf(%q) = %q, want %q", image, got, want)
		}
	}
	if got := containerNameOf("a/b_c.d:1"); !random.MatchString(got) {
		t.Errorf("containerNameOf(a/b_c.d:1) = %q, want b-c-d-xxxxx", got)
	}
}

func TestCreateDeployment(t *testing.T) {
	kc := deploymentNode(t)
	runSteps(t, kc, []step{
		{line: "create deployment myweb --image=wasm-examples/bin/myweb.wasm --replicas=3 --port=8080", stdout: "deployment.apps/myweb created\n"},
		{line: "create deployment myweb --image=wasm-examples/bin/myweb.wasm", code: 1,
			stderr: "error: failed to create deployment: deployments.apps \"myweb\" already exists\n"},
		{line: "create deployment two --image=a.wasm --image=b.wasm -- run", code: 1, stderr: "error: cannot specify multiple --image options and command\n"},
		{line: "create deployment two", code: 1, stderr: "error: required flag(s) \"image\" not set\n"},
		{line: "create deployment --image=a.wasm", code: 1, stderr: "error: exactly one NAME is required, got 0\n"},
		{line: "create deployment a b --image=a.wasm", code: 1, stderr: "error: exactly one NAME is required, got 2\n"},
		{line: "create deployment a b --image=a.wasm -- c", code: 1, stderr: "error: exactly one NAME is required, got 2\n"},
		{line: "create deployment --image=a.wasm -- a b", code: 1, stderr: "error: exactly one NAME is required, got 0\n"},
		{line: "create deployment cmd --image=a.wasm -r 2 -- serve --fast", stdout: "deployment.apps/cmd created\n"},
		{line: "create deployment dry --image=a.wasm --dry-run=server", stdout: "deployment.apps/dry created (server dry run)\n"},
		{line: "get deployment dry", code: 1, stderr: "Error from server (NotFound): deployments.apps \"dry\" not found\n"},
		{line: "create deployment dry --image=a.wasm --dry-run=client -o name", stdout: "deployment.apps/dry\n"},
		{line: "create deployment dry --image=x/a.wasm --image=b:1 --port=80 -n team --dry-run=client -o yaml", stdout: `apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: dry
  name: dry
  namespace: team
spec:
  replicas: 1
  selector:
    matchLabels:
      app: dry
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: dry
    spec:
      containers:
      - image: x/a.wasm
        name: a
        ports:
        - containerPort: 80
        resources: {}
      - image: b:1
        name: b
        resources: {}
status: {}
`},
	})
	cl := nodeClientOf(t, kc)
	d := getDeployment(t, cl, "myweb")
	want := map[string]string{"app": "myweb"}
	c := d.Spec.Template.Spec.Containers
	if fmt.Sprint(d.Labels) != fmt.Sprint(want) || fmt.Sprint(d.Spec.Selector.MatchLabels) != fmt.Sprint(want) ||
		fmt.Sprint(d.Spec.Template.Labels) != fmt.Sprint(want) || *d.Spec.Replicas != 3 || len(c) != 1 ||
		c[0].Name != "myweb" || c[0].Image != "wasm-examples/bin/myweb.wasm" || len(c[0].Ports) != 1 || c[0].Ports[0].ContainerPort != 8080 {
		t.Errorf("created: labels %v, selector %v, template labels %v, replicas %d, containers %+v",
			d.Labels, d.Spec.Selector, d.Spec.Template.Labels, *d.Spec.Replicas, c)
	}
	d = getDeployment(t, cl, "cmd")
	if c := d.Spec.Template.Spec.Containers[0]; *d.Spec.Replicas != 2 || strings.Join(c.Command, " ") != "serve --fast" || len(c.Ports) != 0 {
		t.Errorf("created with a command: replicas %d, %+v", *d.Spec.Replicas, c)
	}
}

const setImagePod = `apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  initContainers:
  - name: init
    image: init.wasm
  containers:
  - name: web
    image: web.wasm
  - name: side
    image: side.wasm
`

const setImageRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
spec:
  replicas: 0
  selector: {app: rc}
  template:
    metadata:
      labels: {app: rc}
    spec:
      containers:
      - name: web
        image: web.wasm
`

func TestSetImage(t *testing.T) {
	kc := deploymentNode(t)
	runSteps(t, kc, []step{
		{line: "create deployment web --image=web.wasm --image=side.wasm", stdout: "deployment.apps/web created\n"},
		{line: "create -f " + writeFile(t, "pod.yaml", setImagePod), stdout: "pod/solo created\n"},
		{line: "create -f " + writeFile(t, "rc.yaml", setImageRC), stdout: "replicationcontroller/rc created\n"},
		{line: "create -f " + writeFile(t, "rs.yaml", fmt.Sprintf(revisionRS, "web", "1111", 1, "00000000-0000-0000-0000-000000000000", "web.wasm", "")), stdout: "replicaset.apps/web-1111 created\n"},
		{line: "get deployment web -o jsonpath={.spec.template.spec.containers[*].name}", stdout: "web side"},
		{line: "set image deployment/web web=web2.wasm", stdout: "deployment.apps/web image updated\n"},
		// The same image again changes nothing and prints nothing.
		{line: "set image deployment web web=web2.wasm", stdout: ""},
		{line: "get deployment web -o jsonpath={.spec.template.spec.containers[*].name}", stdout: "web side"},
		{line: "set image deployment/web nope=x.wasm side=side2.wasm", code: 1, stdout: "deployment.apps/web image updated\n",
			stderr: "error: unable to find container named \"nope\"\n"},
		{line: "set image deployment/web nope=x.wasm other=y.wasm", code: 1,
			stderr: "error: unable to find container named \"nope\"\nerror: unable to find container named \"other\"\n"},
		{line: "set image pod/solo init=init2.wasm web=web2.wasm", stdout: "pod/solo image updated\n"},
		{line: "set image rc/rc rs/web-1111 *=all.wasm", stdout: "replicationcontroller/rc image updated\nreplicaset.apps/web-1111 image updated\n"},
		{line: "set image deployment/web web=dry.wasm --dry-run=client", stdout: "deployment.apps/web image updated (dry run)\n"},
		{line: "set image deployment/web web=dry.wasm --dry-run=server", stdout: "deployment.apps/web image updated (server dry run)\n"},
		{line: "set image deployments --all *=every.wasm -o name", stdout: "deployment.apps/web\n"},
		{line: "set image deployment/web", code: 1, stderr: "error: at least one image update is required\n"},
		{line: "set image deployment/web *=a b=c", code: 1, stderr: "error: all containers are already specified by *, but saw more than one container_name=container_image pairs\n"},
		{line: "set image deployment web a=b x", code: 1, stderr: "error: all resources must be specified before image changes: x\n"},
		{line: "set image deployment web a-", code: 1, stderr: "error: invalid image format: a-\n"},
		{line: "set image deployment/nope a=b", code: 1, stderr: "Error from server (NotFound): deployments.apps \"nope\" not found\n"},
		{line: "set image ns/default a=b", code: 1, stderr: "error: namespaces/default the object is not a pod or does not have a pod template: *v1.Namespace\n"},
		{line: "set image deployments *=q --all -l a=b", code: 1, stderr: "error: cannot set --all and --selector at the same time\n"},
		{line: "set nope", code: 1, stderr: "error: unknown command \"nope\" for \"wasmlet set\"\n"},
	})
	cl := nodeClientOf(t, kc)
	images := func(r, name, path string) string {
		return strings.TrimSpace(output(t, kc, "get "+r+" "+name+" -o jsonpath="+path))
	}
	for _, c := range []struct{ r, name, path, want string }{
		{"deployment", "web", "{.spec.template.spec.containers[*].image}", "every.wasm every.wasm"},
		{"pod", "solo", "{.spec.initContainers[*].image};{.spec.containers[*].image}", "init2.wasm;web2.wasm side.wasm"},
		{"rc", "rc", "{.spec.template.spec.containers[*].image}", "all.wasm"},
		{"rs", "web-1111", "{.spec.template.spec.containers[*].image}", "all.wasm"},
	} {
		if got := images(c.r, c.name, c.path); got != c.want {
			t.Errorf("%s %s: images %q, want %q", c.r, c.name, got, c.want)
		}
	}
	_ = cl
}

// deploymentWithHistory creates Deployment d (container web) and the
// ReplicaSets of its revisions 1 (web1.wasm) and 2 (web2.wasm, the
// Deployment's template now), as the controller leaves them after a set
// image.
func deploymentWithHistory(t *testing.T, kc, d string) {
	t.Helper()
	runSteps(t, kc, []step{
		{line: "create deployment " + d + " --image=web1.wasm", stdout: "deployment.apps/" + d + " created\n"},
		{line: "set image deployment/" + d + " web1=web2.wasm", stdout: "deployment.apps/" + d + " image updated\n"},
		{line: "annotate deployment " + d + " deployment.kubernetes.io/revision=2", stdout: "deployment.apps/" + d + " annotated\n"},
	})
	cl := nodeClientOf(t, kc)
	uid := getDeployment(t, cl, d).UID
	files := fmt.Sprintf(revisionRS, d, "1111", 1, uid, "web1.wasm", "") + "---\n" +
		strings.Replace(fmt.Sprintf(revisionRS, d, "2222", 2, uid, "web2.wasm",
			"    kubernetes.io/change-cause: set image to web2\n"), "name: web\n", "name: web1\n", 1)
	files = strings.Replace(files, "name: web\n", "name: web1\n", 1)
	output(t, kc, "create -f "+writeFile(t, "rs.yaml", files))
}

func TestRolloutHistoryAndUndo(t *testing.T) {
	kc := deploymentNode(t)
	deploymentWithHistory(t, kc, "web")
	runSteps(t, kc, []step{
		{line: "rollout history deployment/web", stdout: "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         set image to web2\n\n"},
		{line: "rollout history deployment web --revision=1", stdout: "deployment.apps/web with revision #1\nPod Template:\n" +
			"  Labels:\tapp=web\n\tpod-template-hash=1111\n  Containers:\n   web1:\n    Image:\tweb1.wasm\n    Port:\t<none>\n    Host Port:\t<none>\n" +
			"    Environment:\t<none>\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n\n"},
		{line: "rollout history deployment/web --revision=3", code: 1, stderr: "error: unable to find the specified revision\n"},
		{line: "rollout history deployment/web -o name", stdout: "replicaset.apps/web-1111\nreplicaset.apps/web-2222\n"},
		{line: "rollout history rs/web-1111", code: 1, stderr: "error: no history viewer has been implemented for \"ReplicaSet.apps\"\n"},
		{line: "rollout undo deployment/web --to-revision=7", code: 1, stderr: "error: unable to find specified revision 7 in history\n"},
		{line: "rollout undo deployment/web --to-revision=2", stdout: "deployment.apps/web skipped rollback (current template already matches revision 2)\n"},
		{line: "rollout undo deployment/web --dry-run=client", stdout: "*"},
		{line: "get deployment web -o jsonpath={.spec.template.spec.containers[0].image}", stdout: "web2.wasm"},
		{line: "rollout undo deployment/web", stdout: "deployment.apps/web rolled back\n"},
		{line: "rollout undo rs/web-1111", code: 1, stderr: "error: no rollbacker has been implemented for \"ReplicaSet.apps\"\n"},
	})
	cl := nodeClientOf(t, kc)
	d := getDeployment(t, cl, "web")
	c := d.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Image != "web1.wasm" || fmt.Sprint(d.Spec.Template.Labels) != "map[app:web]" {
		t.Errorf("rolled back to revision 1: template labels %v, containers %+v", d.Spec.Template.Labels, c)
	}
	if _, ok := d.Annotations[desiredReplicasAnnotation]; ok {
		t.Errorf("the ReplicaSet's own annotations were copied: %v", d.Annotations)
	}
	// Back to 2: its change cause comes with it.
	runSteps(t, kc, []step{
		{line: "rollout undo deployment/web --to-revision=2", stdout: "deployment.apps/web rolled back\n"},
		{line: "get deployment web -o jsonpath={.spec.template.spec.containers[0].image};{.metadata.annotations.kubernetes\\.io/change-cause}", stdout: "web2.wasm;set image to web2"},
		{line: "rollout pause deployment/web", stdout: "deployment.apps/web paused\n"},
		{line: "rollout undo deployment/web", code: 1, stderr: "error: you cannot rollback a paused deployment; resume it first with 'wasmlet rollout resume' and try again\n"},
		{line: "create deployment empty --image=a.wasm", stdout: "*"},
		{line: "rollout history deployment/empty", stdout: "deployment.apps/empty \nNo rollout history found.\n"},
		{line: "rollout undo deployment/empty", code: 1, stderr: "error: no rollout history found for deployment \"empty\"\n"},
	})
}

func TestRolloutPauseResumeRestart(t *testing.T) {
	kc := deploymentNode(t)
	runSteps(t, kc, []step{
		{line: "create deployment web --image=web.wasm", stdout: "*"},
		{line: "create deployment other --image=web.wasm", stdout: "*"},
		{line: "rollout resume deployment/web", code: 1, stderr: "error: deployments.apps \"web\" is not paused\n"},
		{line: "rollout pause deployment/web", stdout: "deployment.apps/web paused\n"},
		{line: "get deployment web -o jsonpath={.spec.paused}", stdout: "true"},
		{line: "rollout pause deployment/web", code: 1, stderr: "error: deployments.apps \"web\" is already paused\n"},
		{line: "rollout restart deployment/web", code: 1, stderr: "error: deployments.apps \"web\" can't restart paused deployment (run rollout resume first)\n"},
		// One error among several objects: the others are still changed.
		{line: "rollout pause deployment", code: 1, stdout: "deployment.apps/other paused\n", stderr: "error: deployments.apps \"web\" is already paused\n"},
		{line: "rollout resume deployment/web deployment/other", stdout: "deployment.apps/web resumed\ndeployment.apps/other resumed\n"},
		{line: "get deployment web -o jsonpath={.spec.paused}", stdout: ""},
		{line: "rollout pause rs/x", code: 1, stderr: "Error from server (NotFound)"},
		{line: "rollout status", code: 1, stderr: "error: required resource not specified\n"},
		{line: "rollout nope deployment/web", code: 1, stderr: "error: unknown command \"nope\"\n"},
		{line: "rollout restart deployment -l app=none", stderr: "No resources found in default namespace.\n"},
	})
	// restart writes the time of the command line, to the second.
	var out, errOut bytes.Buffer
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	env := &environment{stdout: &out, stderr: &errOut, now: func() time.Time { return at },
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kc
			}
			return ""
		}}
	for i, want := range []int{0, 1} {
		out.Reset()
		errOut.Reset()
		if code := env.run(context.Background(), []string{"wasmlet", "rollout", "restart", "deployment/web"}); code != want {
			t.Fatalf("restart %d: exit %d, want %d; %s%s", i, code, want, out.String(), errOut.String())
		}
	}
	if errOut.String() != "error: failed to create patch for web: if restart has already been triggered within the past second, please wait before attempting to trigger another\n" {
		t.Errorf("a second restart within the second: %q", errOut.String())
	}
	d := getDeployment(t, nodeClientOf(t, kc), "web")
	if got := d.Spec.Template.Annotations[restartedAtAnnotation]; got != "2026-03-04T05:06:07Z" {
		t.Errorf("restartedAt = %q", got)
	}
}

func TestRolloutStatus(t *testing.T) {
	kc := deploymentNode(t)
	runSteps(t, kc, []step{{line: "create deployment web --image=web.wasm --replicas=3", stdout: "*"}})
	cl := nodeClientOf(t, kc)
	deployments, _ := api.LookupResource("deployments")
	setStatus := func(status string) {
		t.Helper()
		if _, err := cl.PatchStatus(context.Background(), deployments, "default", "web", client.MergePatch, []byte(`{"status":`+status+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(t, kc, []step{
		{line: "rollout status deployment/web --watch=false", stdout: "Waiting for deployment spec update to be observed...\n"},
		{line: "rollout status deployment/web --timeout=300ms", code: 1, stdout: "Waiting for deployment spec update to be observed...\n",
			stderr: "error: timed out waiting for the condition\n"},
		{line: "rollout status deployment/web --revision=2 --watch=false", code: 1, stderr: "error: desired revision (2) is different from the running revision (0)\n"},
		{line: "rollout status rs/web", code: 1, stderr: "Error from server (NotFound)"},
	})

	// One rollout, followed by a watch: each state the node writes is a line.
	out, errOut := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdout: out, stderr: errOut, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kc
			}
			return ""
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- env.run(ctx, []string{"wasmlet", "rollout", "status", "deployment/web"}) }()
	steps := []struct{ status, line string }{
		{`{"observedGeneration":1,"replicas":1,"updatedReplicas":1}`, `Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...`},
		{`{"observedGeneration":1,"replicas":4,"updatedReplicas":3,"availableReplicas":1}`, `Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...`},
		{`{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"availableReplicas":2}`, `Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...`},
		{`{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"availableReplicas":3}`, `deployment "web" successfully rolled out`},
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Waiting for deployment spec update to be observed...") {
		if time.Now().After(deadline) {
			t.Fatalf("rollout status printed %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range steps {
		setStatus(s.status)
		for !strings.Contains(out.String(), s.line+"\n") {
			if time.Now().After(deadline) {
				t.Fatalf("after status %s, rollout status printed %q%q", s.status, out.String(), errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("rollout status: exit %d, %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("rollout status did not end when the rollout was done: %q", out.String())
	}

	// A rollout past its progress deadline is an error.
	setStatus(`{"observedGeneration":1,"replicas":3,"updatedReplicas":1,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"web-1\" has timed out progressing."}]}`)
	runSteps(t, kc, []step{
		{line: "rollout status deployment/web", code: 1, stderr: "error: deployment \"web\" exceeded its progress deadline\n"},
	})
	// A Deployment deleted under the watch ends it.
	setStatus(`{"observedGeneration":1,"replicas":3,"updatedReplicas":1,"conditions":[]}`)
	out2 := &syncBuffer{}
	env.stdout, env.stderr = out2, out2
	go func() { done <- env.run(ctx, []string{"wasmlet", "rollout", "status", "deployment/web"}) }()
	for !strings.Contains(out2.String(), "1 out of 3") {
		if time.Now().After(deadline) {
			t.Fatalf("rollout status printed %q", out2.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	output(t, kc, "delete deployment web --wait=false")
	if code := <-done; code != 1 || !strings.HasSuffix(out2.String(), "error: object has been deleted\n") {
		t.Errorf("rollout status of a deleted Deployment: exit %d, %q", code, out2.String())
	}
}

// TestDeploymentVerbsWithTheController: the verbs on a node that runs the
// Deployment controller and real myweb pods, as a user runs them: create,
// rollout status until the pods are available, set image and its rollout,
// history, undo back to the first template, scale.
func TestDeploymentVerbsWithTheController(t *testing.T) {
	kc := testNode(t)
	image := myweb(t)
	// The same module under another name is another template.
	dir := filepath.Dir(image)
	image2 := dir + "/../" + filepath.Base(dir) + "/" + filepath.Base(image)
	run := func(line string) (int, string, string) {
		var out, errOut bytes.Buffer
		env := &environment{stdout: &out, stderr: &errOut, now: time.Now,
			getenv: func(k string) string {
				if k == "KUBECONFIG" {
					return kc
				}
				return ""
			}}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		code := env.run(ctx, append([]string{"wasmlet"}, strings.Fields(line)...))
		return code, out.String(), errOut.String()
	}
	must := func(line, wantLast string) string {
		t.Helper()
		code, out, errOut := run(line)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != 0 || lines[len(lines)-1] != wantLast {
			t.Fatalf("%s: exit %d, last line %q, want %q\n%s%s", line, code, lines[len(lines)-1], wantLast, out, errOut)
		}
		return out
	}
	must("create deployment myweb --image="+image+" --replicas=2 --port=8080", "deployment.apps/myweb created")
	must("rollout status deployment/myweb", `deployment "myweb" successfully rolled out`)
	must("set image deployment/myweb myweb="+image2, "deployment.apps/myweb image updated")
	must("rollout status deployment/myweb --timeout=3m", `deployment "myweb" successfully rolled out`)
	must("rollout history deployment/myweb", "2         <none>")
	must("rollout undo deployment/myweb", "deployment.apps/myweb rolled back")
	must("rollout status deployment/myweb", `deployment "myweb" successfully rolled out`)
	if out := must("rollout history deployment/myweb", "3         <none>"); !strings.Contains(out, "\n2         <none>\n") || strings.Contains(out, "\n1 ") {
		t.Errorf("after undo, revision 1 is revision 3:\n%s", out)
	}
	if got := strings.TrimSpace(output(t, kc, "get deployment myweb -o jsonpath={.spec.template.spec.containers[0].image}")); got != image {
		t.Errorf("rolled back to image %q, want %q", got, image)
	}
	must("scale deployment/myweb --replicas=1", "deployment.apps/myweb scaled")
	runSteps(t, kc, []step{{line: "get deployment myweb -o jsonpath={.status.replicas}", stdout: "1", wait: true}})
}

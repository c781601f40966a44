package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// initStatusPod is a pod with two init containers and a container; its
// status is written afterwards through the status subresource, as the
// node writes it.
const initStatusPod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  initContainers:
  - name: first
    image: crash.wasm
  - name: second
    image: crash.wasm
  containers:
  - name: app
    image: graceful.wasm
`

// TestKubectlComparisonInitContainerStatus: the STATUS column of pods in
// each step of their initialization, with statuses as the node writes
// them, is the same in kubectl's get and wasmlet's, and is what kubectl
// prints for them on a cluster: Init:0/2, Init:1/2, Init:Error,
// Init:CrashLoopBackOff, PodInitializing.
func TestKubectlComparisonInitContainerStatus(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	ended := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	waiting := func(name, reason string) string {
		return fmt.Sprintf(`{"name":%q,"image":"crash.wasm","imageID":"","ready":false,"restartCount":0,"started":false,"state":{"waiting":{"reason":%q}}}`, name, reason)
	}
	done := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"image":"crash.wasm","imageID":"","ready":true,"restartCount":0,"started":false,"containerID":"wasmlet://1","state":{"terminated":{"exitCode":0,"reason":"Completed","finishedAt":%q,"containerID":"wasmlet://1"}}}`, name, ended)
	}
	running := `{"name":"second","image":"crash.wasm","imageID":"","ready":false,"restartCount":0,"started":true,"containerID":"wasmlet://2","state":{"running":{"startedAt":"` + ended + `"}}}`
	failed := `{"name":"second","image":"crash.wasm","imageID":"","ready":false,"restartCount":0,"started":false,"containerID":"wasmlet://2","state":{"terminated":{"exitCode":3,"reason":"Error","finishedAt":"` + ended + `","containerID":"wasmlet://2"}}}`
	crashing := `{"name":"second","image":"crash.wasm","imageID":"","ready":false,"restartCount":2,"started":false,"containerID":"wasmlet://2","state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 20s restarting failed container=second"}},"lastState":{"terminated":{"exitCode":3,"reason":"Error","finishedAt":"` + ended + `","containerID":"wasmlet://2"}}}`
	app := func(reason string) string {
		return `{"name":"app","image":"graceful.wasm","imageID":"","ready":false,"restartCount":0,"started":false,"state":{"waiting":{"reason":"` + reason + `"}}}`
	}
	notInit := `{"type":"Initialized","status":"False","reason":"ContainersNotInitialized","message":"containers with incomplete status: [second]"}`
	inited := `{"type":"Initialized","status":"True"}`
	status := func(phase, cond string, inits ...string) string {
		return fmt.Sprintf(`{"status":{"phase":%q,"conditions":[%s],"initContainerStatuses":[%s],"containerStatuses":[%s]}}`,
			phase, cond, strings.Join(inits, ","), app("PodInitializing"))
	}
	cases := []struct {
		name, policy, status, want string
	}{
		{"init-a", "Always", status("Pending", notInit, waiting("first", "PodInitializing"), waiting("second", "PodInitializing")), "Init:0/2"},
		{"init-b", "Always", status("Pending", notInit, done("first"), running), "Init:1/2"},
		{"init-c", "Never", status("Failed", notInit, done("first"), failed), "Init:Error"},
		{"init-d", "Always", status("Pending", notInit, done("first"), crashing), "Init:CrashLoopBackOff"},
		{"init-e", "Always", status("Pending", inited, done("first"), done("second")), "PodInitializing"},
	}
	for _, tc := range cases {
		c.kubectlStdin(fmt.Sprintf(initStatusPod, tc.name, tc.policy), "apply", "-f", "-")
		c.kubectlOK("patch", "pod", tc.name, "--subresource=status", "--type=merge", "-p", tc.status)
	}
	out := c.kubectlOK("get", "pods")
	t.Logf("kubectl get pods:\n%s", out)
	for _, tc := range cases {
		var got string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == tc.name {
				got = f[2]
			}
		}
		if got != tc.want {
			t.Errorf("kubectl get pods: %s STATUS %q, want %q\n%s", tc.name, got, tc.want, out)
		}
	}
	if !strings.Contains(out, "2 (") {
		t.Errorf("kubectl get pods: init-d's RESTARTS should count the init container's restarts:\n%s", out)
	}
	c.same("get pods", false)
	c.same("get pods -o wide", false)
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

const configPods = `apiVersion: v1
kind: Pod
metadata:
  name: cfg-env
spec:
  containers:
  - name: app
    image: wasm-examples/bin/readconfig.wasm
    args: ["env", "GREETING", "PASSWORD", "CFG_COLOR", "wait"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: web-config, key: greeting}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: web-config}
---
apiVersion: v1
kind: Pod
metadata:
  name: cfg-vol
spec:
  volumes:
  - name: cfg
    configMap: {name: web-config}
  - name: creds
    secret:
      secretName: creds
      items: [{key: password, path: db/password}]
  containers:
  - name: app
    image: wasm-examples/bin/readconfig.wasm
    args: ["write", "/config/greeting", "watch", "/config/greeting", "/creds/db/password"]
    volumeMounts:
    - {name: cfg, mountPath: /config}
    - {name: creds, mountPath: /creds}
`

const configObjects = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: %s
  COLOR: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: czNjcmV0
`

// TestServeConfigMapsAndSecrets applies, with the real kubectl, pods that
// read a ConfigMap and a Secret before those exist, then the objects, to a
// node of the built binary: the pod with env waits in
// CreateContainerConfigError as on a cluster, the one with volumes in
// ContainerCreating; both run once the objects are applied, read them, and
// the volume follows an update of the ConfigMap.
func TestServeConfigMapsAndSecrets(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	bin := build(t)
	if _, err := examples.Build("readconfig"); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	startServer(t, bin, serveArgs(t, dataDir))
	write := func(name, content string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run(t, kubectl, kc, "apply", "-f", write("pods.yaml", configPods))
	statusIs := func(pod, want string) {
		t.Helper()
		waitOutput(t, kubectl, kc, "STATUS "+want, func(out string) bool {
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) >= 3 && f[0] == pod && f[2] == want {
					return true
				}
			}
			return false
		}, "get", "pods")
	}
	// The first start compiles readconfig: seconds, more on a loaded machine.
	statusIs("cfg-env", "CreateContainerConfigError")
	statusIs("cfg-vol", "ContainerCreating")
	msg := run(t, kubectl, kc, "get", "pod", "cfg-env", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}")
	if msg != `configmap "web-config" not found` {
		t.Errorf("cfg-env waits with %q", msg)
	}
	if out := run(t, kubectl, kc, "get", "events", "--field-selector", "involvedObject.name=cfg-vol"); !strings.Contains(out, `MountVolume.SetUp failed for volume "cfg" : configmap "web-config" not found`) {
		t.Errorf("cfg-vol's events:\n%s", out)
	}

	run(t, kubectl, kc, "apply", "-f", write("objects.yaml", strings.Replace(configObjects, "%s", "Hi", 1)))
	statusIs("cfg-env", "Running")
	statusIs("cfg-vol", "Running")
	waitOutput(t, kubectl, kc, "the variables", func(out string) bool {
		return out == "GREETING=Hi\nPASSWORD=s3cret\nCFG_COLOR=blue\n"
	}, "logs", "cfg-env")
	waitOutput(t, kubectl, kc, "the files", func(out string) bool {
		return strings.Contains(out, "write /config/greeting: open /config/greeting: Read-only file system\n") &&
			strings.Contains(out, "/config/greeting: Hi\n") && strings.Contains(out, "/creds/db/password: s3cret\n")
	}, "logs", "cfg-vol")

	run(t, kubectl, kc, "apply", "-f", write("objects.yaml", strings.Replace(configObjects, "%s", "Hello", 1)))
	waitOutput(t, kubectl, kc, "the updated file", func(out string) bool {
		return strings.Contains(out, "/config/greeting: Hello\n")
	}, "logs", "cfg-vol")
}

package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const e2eDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {N}dep
  labels:
    app: {N}dep
  annotations:
    kubernetes.io/change-cause: first
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {N}dep
  template:
    metadata:
      labels:
        app: {N}dep
    spec:
      containers:
      - name: web
        image: web.wasm
        ports:
        - containerPort: 8080
`

// TestKubectlComparisonDeployments compares the Deployment's table,
// description and scale with kubectl's, against a node whose pods are
// never run: the rollout stays at its first step, pods Pending.
func TestKubectlComparisonDeployments(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	c.twinFile("dep", e2eDeployment)
	c.kubectlOK("apply", "-f", filepath.Join(c.dir, "dep.k-yaml"))
	c.kubectlOK("apply", "-f", filepath.Join(c.dir, "dep.w-yaml"))
	settled := func(name string) bool {
		out := c.runKubectl("", []string{"describe", "deploy", name}).stdout
		return strings.Contains(out, "ReplicaSetUpdated") && strings.Contains(out, "(2/2 replicas created)") &&
			strings.Contains(out, "Scaled up replica set")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !settled("k-dep") || !settled("w-dep") {
		if time.Now().After(deadline) {
			t.Fatalf("the deployments never settled:\n%s", c.runKubectl("", []string{"describe", "deploy"}).stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Names with a pod-template-hash are the twins' own; the comparisons
	// that show them run on one object.
	for _, line := range []string{
		"get deploy",
		"get deploy -o wide",
		"get deployments.apps k-dep",
		"get deploy k-dep -o yaml",
		"describe deploy k-dep",
		"describe deployments",
		"get rs -o wide",
		"get all",
		"scale deploy k-dep --replicas=-1",
		"scale deploy nope --replicas=1",
		"scale rs nope --replicas=1",
	} {
		c.same(line, false)
	}
	for _, line := range []string{
		"scale deploy {N}dep --replicas=3",
		"scale deploy {N}dep --replicas=4 --current-replicas=2",
		"scale deployment/{N}dep --replicas=1",
	} {
		c.same(line, true)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		out := c.runKubectl("", []string{"get", "deploy", "-o", "custom-columns=N:.metadata.name,R:.status.replicas", "--no-headers"}).stdout
		if strings.Count(out, " 1\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never scaled to 1: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.same("get deploy", false)
	c.same("describe deploy k-dep", false)
}

package cli

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestKubectlComparisonWait compares `wait` with kubectl's on a node whose
// pods stay Pending (no pod runtime): conditions that hold, that time out
// and that are checked once, jsonpath waits, selectors and kubectl's
// errors.
func TestKubectlComparisonWait(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	c.twinFile("rs", fmt.Sprintf(e2eRS, 1, ""))
	c.twinFile("pod", fmt.Sprintf(e2ePod, "front"))
	for _, f := range []string{"rs.k-yaml", "pod.k-yaml", "pod.w-yaml"} {
		if r := c.runKubectl("", []string{"apply", "-f", filepath.Join(c.dir, f)}); r.code != 0 {
			t.Fatalf("apply %s: %s", f, r.stderr)
		}
	}
	for _, line := range []string{
		"wait --for=jsonpath={.status.phase}=Pending pod/k-pod",
		"wait --for=jsonpath={.status.phase}=pending pod/k-pod --timeout=0",
		"wait --for=jsonpath={.spec.replicas}=1 rs/k-web",
		"wait --for=jsonpath={.metadata.name} pod -l app=web",
		"wait --for=jsonpath={.metadata.labels.tier}=front pods k-pod w-pod",
		"wait --for=condition=Ready pod/k-pod --timeout=1s",
		"wait --for=condition=Ready pod -l app=web --timeout=1s",
		"wait --for=jsonpath={.status.phase}=Pending -f {DIR}/pod.k-yaml",
		"wait --for=condition=Ready pod/k-pod --timeout=0",
		"wait --for=condition=Ready=false pod/k-pod --timeout=0",
		"wait --for=condition=Available rs/k-web --timeout=0",
		"wait --for=condition=Ready pod -l app=web --timeout=0",
		"wait --for=condition=Ready pod/nope",
		"wait --for=condition=Ready pods k-pod nope --timeout=0",
		"wait --for=jsonpath={.status.phase}=Pending pods nope k-pod",
		"wait --for=condition=Ready pod -l app=nope",
		"wait --for=delete pod/nope",
		"wait --for=delete pod -l app=nope",
		"wait --for=ready pod/k-pod",
		"wait pod/k-pod",
		"wait --for=jsonpath={.status.phase}= pod/k-pod",
	} {
		c.same(line, false)
	}
}

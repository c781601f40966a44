package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubectlComparisonServices compares expose, the Tables of Services,
// Endpoints and EndpointSlices and the descriptions of a Service and its
// Endpoints with kubectl's, against a node whose pods are never run; one
// pod is given an IP and readiness through its status, as the node agent
// would, so that the endpoints controllers have an address to show.
func TestKubectlComparisonServices(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: e2eNode(t), home: t.TempDir(), dir: t.TempDir()}
	c.twinFile("dep", e2eDeployment)
	c.kubectlOK("create", "configmap", "k-cm", "--from-literal=a=b")
	c.kubectlOK("create", "configmap", "w-cm", "--from-literal=a=b")
	c.kubectlOK("apply", "-f", filepath.Join(c.dir, "dep.k-yaml"))
	c.kubectlOK("apply", "-f", filepath.Join(c.dir, "dep.w-yaml"))
	for _, line := range []string{
		"expose deployment {N}dep --port=80 --target-port=8080",
		"expose deployment/{N}dep --port=81 --type=NodePort --name={N}np",
		"expose deploy {N}dep --cluster-ip=None --name={N}hl",
		"expose deployment {N}dep --name={N}two --port=82 --protocol=UDP --selector=app={N}dep,x=y -l tier=web",
		"expose deployment {N}dep --port=80 --dry-run=client -o yaml --name={N}dry",
		"expose deployment {N}dep --port=80",
		"expose deployment {N}nope --port=80",
		"expose service {N}dep --port=90 --name={N}again",
		"expose configmap {N}cm --port=90",
		"expose deployment",
		"expose",
		"create service clusterip {N}cs --tcp=5678:8080 --tcp=90",
		"create service nodeport {N}ns --tcp=80:http",
		"create svc clusterip {N}hs --clusterip=None",
		"create service clusterip {N}dr --tcp=80:8080 --dry-run=client -o yaml",
		"create service clusterip {N}x",
		"create service clusterip",
		"create service loadbalancer {N}lb --tcp=80",
		"get svc {N}cs {N}ns {N}hs -o jsonpath={.items[*].metadata.labels}{.items[*].spec.selector}{.items[*].spec.ports[*].name}{.items[*].spec.ports[*].port}{.items[*].spec.ports[*].targetPort}{.items[*].spec.type}{.items[2].spec.clusterIP}",
	} {
		c.same(line, true)
	}

	// One pod of k-dep turns ready with an address.
	deadline := time.Now().Add(30 * time.Second)
	var pod string
	for pod == "" {
		pod = strings.TrimSpace(c.kubectlOK("get", "pods", "-l", "app=k-dep", "-o", "jsonpath={.items[0].metadata.name}"))
		if pod == "" {
			if time.Now().After(deadline) {
				t.Fatal("no pod of k-dep")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	c.kubectlOK("patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":"127.42.0.9","podIPs":[{"ip":"127.42.0.9"}],"conditions":[{"type":"Ready","status":"True","lastTransitionTime":%q}]}}`, now))
	for {
		out := c.kubectlOK("get", "endpoints", "k-dep", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		if strings.TrimSpace(out) == "127.42.0.9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod's address never reached the Endpoints: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, line := range []string{
		"get svc",
		"get services -o wide",
		"get svc k-dep k-np k-hl",
		"get svc k-cs k-hs -o wide",
		"describe svc k-cs",
		"get ep",
		"get endpoints k-dep",
		"describe svc k-dep",
		"describe service k-np",
		"describe svc k-hl",
		"describe ep k-dep",
		"describe endpoints w-dep",
	} {
		c.same(line, false)
	}
	// Slices have random names: compared without them.
	c.same("get endpointslices -o custom-columns=SVC:.metadata.labels.kubernetes\\.io/service-name,AT:.addressType", false)
	c.same("get endpointslices -l kubernetes.io/service-name=k-dep", false)
}

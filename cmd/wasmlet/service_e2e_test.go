package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServiceAsAUserReachesIt: the walk-through with the built
// binary: create a Deployment of 3 myweb, expose it, and curl the cluster
// IP, which the three pods answer in turn; exposed as a NodePort, it also
// answers at the --node-port-address serve was given.
func TestServiceAsAUserReachesIt(t *testing.T) {
	t.Parallel()
	bin := build(t)
	dataDir := t.TempDir()
	if err := os.Symlink(cacheDir, filepath.Join(dataDir, "cache")); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	sub := 1 + rand.IntN(254)
	npAddr := fmt.Sprintf("127.52.%d.1", sub)
	startServer(t, bin, append(serveArgs(t, dataDir),
		"--service-cidr", fmt.Sprintf("127.51.%d.0/24", sub), "--node-port-address", npAddr))

	run(t, bin, kc, "create", "deployment", "myweb", "--image=wasm-examples/bin/myweb.wasm", "--replicas=3", "--port=8080")
	if out := run(t, bin, kc, "expose", "deployment", "myweb", "--port=80", "--target-port=8080"); out != "service/myweb exposed\n" {
		t.Errorf("expose: %q", out)
	}
	waitOutput(t, bin, kc, "3 Running pods", runningPods(3), "get", "pods", "-l", "app=myweb", "-o", "jsonpath={.items[*].status.phase}")
	ip := run(t, bin, kc, "get", "svc", "myweb", "-o", "jsonpath={.spec.clusterIP}")
	if !strings.HasPrefix(ip, fmt.Sprintf("127.51.%d.", sub)) {
		t.Fatalf("cluster IP %q is not from --service-cidr", ip)
	}
	curl := func(addr string) (string, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b)), err
	}
	// Until the pods are ready and in the Service's endpoints, the cluster
	// IP refuses; then the three answer in turn.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen := map[string]bool{}
		for range 3 {
			if body, err := curl(ip + ":80"); err == nil {
				seen[body] = true
			}
		}
		if len(seen) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl http://%s/ three times: %v; want the three pods", ip, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]int{}
	for range 9 {
		body, err := curl(ip + ":80")
		if err != nil || !strings.HasPrefix(body, "Hello World! I'm myweb-") {
			t.Fatalf("curl http://%s/: %q, %v", ip, body, err)
		}
		seen[body]++
	}
	for body, n := range seen {
		if n != 3 || len(seen) != 3 {
			t.Fatalf("9 requests were answered %v; want each pod 3 times (%s)", seen, body)
		}
	}

	// A NodePort Service listens where serve was told.
	run(t, bin, kc, "expose", "deployment", "myweb", "--name=myweb-np", "--type=NodePort", "--port=80", "--target-port=8080")
	np := run(t, bin, kc, "get", "svc", "myweb-np", "-o", "jsonpath={.spec.ports[0].nodePort}")
	deadline = time.Now().Add(time.Minute)
	for {
		body, err := curl(npAddr + ":" + np)
		if err == nil && strings.HasPrefix(body, "Hello World! I'm myweb-") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl http://%s:%s/: %q, %v", npAddr, np, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

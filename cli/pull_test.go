package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGetPodsShowsContainerCreatingWhilePulling: while a pod's module is
// fetched and compiled, get pods (ours, and kubectl's) shows the pod as
// ContainerCreating, and a watch shows it so between Pending and Running, as
// a cluster shows a pod whose image is pulled. The module comes from a
// registry that answers when the test lets it.
func TestGetPodsShowsContainerCreatingWhilePulling(t *testing.T) {
	module, err := os.ReadFile(myweb(t))
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Write(module)
	}))
	t.Cleanup(srv.Close)
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	t.Cleanup(open) // before the node stops, and the server after it
	kubeconfig := testNode(t)

	manifest := writeFile(t, "pod.yaml", strings.Replace(podManifest, "solo.wasm", srv.URL+"/myweb.wasm", 1))
	runSteps(t, kubeconfig, []step{{line: "apply -f " + manifest, stdout: "pod/solo created\n"}})

	ctx, cancel := context.WithCancel(context.Background())
	watchOut, watchErr := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: watchOut, stderr: watchErr, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kubeconfig
			}
			return ""
		}}
	watchDone := make(chan int, 1)
	go func() { watchDone <- env.run(ctx, []string{"wasmlet", "get", "pods", "-w"}) }()
	t.Cleanup(func() { cancel(); <-watchDone })
	// The next commands run once the watch has listed the pod: two runs of
	// the app must not parse their flags at the same time (urfave/cli's
	// flags are shared).
	for start := time.Now(); !strings.Contains(watchOut.String(), "solo"); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("get pods -w listed nothing: %q", watchErr.String())
		}
	}

	runSteps(t, kubeconfig, []step{
		{line: "get pods", stdout: "NAME   READY   STATUS              RESTARTS   AGE\nsolo   0/1     ContainerCreating   0          <age>\n", wait: true},
	})
	if bin, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "get", "pods", "--no-headers")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECTL_KUBERC=false")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl get pods: %v\n%s", err, errOut.String())
		}
		if f := strings.Fields(out.String()); len(f) < 3 || f[0] != "solo" || f[2] != "ContainerCreating" {
			t.Errorf("kubectl get pods: %q, want solo ContainerCreating", out.String())
		}
	}
	open()
	runSteps(t, kubeconfig, []step{
		{line: "get pods", stdout: "NAME   READY   STATUS    RESTARTS   AGE\nsolo   1/1     Running   0          <age>\n", wait: true},
	})

	// The watch's STATUS column, each change once.
	deadline := time.Now().Add(10 * time.Second)
	row := regexp.MustCompile(`(?m)^solo +\S+ +(\S+)`)
	var statuses []string
	for {
		statuses = statuses[:0]
		for _, m := range row.FindAllStringSubmatch(watchOut.String(), -1) {
			if len(statuses) == 0 || statuses[len(statuses)-1] != m[1] {
				statuses = append(statuses, m[1])
			}
		}
		if len(statuses) > 0 && statuses[len(statuses)-1] == "Running" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The watch began after the pod was created: it may have missed Pending.
	if got := strings.Join(statuses, " "); got != "Pending ContainerCreating Running" && got != "ContainerCreating Running" {
		t.Errorf("get pods -w went through %q, want Pending, ContainerCreating, Running\n%s%s", got, watchOut.String(), watchErr.String())
	}
}

package cli

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// TestWatchShowsAReplicaSetsPodPendingOnTheNode: the first row `get pods
// -o wide -w` prints for a pod a ReplicaSet creates says Pending and names
// the node, as for a pod a user creates. The controller wrote its pods
// without a phase or a node, and the row's STATUS was empty.
func TestWatchShowsAReplicaSetsPodPendingOnTheNode(t *testing.T) {
	kubeconfig := testNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: out, stderr: errOut, now: time.Now,
		getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kubeconfig
			}
			return ""
		}}
	done := make(chan int, 1)
	go func() { done <- env.run(ctx, []string{"wasmlet", "get", "pods", "-o", "wide", "-w"}) }()
	t.Cleanup(func() { cancel(); <-done })
	// A pod of the user's shows that the watch is live before the RS is
	// made, so that the RS's pod comes as a change, not in the first list.
	// The objects are created through the client, not the CLI: two
	// invocations of the CLI at once in one process share its flags.
	cl, err := client.FromKubeconfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	create := func(resource, file string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := api.LookupResource(resource)
		if _, err := cl.CreateJSON(ctx, r, "default", j, client.WriteOptions{}); err != nil {
			t.Fatalf("creating %s: %v", file, err)
		}
	}
	create("pods", podFile(t))
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(out.String(), "\nsolo ") {
		if time.Now().After(deadline) {
			t.Fatalf("the watch showed no pod: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	create("replicasets", rsFile(t, 1))
	first := regexp.MustCompile(`(?m)^myweb-rs-\S+ .*$`)
	for {
		if row := first.FindString(out.String()); row != "" {
			if !regexp.MustCompile(`^myweb-rs-\S+ +0/1 +Pending +0 +\S+ +\S+ +n1 `).MatchString(row) {
				t.Errorf("first row of the RS's pod %q, want it Pending on n1\n%s", row, out.String())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row for the RS's pod:\n%s%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

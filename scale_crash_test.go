package wasmlet_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
)

// The scale-crash test runs a node in a child process (this test binary,
// re-run with scaleCrashChildEnv set), kills it with SIGKILL while its
// ReplicaSet controller is creating 1,000 pods, and opens the node again on
// the same data dir. Pods are only stored (the node agent is off): what is
// tested is the controller and the store, not the guests.
const (
	scaleCrashChildEnv = "WASMLET_SCALE_CRASH_DATA_DIR"
	scaleCrashReplicas = 1000
)

func scaleCrashConfig(dir string) wasmlet.Config {
	return wasmlet.NewConfig().WithDataDir(dir).WithPods(false).WithAPIServer(false).WithNodeName("crash-node")
}

func scaleCrashRS() *api.ReplicaSet {
	replicas := int32(scaleCrashReplicas)
	labels := map[string]string{"app": "many"}
	return &api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{Name: "many", Namespace: "default"},
		Spec: api.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: labels},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: labels},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: "c", Image: "tiny.wasm"}}},
			},
		},
	}
}

// TestScaleCrashChild is the child: it creates the ReplicaSet and reports
// how many pods exist until it is killed.
func TestScaleCrashChild(t *testing.T) {
	dir := os.Getenv(scaleCrashChildEnv)
	if dir == "" {
		t.Skip("the child of TestNodeKilledWhileScalingComesBackToTheDesiredReplicas")
	}
	ctx := context.Background()
	node, err := wasmlet.New(ctx, scaleCrashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := wasmlet.Create(ctx, node, scaleCrashRS()); err != nil {
		t.Fatal(err)
	}
	for {
		pods, err := wasmlet.List[*api.Pod](ctx, node, "default", wasmlet.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("pods %d\n", len(pods))
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNodeKilledWhileScalingComesBackToTheDesiredReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child node process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), scaleCrashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the child once it is part way: some pods stored, not all.
	seen := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "pods "); ok {
			seen, _ = strconv.Atoi(n)
			if seen >= 50 {
				break
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if seen == 0 || seen >= scaleCrashReplicas {
		t.Fatalf("the child was killed with %d pods, not in the middle of scaling", seen)
	}
	t.Logf("killed the node with %d of %d pods created", seen, scaleCrashReplicas)

	ctx := context.Background()
	node, err := wasmlet.New(ctx, scaleCrashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	if err := node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := wasmlet.Get[*api.ReplicaSet](ctx, node, "default", "many")
	if err != nil {
		t.Fatal(err)
	}
	check := func() (string, bool) {
		pods, err := wasmlet.List[*api.Pod](ctx, node, "default", wasmlet.ListOptions{})
		if err != nil {
			return err.Error(), false
		}
		owned := 0
		for _, p := range pods {
			if ref := p.ControllerRef(); ref != nil && ref.UID == rs.UID {
				owned++
			}
		}
		return fmt.Sprintf("%d pods, %d owned by the ReplicaSet", len(pods), owned),
			len(pods) == scaleCrashReplicas && owned == scaleCrashReplicas
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, ok := check()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %s, want %d", state, scaleCrashReplicas)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// It stays there: no second round of creations from stale expectations.
	time.Sleep(time.Second)
	if state, ok := check(); !ok {
		t.Fatalf("a second after reaching the desired replicas: %s", state)
	}
}

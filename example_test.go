package wasmlet_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
)

// A node that keeps its store in memory and only stores pods (no API
// server, no pods run): objects are created and read with the same
// defaulting and validation as through kubectl.
func Example() {
	ctx := context.Background()
	node, err := wasmlet.New(ctx, wasmlet.NewConfig().
		WithInMemory(true).
		WithAPIServer(false).
		WithPods(false))
	if err != nil {
		log.Fatal(err)
	}
	if err := node.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	ns, err := wasmlet.Create(ctx, node, &api.Namespace{ObjectMeta: api.ObjectMeta{Name: "team"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("namespace", ns.Name, ns.Status.Phase)

	pod, err := wasmlet.Create(ctx, node, &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "myweb", Namespace: "team", Labels: map[string]string{"app": "web"}},
		Spec:       api.PodSpec{Containers: []api.Container{{Name: "myweb", Image: "wasm-examples/bin/myweb.wasm"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pod", pod.Name, pod.Status.Phase, pod.Spec.RestartPolicy, *pod.Spec.TerminationGracePeriodSeconds)

	pods, err := wasmlet.List[*api.Pod](ctx, node, "", wasmlet.ListOptions{LabelSelector: "app in (web, db)"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(pods), "pod with app in (web, db)")

	_, err = wasmlet.Create(ctx, node, &api.Pod{ObjectMeta: api.ObjectMeta{Name: "Bad_Name", Namespace: "team"}})
	fmt.Println(api.IsInvalid(err))
	// Output:
	// namespace team Active
	// pod myweb Pending Always 30
	// 1 pod with app in (web, db)
	// true
}

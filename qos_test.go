package wasmlet_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli"
	"github.com/wasmlet/wasmlet/client"
)

// TestPodsAreCreatedBoundAndClassed, through the HTTP API as kubectl uses
// it: a pod a user creates and a pod a ReplicationController creates both
// appear first (the ADDED event of a watch) bound to the node, Pending,
// with their quality of service class; the class stays once the node runs
// them, and `get -o yaml` and `describe` show it. The node agent's status
// writes used to drop the class, and the controller's pods used to appear
// with no phase and no node.
func TestPodsAreCreatedBoundAndClassed(t *testing.T) {
	node, img := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cl, err := client.FromKubeconfig(node.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pods, _ := api.LookupResource("pods")
	_, rv, err := cl.ListWithVersion(ctx, pods, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events, err := cl.Watch(ctx, pods, "default", client.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}

	limited := mywebSpec(img)
	limited.Containers[0].Resources.Limits = api.ResourceList{
		api.ResourceCPU: api.MustParseQuantity("500m"), api.ResourceMemory: api.MustParseQuantity("256Mi")}
	rc := &api.ReplicationController{
		TypeMeta:   api.TypeMeta{Kind: "ReplicationController", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "classed", Namespace: "default"},
		Spec: api.ReplicationControllerSpec{
			Selector: map[string]string{"app": "classed"},
			Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "classed"}}, Spec: limited},
		},
	}
	if _, err := cl.Create(ctx, rc); err != nil {
		t.Fatal(err)
	}
	plain := &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "plain", Namespace: "default", Labels: map[string]string{"app": "plain"}},
		Spec:       mywebSpec(img),
	}
	if _, err := cl.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	want := map[string]api.PodQOSClass{} // by name
	for len(want) < 2 {
		var ev client.WatchEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("saw %d pods created", len(want))
		}
		if ev.Err != nil {
			t.Fatal(ev.Err)
		}
		p := ev.Object.(*api.Pod)
		if ev.Type != "ADDED" {
			continue
		}
		if p.Spec.NodeName != "n1" || p.Status.Phase != api.PodPending || len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Type != api.PodScheduled {
			t.Errorf("%s first seen with node %q, phase %q, conditions %+v; want n1, Pending, PodScheduled", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
		}
		class := api.PodQOSBestEffort
		if p.ControllerRef() != nil {
			class = api.PodQOSGuaranteed
		}
		if p.Status.QOSClass != class {
			t.Errorf("%s first seen with qosClass %q, want %s", p.Name, p.Status.QOSClass, class)
		}
		want[p.Name] = class
	}

	running := waitPods(t, node, "app in (classed,plain)", "Running", running(2))
	for _, p := range running {
		if p.Status.QOSClass != want[p.Name] {
			t.Errorf("%s running with qosClass %q, want %s", p.Name, p.Status.QOSClass, want[p.Name])
		}
		var out, errOut bytes.Buffer
		if code := cli.Run(ctx, []string{"wasmlet", "get", "--kubeconfig", node.KubeconfigPath(), "-o", "yaml", "pod", p.Name}, nil, &out, &errOut); code != 0 {
			t.Fatalf("get -o yaml: %d %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "\n  qosClass: "+string(want[p.Name])+"\n") {
			t.Errorf("get pod %s -o yaml shows no qosClass %s:\n%s", p.Name, want[p.Name], out.String())
		}
		out.Reset()
		if code := cli.Run(ctx, []string{"wasmlet", "describe", "--kubeconfig", node.KubeconfigPath(), "pod", p.Name}, nil, &out, &errOut); code != 0 {
			t.Fatalf("describe: %d %s", code, errOut.String())
		}
		if !regexp.MustCompile(`\nQoS Class:\s+` + string(want[p.Name]) + `\n`).MatchString(out.String()) {
			t.Errorf("describe pod %s shows no QoS Class %s:\n%s", p.Name, want[p.Name], out.String())
		}
	}
}

package wasmlet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
)

// TestDeploymentRollsToANewImage: a Deployment of 3 myweb rolls to another
// image and ends with 3 new pods Running, Ready and serving, the old
// ReplicaSet at 0.
func TestDeploymentRollsToANewImage(t *testing.T) {
	node, img := startNode(t)
	ctx := context.Background()
	// The same module under another name is another image to the
	// template, and needs no compilation of its own.
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	img2 := filepath.Join(t.TempDir(), "myweb-v2.wasm")
	if err := os.WriteFile(img2, data, 0o644); err != nil {
		t.Fatal(err)
	}
	three := int32(3)
	spec := mywebSpec(img)
	spec.Containers[0].ReadinessProbe = &api.Probe{
		ProbeHandler:  api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/", Port: api.FromString("http")}},
		PeriodSeconds: 1,
	}
	_, err = wasmlet.Create(ctx, node, &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "myweb", Namespace: "default"},
		Spec: api.DeploymentSpec{
			Replicas: &three,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: spec},
		},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	withImage := func(image string) func([]*api.Pod) bool {
		return func(pods []*api.Pod) bool {
			if !running(3)(pods) {
				return false
			}
			for _, p := range pods {
				if p.Spec.Containers[0].Image != image {
					return false
				}
			}
			return true
		}
	}
	first := waitPods(t, node, "app=web", "3 Running of the first image", withImage(img))
	rs1 := first[0].ControllerRef().Name
	if !strings.HasPrefix(rs1, "myweb-") || first[0].Labels["pod-template-hash"] != strings.TrimPrefix(rs1, "myweb-") {
		t.Fatalf("pod %s of ReplicaSet %s, labels %v", first[0].Name, rs1, first[0].Labels)
	}

	start := time.Now()
	if _, err := wasmlet.Patch[*api.Deployment](ctx, node, "default", "myweb", wasmlet.StrategicMergePatch,
		fmt.Appendf(nil, `{"spec":{"template":{"spec":{"containers":[{"name":"myweb","image":%q}]}}}}`, img2)); err != nil {
		t.Fatalf("set image: %v", err)
	}
	pods := waitPods(t, node, "app=web", "3 Running of the new image", withImage(img2))
	t.Logf("rolled 3 pods to a new image in %v", time.Since(start).Round(time.Millisecond))
	for _, p := range pods {
		if p.ControllerRef().Name == rs1 {
			t.Errorf("pod %s is the old ReplicaSet's", p.Name)
		}
		if got, want := hello(t, p.Status.PodIP), "Hello World! I'm "+p.Name; got != want {
			t.Errorf("GET / of %s = %q, want %q", p.Name, got, want)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		old, err := wasmlet.Get[*api.ReplicaSet](ctx, node, "default", rs1)
		if err != nil {
			t.Fatalf("old ReplicaSet: %v", err)
		}
		dep, err := wasmlet.Get[*api.Deployment](ctx, node, "default", "myweb")
		if err != nil {
			t.Fatal(err)
		}
		s := dep.Status
		if *old.Spec.Replicas == 0 && old.Status.Replicas == 0 && s.UpdatedReplicas == 3 && s.AvailableReplicas == 3 &&
			s.Replicas == 3 && dep.Annotations["deployment.kubernetes.io/revision"] == "2" && s.ObservedGeneration == dep.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old ReplicaSet %d/%d, deployment %+v", *old.Spec.Replicas, old.Status.Replicas, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

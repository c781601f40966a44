package api

import (
	"fmt"
	"testing"
)

// TestMaxContainers: a pod or a template over MaxContainers is refused
// with one error per list, not one per container.
func TestMaxContainers(t *testing.T) {
	containers := func(n int) []Container {
		out := make([]Container, n)
		for i := range out {
			out[i] = Container{Name: fmt.Sprintf("c%d", i), Image: "a.wasm"}
		}
		return out
	}
	p := &Pod{}
	p.Name, p.Namespace = "p", "default"
	p.Spec.Containers = containers(MaxContainers)
	Default(p)
	if errs := Validate(p); len(errs) != 0 {
		t.Fatalf("%d containers: %s", MaxContainers, errs.ToAggregateString())
	}
	p.Spec.Containers = containers(10000)
	p.Spec.InitContainers = containers(MaxContainers + 1)
	Default(p)
	want := "[spec.initContainers: Too many: 101: must have at most 100 items, spec.containers: Too many: 10000: must have at most 100 items]"
	if got := Validate(p).ToAggregateString(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	rs := &ReplicaSet{}
	rs.Name, rs.Namespace = "rs", "default"
	rs.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	rs.Spec.Template.Labels = map[string]string{"a": "b"}
	rs.Spec.Template.Spec.Containers = containers(MaxContainers + 1)
	Default(rs)
	if got := Validate(rs).ToAggregateString(); got != "spec.template.spec.containers: Too many: 101: must have at most 100 items" {
		t.Errorf("template: %s", got)
	}
}

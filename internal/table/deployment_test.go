package table

import (
	"slices"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestDeploymentRow(t *testing.T) {
	r, ok := api.LookupResource("deployments.apps")
	if !ok {
		t.Fatal("no deployments")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	three := int32(3)
	d := &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "myweb", CreationTimestamp: api.NewTime(now.Add(-90 * time.Second))},
		Spec: api.DeploymentSpec{
			Replicas: &three,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{Spec: api.PodSpec{Containers: []api.Container{
				{Name: "myweb", Image: "myweb.wasm"}, {Name: "side", Image: "side.wasm"}}}},
		},
		Status: api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1},
	}
	if got, want := Columns(r, true), []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"}; !slices.Equal(got, want) {
		t.Errorf("columns %q, want %q", got, want)
	}
	if got, want := Cells(r, d, now, true), []string{"myweb", "1/3", "2", "1", "90s", "myweb,side", "myweb.wasm,side.wasm", "app=web"}; !slices.Equal(got, want) {
		t.Errorf("cells %q, want %q", got, want)
	}
	if got := Cells(r, d, now, false); len(got) != 5 {
		t.Errorf("narrow cells %q", got)
	}
}

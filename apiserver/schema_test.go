package apiserver

import (
	"encoding/json"
	"testing"
)

// TestSchemasCarryPatchStrategies checks the extensions kubectl apply reads
// to merge lists, against the registry's strategic merge patch.
func TestSchemasCarryPatchStrategies(t *testing.T) {
	core, apps := gvDocument(""), gvDocument("apps")
	schemas := func(d openAPIDoc) map[string]map[string]any {
		return d.Components["schemas"].(map[string]map[string]any)
	}
	prop := func(s map[string]map[string]any, typ, field string) map[string]any {
		t.Helper()
		c, ok := s[typ]
		if !ok {
			t.Fatalf("no schema %s", typ)
		}
		p, ok := c["properties"].(map[string]any)[field].(map[string]any)
		if !ok {
			t.Fatalf("no property %s.%s", typ, field)
		}
		return p
	}
	tests := []struct {
		doc                    openAPIDoc
		typ, field, strat, key string
	}{
		{core, "io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"},
		{core, "io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", "name"},
		{core, "io.k8s.api.core.v1.Container", "env", "merge", "name"},
		{core, "io.k8s.api.core.v1.Container", "ports", "merge", "containerPort"},
		{core, "io.k8s.api.core.v1.Container", "volumeMounts", "merge", "mountPath"},
		{core, "io.k8s.api.core.v1.Container", "args", "", ""},
		{core, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", ""},
		{core, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", "uid"},
		{core, "io.k8s.api.core.v1.PodStatus", "conditions", "merge", "type"},
		{apps, "io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"},
		{apps, "io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "merge", "type"},
	}
	for _, tc := range tests {
		p := prop(schemas(tc.doc), tc.typ, tc.field)
		strat, _ := p["x-kubernetes-patch-strategy"].(string)
		key, _ := p["x-kubernetes-patch-merge-key"].(string)
		if strat != tc.strat || key != tc.key {
			t.Errorf("%s.%s: strategy %q key %q, want %q %q", tc.typ, tc.field, strat, key, tc.strat, tc.key)
		}
	}
	pod := schemas(core)["io.k8s.api.core.v1.Pod"]
	b, _ := json.Marshal(pod["x-kubernetes-group-version-kind"])
	if string(b) != `[{"group":"","kind":"Pod","version":"v1"}]` {
		t.Errorf("Pod's group-version-kind: %s", b)
	}
}

package apiserver

import (
	"encoding/json"
	"strings"
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

// TestSchemasAreDocumented checks that the documents kubectl explain reads
// describe every kind, every property, and mark the required ones.
func TestSchemasAreDocumented(t *testing.T) {
	for _, group := range []string{"", "apps"} {
		schemas := gvDocument(group).Components["schemas"].(map[string]map[string]any)
		for name, s := range schemas {
			if d, _ := s["description"].(string); d == "" {
				t.Errorf("%s has no description", name)
			}
			props, _ := s["properties"].(map[string]any)
			for field, p := range props {
				if d, _ := p.(map[string]any)["description"].(string); d == "" {
					t.Errorf("%s.%s has no description", name, field)
				}
			}
		}
		if group != "" {
			continue
		}
		b, _ := json.Marshal(schemas["io.k8s.api.core.v1.Container"]["required"])
		if string(b) != `["name"]` {
			t.Errorf("Container's required fields: %s", b)
		}
		b, _ = json.Marshal(schemas["io.k8s.api.core.v1.PodSpec"]["properties"].(map[string]any)["restartPolicy"])
		if !strings.Contains(string(b), `"enum":["Always","Never","OnFailure"]`) {
			t.Errorf("restartPolicy: %s", b)
		}
		if _, ok := schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]; !ok {
			t.Error("no Quantity schema")
		}
	}
}

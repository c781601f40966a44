package examples_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// manifest is the part of an object the checks below look at.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		podSpec
		Replicas *int `json:"replicas"`
		Template *struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type podSpec struct {
	Containers []struct {
		Name  string `json:"name"`
		Image string `json:"image"`
	} `json:"containers"`
}

// TestManifests checks that every manifest is one well-formed object whose
// images are examples (or, for missing-image, deliberately not), and that
// the demo directory holds no two objects of one kind and name.
func TestManifests(t *testing.T) {
	dir, err := examples.Dir()
	if err != nil {
		t.Fatal(err)
	}
	top, _ := filepath.Glob(filepath.Join(dir, "manifests", "*.yaml"))
	exercises, _ := filepath.Glob(filepath.Join(dir, "manifests", "exercises", "*.yaml"))
	if len(top) == 0 || len(exercises) == 0 {
		t.Fatalf("no manifests found under %s", filepath.Join(dir, "manifests"))
	}
	seen := map[string]string{}
	for _, path := range append(top, exercises...) {
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m manifest
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Errorf("%s: apiVersion, kind and metadata.name are required", rel)
		}
		spec := m.Spec.podSpec
		if m.Spec.Template != nil {
			spec = m.Spec.Template.Spec
		}
		if len(spec.Containers) == 0 {
			t.Errorf("%s: no containers", rel)
		}
		for _, c := range spec.Containers {
			name, ok := strings.CutPrefix(c.Image, "wasm-examples/bin/")
			name, ok2 := strings.CutSuffix(name, ".wasm")
			exists := ok && ok2 && slices.Contains(examples.Names(), name)
			if want := m.Metadata.Name != "missing-image"; exists != want {
				t.Errorf("%s: container %s: image %q exists=%v", rel, c.Name, c.Image, exists)
			}
		}
		if filepath.Dir(path) == filepath.Join(dir, "manifests") {
			key := m.Kind + "/" + m.Metadata.Name
			if other, dup := seen[key]; dup {
				t.Errorf("%s and %s both define %s", other, rel, key)
			}
			seen[key] = rel
		}
	}
}

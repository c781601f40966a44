package cli

import (
	"encoding/json"
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// manifest is one object read from -f.
type manifest struct {
	resource *api.ResourceInfo
	object   api.Object
	// applied is the object as the file states it, in JSON: what apply
	// records as the last applied configuration.
	applied []byte
}

// loadManifests reads the objects of -f (files, directories, `-` for
// stdin), printing decoding warnings (fields Kubernetes has and wasmlet
// does not implement) as kubectl prints the server's warnings.
func (e *environment) loadManifests(paths []string, recursive bool) ([]manifest, error) {
	objs, warnings, err := api.LoadPaths(paths, recursive, e.stdin)
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "Warning: %s\n", w)
	}
	if err != nil {
		return nil, err
	}
	out := make([]manifest, 0, len(objs))
	for _, obj := range objs {
		r, ok := api.ResourceOf(obj)
		if !ok {
			tm := obj.GetTypeMeta()
			return nil, fmt.Errorf("no matches for kind %q in version %q", tm.Kind, tm.APIVersion)
		}
		applied, err := appliedConfiguration(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, manifest{resource: r, object: obj, applied: applied})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no objects passed to apply")
	}
	return out, nil
}

// appliedConfiguration is the object as the file states it: its JSON
// without what a typed object adds that the file cannot have said (null
// and empty fields, a status). Apply compares it with the live object and
// records it; a null creationTimestamp in it would otherwise be "changed"
// by every apply.
func appliedConfiguration(obj api.Object) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m, err := toMap(b)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	prune(m)
	return json.Marshal(m)
}

// prune removes null values, and maps left empty outside lists, depth
// first. In list elements an empty map can be what the file says
// (`emptyDir: {}`), so it stays.
func prune(m map[string]any) { pruneMap(m, true) }

func pruneMap(m map[string]any, dropEmpty bool) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneMap(v, dropEmpty)
			if dropEmpty && len(v) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					pruneMap(em, false)
				}
			}
		}
	}
}

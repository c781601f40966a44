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
		applied, err := json.Marshal(obj)
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

package cli

import (
	"fmt"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// resourceRef is what a verb's arguments name: a kind, and either names of
// objects or none (all of them, or those a selector picks).
type resourceRef struct {
	resource *api.ResourceInfo
	names    []string
}

// lookupResource finds a kind as a user types it, or gives kubectl's
// answer for a kind the node does not serve.
func lookupResource(name string) (*api.ResourceInfo, error) {
	r, ok := api.LookupResource(name)
	if !ok {
		return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
	}
	return r, nil
}

// parseResourceArgs reads `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`, the
// two forms kubectl accepts, into one ref per kind in the order given. A
// comma list with names names each object in each kind.
func parseResourceArgs(args []string) ([]resourceRef, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if strings.Contains(args[0], "/") {
		var refs []resourceRef
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wasmlet get resource/<resource_name>' instead of 'wasmlet get resource resource/<resource_name>'")
			}
			if typ == "" || name == "" {
				return nil, fmt.Errorf("arguments in resource/name form must have a single resource and name")
			}
			r, err := lookupResource(typ)
			if err != nil {
				return nil, err
			}
			refs = appendName(refs, r, name)
		}
		return refs, nil
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wasmlet get resource/<resource_name>' instead of 'wasmlet get resource resource/<resource_name>'")
		}
	}
	var refs []resourceRef
	for _, typ := range strings.Split(args[0], ",") {
		if typ == "" {
			continue
		}
		kinds := categoryResources(typ)
		if kinds == nil {
			r, err := lookupResource(typ)
			if err != nil {
				return nil, err
			}
			kinds = []*api.ResourceInfo{r}
		}
		for _, r := range kinds {
			if i := indexOf(refs, r); i < 0 {
				refs = append(refs, resourceRef{resource: r, names: args[1:]})
			}
		}
	}
	return refs, nil
}

// categoryResources are the kinds of a category such as `all`, in the
// order the node serves them; nil when name is not a category.
func categoryResources(name string) []*api.ResourceInfo {
	var out []*api.ResourceInfo
	for _, r := range api.Resources() {
		for _, c := range r.Categories {
			if strings.EqualFold(c, name) {
				out = append(out, r)
			}
		}
	}
	return out
}

// appendName adds name under r, keeping kinds in first-seen order.
func appendName(refs []resourceRef, r *api.ResourceInfo, name string) []resourceRef {
	if i := indexOf(refs, r); i >= 0 {
		refs[i].names = append(refs[i].names, name)
		return refs
	}
	return append(refs, resourceRef{resource: r, names: []string{name}})
}

func indexOf(refs []resourceRef, r *api.ResourceInfo) int {
	for i := range refs {
		if refs[i].resource == r {
			return i
		}
	}
	return -1
}

// kindName is `replicaset.apps/myweb-rs`, as success lines name an object.
func kindName(r *api.ResourceInfo, name string) string {
	k := strings.ToLower(r.Kind)
	if r.Group != "" {
		k += "." + r.Group
	}
	return k + "/" + name
}

// objectNamespace is where a namespaced object of r goes: its own
// namespace, else ns.
func objectNamespace(r *api.ResourceInfo, obj api.Object, ns string) string {
	if !r.Namespaced {
		return ""
	}
	if m := obj.GetObjectMeta(); m.Namespace != "" {
		return m.Namespace
	}
	return ns
}

package store

import (
	"fmt"
	"log"

	"github.com/wasmlet/wasmlet/api"
)

// kinds is how the store finds the kinds it holds: the api package's
// registry, which tests may replace with kinds of their own.
var kinds = struct {
	of     func(api.Object) (*api.ResourceInfo, bool)
	lookup func(string) (*api.ResourceInfo, bool)
	all    func() []*api.ResourceInfo
}{api.ResourceOf, api.LookupResource, api.Resources}

// resourceOf is the kind of obj, or a BadRequest naming what it is.
func resourceOf(obj api.Object) (*api.ResourceInfo, error) {
	if obj == nil {
		return nil, api.NewBadRequest("no object given")
	}
	r, ok := kinds.of(obj)
	if !ok {
		tm := obj.GetTypeMeta()
		return nil, api.NewBadRequest(fmt.Sprintf("no kind %q is registered in version %q (Go type %T)", tm.Kind, tm.APIVersion, obj))
	}
	return r, nil
}

// namespaceKind is the Namespace kind, when it is registered. Without it
// the store does not check that namespaces exist.
func namespaceKind() (*api.ResourceInfo, bool) {
	r, ok := kinds.lookup("namespaces")
	if !ok || !isNamespaces(r) {
		return nil, false
	}
	return r, true
}

func isCore(r *api.ResourceInfo, resource string) bool {
	return r.Group == "" && r.Resource == resource
}

func isNamespaces(r *api.ResourceInfo) bool { return isCore(r, "namespaces") }
func isPods(r *api.ResourceInfo) bool       { return isCore(r, "pods") }

func isEvents(r *api.ResourceInfo) bool {
	return r.Resource == "events" && (r.Group == "" || r.Group == "events.k8s.io")
}

func logf(format string, args ...any) { log.Printf(format, args...) }

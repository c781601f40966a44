package api

import "strings"

// ResourceInfo describes one kind that wasmlet serves: how the API names it,
// how the CLI abbreviates it, and how to make an empty one.
type ResourceInfo struct {
	Group      string // "" for the core group, "apps" for ReplicaSet
	Version    string // "v1"
	Kind       string // "Pod"
	Resource   string // plural, lower case: "pods"
	Singular   string // "pod"
	ShortNames []string
	Namespaced bool
	// Categories such as "all" (get all).
	Categories []string
	// New returns an empty object of this kind.
	New func() Object
}

// APIVersion is "v1" or "apps/v1".
func (r *ResourceInfo) APIVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// GroupResource is "pods" or "replicasets.apps", as messages name a resource.
func (r *ResourceInfo) GroupResource() string { return qualified(r.Group, r.Resource) }

// resources is every kind the node serves; the order is the order of
// discovery and of `get all`.
var resources []*ResourceInfo

// registerResource is called by the files that define each kind.
func registerResource(r *ResourceInfo) { resources = append(resources, r) }

// Resources returns every kind the node serves.
func Resources() []*ResourceInfo { return resources }

// LookupResource finds a kind by what a user may type: plural, singular, short
// name or kind, case-insensitive, optionally qualified with its group
// ("replicasets.apps", "rs").
func LookupResource(name string) (*ResourceInfo, bool) {
	n := strings.ToLower(name)
	group := ""
	if i := strings.IndexByte(n, '.'); i >= 0 {
		n, group = n[:i], n[i+1:]
	}
	for _, r := range resources {
		if group != "" && group != r.Group {
			continue
		}
		if n == r.Resource || n == r.Singular || n == strings.ToLower(r.Kind) {
			return r, true
		}
		for _, s := range r.ShortNames {
			if n == s {
				return r, true
			}
		}
	}
	return nil, false
}

// LookupKind finds a kind by apiVersion and kind, as a manifest names it.
func LookupKind(apiVersion, kind string) (*ResourceInfo, bool) {
	for _, r := range resources {
		if r.APIVersion() == apiVersion && r.Kind == kind {
			return r, true
		}
	}
	return nil, false
}

// ResourceOf returns the ResourceInfo of obj's kind, using its TypeMeta when
// set and its Go type otherwise.
func ResourceOf(obj Object) (*ResourceInfo, bool) {
	tm := obj.GetTypeMeta()
	if tm.Kind != "" {
		if r, ok := LookupKind(tm.APIVersion, tm.Kind); ok {
			return r, true
		}
	}
	for _, r := range resources {
		if sameType(r.New(), obj) {
			return r, true
		}
	}
	return nil, false
}

func sameType(a, b Object) bool {
	return typeName(a) == typeName(b)
}

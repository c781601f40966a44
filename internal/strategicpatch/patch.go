// Package strategicpatch is Kubernetes' strategic merge patch for
// wasmlet's kinds, both halves of it: the merge a server applies
// (StrategicMergeMapPatch) and the three-way patch a client computes for
// apply (CreateThreeWayMergePatch), with the JSON merge patch that edit
// sends (CreateThreeWayJSONMergePatch). Both halves read one table of
// merge keys, so that what the client computes the server merges as it
// was meant, as Kubernetes keeps both in apimachinery's strategicpatch.
//
// It works on decoded JSON documents only: it never imports the object
// types, the store or anything that speaks HTTP.
package strategicpatch

import (
	"encoding/json"
	"fmt"
	"strings"
)

// A strategic merge patch is a JSON merge patch that knows, for each list
// of the kind, whether it is merged element by element (and by which key)
// or replaced. Kubernetes reads that from the patchStrategy and
// patchMergeKey tags of its Go structs; wasmlet keeps the same facts in the
// schema below, for the kinds it serves.

// patchSchema describes one JSON value: the fields of an object, or the
// elements of a list and how the list merges.
type patchSchema struct {
	fields map[string]*patchSchema
	// For lists: mergeKey names the field that identifies an element of a
	// list of objects merged element by element; mergeSet marks a list of
	// primitives merged as a set; neither means the list is replaced.
	mergeKey string
	mergeSet bool
	// retainKeys: a patch of one of these objects may carry $retainKeys.
	retainKeys bool
	elem       *patchSchema
}

func object(fields map[string]*patchSchema) *patchSchema {
	return &patchSchema{fields: fields}
}

func mergeList(key string, elem *patchSchema) *patchSchema {
	return &patchSchema{mergeKey: key, elem: elem}
}

var setList = &patchSchema{mergeSet: true}

// The schemas of wasmlet's kinds, after Kubernetes' types.
var (
	objectMetaSchema = object(map[string]*patchSchema{
		"finalizers":      setList,
		"ownerReferences": mergeList("uid", nil),
	})
	containerSchema = object(map[string]*patchSchema{
		"ports":         mergeList("containerPort", nil),
		"env":           mergeList("name", nil),
		"volumeMounts":  mergeList("mountPath", nil),
		"volumeDevices": mergeList("devicePath", nil),
	})
	volumeSchema  = &patchSchema{retainKeys: true}
	podSpecSchema = object(map[string]*patchSchema{
		"containers":                mergeList("name", containerSchema),
		"initContainers":            mergeList("name", containerSchema),
		"ephemeralContainers":       mergeList("name", containerSchema),
		"volumes":                   mergeList("name", volumeSchema),
		"imagePullSecrets":          mergeList("name", nil),
		"hostAliases":               mergeList("ip", nil),
		"schedulingGates":           mergeList("name", nil),
		"resourceClaims":            mergeList("name", volumeSchema),
		"topologySpreadConstraints": mergeList("topologyKey", nil),
	})
	conditionsStatusSchema = object(map[string]*patchSchema{
		"conditions": mergeList("type", nil),
	})
	podStatusSchema = object(map[string]*patchSchema{
		"conditions": mergeList("type", nil),
		"podIPs":     mergeList("ip", nil),
		"hostIPs":    mergeList("ip", nil),
	})
	podTemplateSchema = object(map[string]*patchSchema{
		"metadata": objectMetaSchema,
		"spec":     podSpecSchema,
	})
	controllerSchema = object(map[string]*patchSchema{
		"metadata": objectMetaSchema,
		"spec":     object(map[string]*patchSchema{"template": podTemplateSchema}),
		"status":   conditionsStatusSchema,
	})
	kindSchemas = map[string]*patchSchema{
		"Pod": object(map[string]*patchSchema{
			"metadata": objectMetaSchema,
			"spec":     podSpecSchema,
			"status":   podStatusSchema,
		}),
		"ReplicaSet":            controllerSchema,
		"ReplicationController": controllerSchema,
		"Deployment":            controllerSchema,
		"Node": object(map[string]*patchSchema{
			"metadata": objectMetaSchema,
			"spec":     object(map[string]*patchSchema{"podCIDRs": setList}),
			"status": object(map[string]*patchSchema{
				"conditions": mergeList("type", nil),
				"addresses":  mergeList("type", nil),
			}),
		}),
	}
	// genericSchema is for kinds without lists to merge (Event,
	// Namespace, Scale).
	genericSchema = object(map[string]*patchSchema{"metadata": objectMetaSchema})
)

func schemaFor(kind string) *patchSchema {
	if s, ok := kindSchemas[kind]; ok {
		return s
	}
	return genericSchema
}

func (s *patchSchema) field(name string) *patchSchema {
	if s == nil || s.fields == nil {
		return nil
	}
	return s.fields[name]
}

// Directives of a strategic merge patch.
const (
	directiveMarker          = "$patch"
	retainKeysDirective      = "$retainKeys"
	deleteFromPrimitivePrefx = "$deleteFromPrimitiveList/"
	setElementOrderPrefix    = "$setElementOrder/"
)

// StrategicMergeMapPatch applies patch to doc (an object of kind) and
// returns the result; doc is modified. The directives `$patch`
// (merge/replace/delete, on maps and list elements), `$retainKeys`,
// `$deleteFromPrimitiveList/` and `$setElementOrder/` are applied; a list
// without a merge key is replaced. An error says where the patch is
// malformed.
func StrategicMergeMapPatch(kind string, doc, patch map[string]any) (map[string]any, error) {
	return strategicMergeMap(doc, patch, schemaFor(kind), "")
}

func strategicMergeMap(doc, patch map[string]any, s *patchSchema, path string) (map[string]any, error) {
	if v, ok := patch[directiveMarker]; ok {
		switch v {
		case "replace":
			return stripDirectives(patch).(map[string]any), nil
		case "delete":
			return nil, nil
		case "merge":
		default:
			return nil, fmt.Errorf("%s: unknown patch type %v", pathOr(path), v)
		}
	}
	if doc == nil {
		doc = map[string]any{}
	}
	if rk, ok := patch[retainKeysDirective]; ok {
		keys, ok := rk.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: $retainKeys must be a list of field names", pathOr(path))
		}
		keep := map[string]bool{}
		for _, k := range keys {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: $retainKeys must be a list of field names", pathOr(path))
			}
			keep[ks] = true
		}
		for k := range doc {
			if !keep[k] {
				delete(doc, k)
			}
		}
	}
	for k, v := range patch {
		switch {
		case k == directiveMarker || k == retainKeysDirective:
			continue
		case strings.HasPrefix(k, setElementOrderPrefix):
			continue
		case strings.HasPrefix(k, deleteFromPrimitivePrefx):
			field := strings.TrimPrefix(k, deleteFromPrimitivePrefx)
			gone, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s must be a list", pathOr(path), k)
			}
			if list, ok := doc[field].([]any); ok {
				doc[field] = removeValues(list, gone)
			}
			continue
		}
		child := s.field(k)
		childPath := joinPath(path, k)
		if v == nil {
			delete(doc, k)
			continue
		}
		switch pv := v.(type) {
		case map[string]any:
			dv, _ := doc[k].(map[string]any)
			merged, err := strategicMergeMap(dv, pv, child, childPath)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				delete(doc, k)
			} else {
				doc[k] = merged
			}
		case []any:
			dv, _ := doc[k].([]any)
			merged, err := strategicMergeList(dv, pv, child, childPath)
			if err != nil {
				return nil, err
			}
			doc[k] = merged
		default:
			doc[k] = v
		}
	}
	// Directives of the fields that were not otherwise patched.
	for k, v := range patch {
		if field, ok := strings.CutPrefix(k, setElementOrderPrefix); ok {
			if list, ok := doc[field].([]any); ok {
				doc[field] = orderElements(list, v, s.field(field))
			}
		}
	}
	return doc, nil
}

func strategicMergeList(doc, patch []any, s *patchSchema, path string) ([]any, error) {
	// A {"$patch": "replace"} element replaces the whole list with the
	// patch's other elements.
	for _, e := range patch {
		if m, ok := e.(map[string]any); ok && m[directiveMarker] == "replace" && len(m) == 1 {
			out := []any{}
			for _, e := range patch {
				if m, ok := e.(map[string]any); ok && m[directiveMarker] == "replace" && len(m) == 1 {
					continue
				}
				out = append(out, stripDirectives(e))
			}
			return out, nil
		}
	}
	switch {
	case s != nil && s.mergeSet:
		out := append([]any{}, doc...)
		seen := make(map[string]bool, len(out)+len(patch))
		for _, e := range out {
			seen[valueKey(e)] = true
		}
		for _, e := range patch {
			if k := valueKey(e); !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
		return out, nil
	case s != nil && s.mergeKey != "":
		// The elements are found by their key in an index, not by a scan
		// of the list for each element of the patch: a patch of 200,000
		// elements would otherwise cost 10^10 comparisons. Removed
		// elements are marked, and the list compacted at the end.
		out := append([]any{}, doc...)
		byKey := make(map[string][]int, len(out))
		for i, e := range out {
			if m, ok := e.(map[string]any); ok {
				k := valueKey(m[s.mergeKey])
				byKey[k] = append(byKey[k], i)
			}
		}
		removed := false
		remove := func(k string, i int) {
			out[i] = removedElement
			byKey[k] = byKey[k][1:]
			removed = true
		}
		for _, e := range patch {
			pm, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: an element of a list merged by %q is not an object", pathOr(path), s.mergeKey)
			}
			key, hasKey := pm[s.mergeKey]
			if !hasKey {
				return nil, fmt.Errorf("%s: an element of the patch has no merge key %q", pathOr(path), s.mergeKey)
			}
			k := valueKey(key)
			i := -1
			if at := byKey[k]; len(at) > 0 {
				i = at[0]
			}
			if pm[directiveMarker] == "delete" {
				if i >= 0 {
					remove(k, i)
				}
				continue
			}
			if i < 0 {
				byKey[k] = append(byKey[k], len(out))
				out = append(out, stripDirectives(pm))
				continue
			}
			dm, _ := out[i].(map[string]any)
			merged, err := strategicMergeMap(dm, pm, s.elem, fmt.Sprintf("%s[%s=%v]", path, s.mergeKey, key))
			if err != nil {
				return nil, err
			}
			if merged == nil {
				remove(k, i)
			} else {
				out[i] = merged
			}
		}
		if removed {
			kept := out[:0]
			for _, e := range out {
				if e != removedElement {
					kept = append(kept, e)
				}
			}
			out = kept
		}
		return out, nil
	default:
		return stripDirectives(patch).([]any), nil
	}
}

// orderElements orders list as the $setElementOrder directive says; the
// elements it does not name keep their order, after the named ones. Each
// name takes the first element it matches that no earlier name took.
func orderElements(list []any, order any, s *patchSchema) []any {
	want, ok := order.([]any)
	if !ok {
		return list
	}
	byMerge := s != nil && s.mergeKey != ""
	keyOf := func(v any) (string, bool) {
		if !byMerge {
			return valueKey(v), true
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		return valueKey(m[s.mergeKey]), true
	}
	at := make(map[string][]int, len(list))
	for i, e := range list {
		if k, ok := keyOf(e); ok {
			at[k] = append(at[k], i)
		}
	}
	out := make([]any, 0, len(list))
	used := make([]bool, len(list))
	for _, w := range want {
		k, ok := keyOf(w)
		if !ok || len(at[k]) == 0 {
			continue
		}
		i := at[k][0]
		at[k] = at[k][1:]
		out = append(out, list[i])
		used[i] = true
	}
	for i, e := range list {
		if !used[i] {
			out = append(out, e)
		}
	}
	return out
}

func removeValues(list, gone []any) []any {
	drop := make(map[string]bool, len(gone))
	for _, g := range gone {
		drop[valueKey(g)] = true
	}
	out := []any{}
	for _, e := range list {
		if !drop[valueKey(e)] {
			out = append(out, e)
		}
	}
	return out
}

// removedElement marks an element removed from a list being merged.
var removedElement any = &struct{ removed bool }{true}

// valueKey is a JSON value as a map key: two values have the same key when
// jsonEqual says they are equal (numbers by their value, objects whatever
// the order of their fields).
func valueKey(v any) string {
	if s, ok := v.(string); ok {
		return "s" + s
	}
	b, err := json.Marshal(normalizeNumbers(v))
	if err != nil {
		return fmt.Sprintf("?%v", v)
	}
	return "j" + string(b)
}

// stripDirectives removes the $-directives from a value the patch adds.
func stripDirectives(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			if k == directiveMarker || k == retainKeysDirective ||
				strings.HasPrefix(k, setElementOrderPrefix) || strings.HasPrefix(k, deleteFromPrimitivePrefx) {
				continue
			}
			if e == nil {
				continue
			}
			m[k] = stripDirectives(e)
		}
		return m
	case []any:
		l := make([]any, 0, len(t))
		for _, e := range t {
			l = append(l, stripDirectives(e))
		}
		return l
	default:
		return v
	}
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func pathOr(path string) string {
	if path == "" {
		return "the patch"
	}
	return path
}

// ListPatchStrategy says how a strategic merge patch merges the list at
// path (field names from the object's root, no indices) of kind: strategy
// "merge" with a mergeKey for lists of objects merged by a key, "merge"
// alone for lists of primitives merged as a set, "" for lists replaced
// whole. retainKeys reports whether the list's elements take $retainKeys.
// OpenAPI documents publish the same facts as x-kubernetes-patch-strategy
// and x-kubernetes-patch-merge-key.
func ListPatchStrategy(kind string, path []string) (strategy, mergeKey string, retainKeys bool) {
	s := schemaFor(kind)
	for _, f := range path {
		s = s.field(f)
		if s == nil {
			return "", "", false
		}
		if s.elem != nil && (s.mergeKey != "" || s.mergeSet) && f != path[len(path)-1] {
			s = s.elem
		}
	}
	switch {
	case s.mergeKey != "":
		return "merge", s.mergeKey, s.elem != nil && s.elem.retainKeys
	case s.mergeSet:
		return "merge", "", false
	}
	return "", "", false
}

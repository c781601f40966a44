package apiserver

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/strategicpatch"
)

// The schemas of the OpenAPI v3 documents are built from the api package's
// Go types: every field with its JSON name and type, the kinds tagged with
// x-kubernetes-group-version-kind (kubectl explain finds them so), and the
// lists with the patch strategy and merge key the registry's strategic
// merge patch uses, which kubectl reads to compute apply's patches.

var (
	timeType        = reflect.TypeFor[api.Time]()
	microTimeType   = reflect.TypeFor[api.MicroTime]()
	quantityType    = reflect.TypeFor[api.Quantity]()
	intOrStringType = reflect.TypeFor[api.IntOrString]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
)

// metaTypes are named as Kubernetes names them, in apimachinery's meta/v1.
var metaTypes = map[string]bool{
	"ObjectMeta": true, "OwnerReference": true, "LabelSelector": true,
	"LabelSelectorRequirement": true, "TypeMeta": true, "ListMeta": true,
}

// schemaName is the component name of a Go type, Kubernetes' way
// (io.k8s.api.core.v1.PodSpec).
func schemaName(t reflect.Type) string {
	n := t.Name()
	switch {
	case n == "Quantity":
		return "io.k8s.apimachinery.pkg.api.resource.Quantity"
	case n == "IntOrString":
		return "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	case metaTypes[n]:
		return "io.k8s.apimachinery.pkg.apis.meta.v1." + n
	case strings.HasPrefix(n, "ReplicaSet"):
		return "io.k8s.api.apps.v1." + n
	case n == "Scale" || strings.HasPrefix(n, "Scale"):
		return "io.k8s.api.autoscaling.v1." + n
	default:
		return "io.k8s.api.core.v1." + n
	}
}

// schemaBuilder collects the component schemas of one document.
type schemaBuilder struct {
	schemas map[string]map[string]any
}

func ref(name string) map[string]any {
	return map[string]any{"allOf": []any{map[string]any{"$ref": "#/components/schemas/" + name}}}
}

// kind adds the schema of res's kind and what it refers to.
func (b *schemaBuilder) kind(res *api.ResourceInfo) {
	t := reflect.TypeOf(res.New()).Elem()
	name := schemaName(t)
	b.object(t, res.Kind, nil)
	b.schemas[name]["x-kubernetes-group-version-kind"] = []any{
		map[string]any{"group": res.Group, "version": res.Version, "kind": res.Kind}}
}

// object adds the schema of struct type t, reached at path from the root
// of kind: its description, its properties with theirs, and the required
// ones, all from the api package's documentation.
func (b *schemaBuilder) object(t reflect.Type, kind string, path []string) {
	name := schemaName(t)
	if _, done := b.schemas[name]; done {
		return
	}
	s := map[string]any{"type": "object"}
	if d := api.TypeDescription(t); d != "" {
		s["description"] = d
	}
	b.schemas[name] = s
	props := map[string]any{}
	var required []string
	for _, f := range api.Fields(t) {
		p := b.value(f.Type, kind, append(append([]string(nil), path...), f.Name))
		if f.Description != "" {
			p["description"] = f.Description
		}
		props[f.Name] = p
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s["properties"] = props
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
}

// scalar adds the component of a type that is written as a scalar
// (Quantity, IntOrString) and refers to it, so that kubectl explain names
// the type as it does on a cluster.
func (b *schemaBuilder) scalar(t reflect.Type) map[string]any {
	name := schemaName(t)
	if _, done := b.schemas[name]; !done {
		b.schemas[name] = map[string]any{"x-kubernetes-int-or-string": true, "description": api.TypeDescription(t)}
	}
	return ref(name)
}

// value is the schema of a field of type t at path.
func (b *schemaBuilder) value(t reflect.Type, kind string, path []string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType, microTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case quantityType, intOrStringType:
		return b.scalar(t)
	case rawMessageType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		s := map[string]any{"type": "string"}
		if e := api.Enum(t); e != nil {
			s["enum"] = e
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int32, reflect.Uint32, reflect.Int16, reflect.Uint16, reflect.Int8, reflect.Uint8:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.value(t.Elem(), kind, path)}
	case reflect.Slice, reflect.Array:
		s := map[string]any{"type": "array", "items": b.value(t.Elem(), kind, path)}
		if strategy, key, retain := strategicpatch.ListPatchStrategy(kind, path); strategy != "" {
			if retain {
				strategy += ",retainKeys"
			}
			s["x-kubernetes-patch-strategy"] = strategy
			if key != "" {
				s["x-kubernetes-patch-merge-key"] = key
			}
		}
		return s
	case reflect.Struct:
		b.object(t, kind, path)
		return ref(schemaName(t))
	default:
		return map[string]any{}
	}
}

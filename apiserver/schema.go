package apiserver

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
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
// of kind.
func (b *schemaBuilder) object(t reflect.Type, kind string, path []string) {
	name := schemaName(t)
	if _, done := b.schemas[name]; done {
		return
	}
	s := map[string]any{"type": "object"}
	b.schemas[name] = s
	props := map[string]any{}
	b.fields(t, kind, path, props)
	s["properties"] = props
}

func (b *schemaBuilder) fields(t reflect.Type, kind string, path []string, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		jname, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && (jname == "" || strings.Contains(","+opts+",", ",inline,")) && ft.Kind() == reflect.Struct {
			b.fields(ft, kind, path, props)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if jname == "" {
			jname = f.Name
		}
		props[jname] = b.value(f.Type, kind, append(append([]string(nil), path...), jname))
	}
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
		return map[string]any{"x-kubernetes-int-or-string": true}
	case rawMessageType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
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
		if strategy, key, retain := registry.ListPatchStrategy(kind, path); strategy != "" {
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

package registry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// Decode decodes the JSON body of a write into an object of res, by
// Kubernetes' field validation: with FieldValidationStrict an unknown
// field is a BadRequest (`strict decoding error: unknown field
// "spec.foo"`), with FieldValidationWarn (also "") it is returned as a
// warning, with FieldValidationIgnore it is dropped silently. A kind or
// apiVersion that is not res's is a BadRequest.
func Decode(res *api.ResourceInfo, data []byte, fieldValidation string) (api.Object, []string, error) {
	switch fieldValidation {
	case "", FieldValidationStrict, FieldValidationWarn, FieldValidationIgnore:
	default:
		return nil, nil, api.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn or Strict, not %q", fieldValidation))
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, nil, api.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded as JSON: %v", err))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, api.NewBadRequest("the body of the request is not a JSON object")
	}
	return decodeMap(res, m, fieldValidation)
}

func decodeMap(res *api.ResourceInfo, m map[string]any, fieldValidation string) (api.Object, []string, error) {
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	if kind != "" && kind != res.Kind || apiVersion != "" && apiVersion != res.APIVersion() {
		return nil, nil, api.NewBadRequest(fmt.Sprintf("the object's kind %s, %s does not match the resource %s (%s, kind %s)",
			orEmpty(apiVersion), orEmpty(kind), res.GroupResource(), res.APIVersion(), res.Kind))
	}
	obj := res.New()
	var unknown []string
	if fieldValidation != FieldValidationIgnore {
		unknown = UnknownFields(reflect.TypeOf(obj), m)
	}
	if len(unknown) > 0 && fieldValidation == FieldValidationStrict {
		return nil, nil, api.NewBadRequest("strict decoding error: " + strings.Join(unknown, ", "))
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, nil, api.NewBadRequest(err.Error())
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, nil, api.NewBadRequest(fmt.Sprintf("unable to decode %s: %v", res.Kind, decodeErrorText(err)))
	}
	return obj, unknown, nil
}

func orEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func decodeErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asTypeError(err, &te); ok {
		return fmt.Sprintf("%s: cannot decode %s as %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// UnknownFields lists, in Kubernetes' words (`unknown field
// "spec.containers[0].imagePullPolice"`), the fields of the decoded JSON v
// that the Go type t has no field for. Maps of any value are open; types
// with their own JSON decoding (quantities, times, int-or-string) are
// leaves.
func UnknownFields(t reflect.Type, v any) []string {
	var out []string
	walkUnknown(t, v, "", &out)
	sort.Strings(out)
	return out
}

var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

func walkUnknown(t reflect.Type, v any, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := jsonFields(t)
		for k, e := range m {
			ft, ok := fields[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("unknown field %q", joinPath(path, k)))
				continue
			}
			walkUnknown(ft, e, joinPath(path, k), out)
		}
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range l {
			walkUnknown(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, e := range m {
			walkUnknown(t.Elem(), e, joinPath(path, k), out)
		}
	}
}

// jsonFields maps the JSON names of t's fields (with inlined embedded
// structs) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && (name == "" || strings.Contains(","+opts+",", ",inline,")) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

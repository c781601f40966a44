package registry

import (
	"encoding/json"
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

// Decode decodes the JSON body of a write into an object of res, by
// Kubernetes' field validation (api.DecodeWith): with FieldValidationStrict
// an unknown field is a BadRequest (`Pod in version "v1" cannot be handled
// as a Pod: strict decoding error: unknown field "spec.foo"`), with
// FieldValidationWarn (also "") it is returned as a warning, with
// FieldValidationIgnore it is dropped silently. Fields that Kubernetes has
// and wasmlet does not implement are dropped with a warning. A kind or
// apiVersion that is not res's is a BadRequest; a body without them is
// taken as res's.
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
	// As Kubernetes' decoder, the kind defaults to the one of the URL.
	m["kind"], m["apiVersion"] = res.Kind, res.APIVersion()
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, nil, api.NewBadRequest(err.Error())
	}
	v := api.FieldValidation(fieldValidation)
	if v == "" {
		v = api.FieldValidationWarn
	}
	return api.DecodeWith(raw, v)
}

func orEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

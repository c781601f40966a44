package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

// manifest is one object read from -f.
type manifest struct {
	resource *api.ResourceInfo
	object   api.Object
	// doc is the object as the file states it (api.Manifest.Doc), unknown
	// fields included: what create, replace and apply send, so that the
	// node judges the file as it judges kubectl's, and what apply records
	// as the last applied configuration.
	doc map[string]any
	// source is the file the object came from ("STDIN" for -), which
	// kubectl names in the errors of create.
	source string
}

// loadManifests reads the objects of -f (files, directories, `-` for
// stdin). As kubectl, the verbs that send the files leave unknown fields
// and the fields wasmlet does not implement to the node, which refuses or
// warns when the document arrives (strict false). With strict (up, which
// checks its files before it starts a node), an unknown field is an error
// here and the warnings are printed here, as kubectl prints the server's.
func (e *environment) loadManifests(paths []string, recursive, strict bool) ([]manifest, error) {
	v := api.FieldValidationIgnore
	if strict {
		v = api.FieldValidationStrict
	}
	ms, warnings, err := api.LoadManifests(paths, recursive, e.stdin, v)
	if strict {
		for _, w := range warnings {
			fmt.Fprintf(e.stderr, "Warning: %s\n", w)
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]manifest, 0, len(ms))
	for _, m := range ms {
		r, ok := api.ResourceOf(m.Object)
		if !ok {
			tm := m.Object.GetTypeMeta()
			return nil, fmt.Errorf("no matches for kind %q in version %q", tm.Kind, tm.APIVersion)
		}
		out = append(out, manifest{resource: r, object: m.Object, doc: m.Doc, source: m.Source})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no objects passed to apply")
	}
	return out, nil
}

// body is the document to send for m: a copy of the file's object, in
// namespace when its kind is namespaced.
func (m manifest) body(namespace string) (map[string]any, error) {
	b, err := json.Marshal(m.doc)
	if err != nil {
		return nil, err
	}
	obj, err := toMap(b)
	if err != nil {
		return nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	if m.resource.Namespaced {
		meta["namespace"] = namespace
	}
	return obj, nil
}

// bodyJSON is body as JSON, its metadata changed by edit when edit is set.
func (m manifest) bodyJSON(namespace string, edit func(meta map[string]any)) ([]byte, error) {
	obj, err := m.body(namespace)
	if err != nil {
		return nil, err
	}
	if edit != nil {
		edit(obj["metadata"].(map[string]any))
	}
	return json.Marshal(obj)
}

// forCreate readies the metadata of a file's object to be created: a
// file taken from `get -o yaml` names the resourceVersion and uid of the
// object it was taken from, which the node refuses or ignores on a create,
// so kubectl clears them, and so does wasmlet.
func forCreate(meta map[string]any) {
	delete(meta, "resourceVersion")
	delete(meta, "uid")
}

// withSource words a refused write of a file's object as kubectl does,
// naming what was done and the file: `error when creating "rs.yaml": ...`.
// Invalid objects keep their own wording, which names the object.
func withSource(err error, verb, source string) error {
	var st *api.Status
	if !errors.As(err, &st) || st.Reason == api.StatusReasonInvalid || source == "" {
		return err
	}
	c := *st
	c.Message = fmt.Sprintf("error when %s %q: %s", verb, source, st.Message)
	return &c
}

// validateFlag is kubectl's --validate of the verbs that send files.
func validateFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "validate", Value: "strict",
		Usage: "what the node does with fields the kinds do not have: strict (or true) refuses the object, warn drops them with a warning, ignore (or false) drops them"}
}

// fieldValidation is the node's fieldValidation for --validate.
func fieldValidation(c *ucli.Context) (api.FieldValidation, error) {
	switch v := c.String("validate"); v {
	case "", "strict", "true":
		return api.FieldValidationStrict, nil
	case "warn":
		return api.FieldValidationWarn, nil
	case "ignore", "false":
		return api.FieldValidationIgnore, nil
	default:
		return "", fmt.Errorf("invalid - validate option %q; must be one of: strict (or true), warn, ignore (or false)", v)
	}
}

package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wasmlet/wasmlet/api"
	"sigs.k8s.io/yaml"
)

// Item is one object to print, with its kind.
type Item struct {
	Resource *api.ResourceInfo
	Object   api.Object
}

// PrintYAML writes items as `-o yaml` does: the object alone when single
// (one object named by the user), otherwise a `kind: List`. Keys are sorted
// as kubectl sorts them.
func PrintYAML(w io.Writer, items []Item, single bool) error {
	v, err := document(items, single)
	if err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return err
	}
	_, err = w.Write(y)
	return err
}

// PrintJSON writes items as `-o json` does: indented by four spaces, keys
// sorted, the object alone when single, otherwise a `kind: List`.
func PrintJSON(w io.Writer, items []Item, single bool) error {
	v, err := document(items, single)
	if err != nil {
		return err
	}
	j, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", j)
	return err
}

// PrintName writes `pod/myweb`, `replicaset.apps/myweb-rs`.
func PrintName(w io.Writer, items []Item) error {
	for _, it := range items {
		if _, err := fmt.Fprintf(w, "%s/%s\n", KindPrefix(it.Resource), it.Object.GetObjectMeta().Name); err != nil {
			return err
		}
	}
	return nil
}

// Document is the generic form of what -o yaml, json and jsonpath print:
// the object alone when single, otherwise a `kind: List` of the items.
func Document(items []Item, single bool) (any, error) { return document(items, single) }

// document is the generic form of what is printed, so that keys come out
// sorted, as kubectl prints the unstructured objects it gets.
func document(items []Item, single bool) (any, error) {
	if single && len(items) == 1 {
		return generic(items[0])
	}
	list := make([]any, 0, len(items))
	for _, it := range items {
		g, err := generic(it)
		if err != nil {
			return nil, err
		}
		list = append(list, g)
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"items":      list,
		"metadata":   map[string]any{"resourceVersion": ""},
	}, nil
}

// generic turns an object into maps, with kind and apiVersion filled in
// from its resource when the object does not carry them.
func generic(it Item) (map[string]any, error) {
	b, err := json.Marshal(it.Object)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if it.Resource != nil {
		if _, ok := m["kind"]; !ok {
			m["kind"] = it.Resource.Kind
		}
		if _, ok := m["apiVersion"]; !ok {
			m["apiVersion"] = it.Resource.APIVersion()
		}
	}
	return m, nil
}

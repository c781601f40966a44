package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// manifest is one object read from -f.
type manifest struct {
	resource *api.ResourceInfo
	object   api.Object
	// applied is the object as the file states it, in JSON: what apply
	// records as the last applied configuration.
	applied []byte
	// source is the file the object came from ("STDIN" for -), which
	// kubectl names in the errors of create.
	source string
}

// loadManifests reads the objects of -f (files, directories, `-` for
// stdin), printing decoding warnings (fields Kubernetes has and wasmlet
// does not implement) as kubectl prints the server's warnings.
func (e *environment) loadManifests(paths []string, recursive bool) ([]manifest, error) {
	var objs []api.Object
	var sources []string
	for _, file := range manifestFiles(paths, recursive) {
		o, warnings, err := api.LoadPaths([]string{file}, recursive, e.stdin)
		for _, w := range warnings {
			fmt.Fprintf(e.stderr, "Warning: %s\n", w)
		}
		if err != nil {
			return nil, err
		}
		source := file
		if file == "-" {
			source = "STDIN"
		}
		for range o {
			sources = append(sources, source)
		}
		objs = append(objs, o...)
	}
	out := make([]manifest, 0, len(objs))
	for i, obj := range objs {
		r, ok := api.ResourceOf(obj)
		if !ok {
			tm := obj.GetTypeMeta()
			return nil, fmt.Errorf("no matches for kind %q in version %q", tm.Kind, tm.APIVersion)
		}
		applied, err := appliedConfiguration(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, manifest{resource: r, object: obj, applied: applied, source: sources[i]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no objects passed to apply")
	}
	return out, nil
}

// appliedConfiguration is the object as the file states it: its JSON
// without what a typed object adds that the file cannot have said (null
// and empty fields, a status). Apply compares it with the live object and
// records it; a null creationTimestamp in it would otherwise be "changed"
// by every apply.
func appliedConfiguration(obj api.Object) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m, err := toMap(b)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	prune(m)
	dropStructDefaults(m, reflect.TypeOf(obj))
	return json.Marshal(m)
}

// prune removes null values, and maps left empty outside lists, depth
// first. In list elements an empty map can be what the file says
// (`emptyDir: {}`), so it stays.
func prune(m map[string]any) { pruneMap(m, true) }

func pruneMap(m map[string]any, dropEmpty bool) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneMap(v, dropEmpty)
			if dropEmpty && len(v) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					pruneMap(em, false)
				}
			}
		}
	}
}

// dropStructDefaults removes, at any depth, the empty maps that stand for
// a struct field that is not a pointer (a container's `resources: {}`):
// a typed object always has them, so they say nothing about the file,
// and kubectl's record of the same file has none. Empty maps of pointer
// fields (`emptyDir: {}`) are what the file says and stay.
func dropStructDefaults(m map[string]any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for _, f := range api.Fields(t) {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		ft := f.Type
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 && ft.Kind() == reflect.Struct {
				delete(m, f.Name)
				continue
			}
			dropStructDefaults(v, ft)
		case []any:
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Slice {
				continue
			}
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					dropStructDefaults(em, ft.Elem())
				}
			}
		}
	}
}

// manifestFiles lists the files of paths, in LoadPaths' order, so that
// each object is known with its file: a directory becomes its manifests
// (.json, .yaml, .yml; those of subdirectories with recursive). A path
// that cannot be read is kept, for LoadPaths to report.
func manifestFiles(paths []string, recursive bool) []string {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if p == "-" || err != nil || !info.IsDir() {
			out = append(out, p)
			continue
		}
		var files []string
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if path != p && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".yaml", ".yml":
				files = append(files, path)
			}
			return nil
		})
		if len(files) == 0 {
			out = append(out, p) // LoadPaths says what is wrong with it
		}
		out = append(out, files...)
	}
	return out
}

// withSource words a refused create as kubectl does, naming the file:
// `error when creating "rs.yaml": ...`. Invalid objects keep their own
// wording, which names the object.
func withSource(err error, source string) error {
	var st *api.Status
	if !errors.As(err, &st) || st.Reason == api.StatusReasonInvalid || source == "" {
		return err
	}
	c := *st
	c.Message = fmt.Sprintf("error when creating %q: %s", source, st.Message)
	return &c
}

package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Manifests: YAML or JSON, several documents per file, `kind: List`, files,
// directories and standard input, decoded strictly as Kubernetes' API server
// decodes with fieldValidation=Strict.

// FieldValidation is Kubernetes' fieldValidation: what decoding does with a
// field the kind does not have.
type FieldValidation string

const (
	// FieldValidationStrict makes an unknown field an error.
	FieldValidationStrict FieldValidation = "Strict"
	// FieldValidationWarn drops an unknown field with a warning.
	FieldValidationWarn FieldValidation = "Warn"
	// FieldValidationIgnore drops an unknown field silently.
	FieldValidationIgnore FieldValidation = "Ignore"
)

// maxManifestBytes bounds one file or standard input.
const maxManifestBytes = 64 << 20

// Decode decodes one object, in JSON or YAML, strictly: see DecodeWith.
func Decode(data []byte) (Object, []string, error) {
	return DecodeWith(data, FieldValidationStrict)
}

// DecodeWith decodes one object in JSON or YAML. Its kind and apiVersion
// must name a kind wasmlet serves. The warnings name the fields Kubernetes
// has and wasmlet does not implement, which are dropped whatever v is, and,
// with FieldValidationWarn, the unknown fields. Errors are *Status
// BadRequest with Kubernetes' messages (`ReplicaSet in version "v1" cannot
// be handled as a ReplicaSet: strict decoding error: unknown field
// "spec.selecotr"`), or NotFound for an unknown kind.
func DecodeWith(data []byte, v FieldValidation) (Object, []string, error) {
	m, err := toJSONObject(data)
	if err != nil {
		return nil, nil, NewBadRequest(err.Error())
	}
	obj, warnings, err := decodeObject(m, v)
	if err != nil {
		var nm *noMatchError
		if errors.As(err, &nm) {
			return nil, nil, newStatus(404, StatusReasonNotFound, err.Error(), nil)
		}
		return nil, nil, NewBadRequest(err.Error())
	}
	return obj, warnings, nil
}

// noMatchError is kubectl's error for an unknown kind or apiVersion.
type noMatchError struct{ kind, apiVersion string }

func (e *noMatchError) Error() string {
	return fmt.Sprintf("no matches for kind %q in version %q", e.kind, e.apiVersion)
}

// toJSONObject reads one JSON or YAML document as a JSON object.
func toJSONObject(data []byte) (map[string]any, error) {
	j := data
	if !looksLikeJSON(data) {
		var err error
		if j, err = yaml.YAMLToJSONStrict(data); err != nil {
			return nil, fmt.Errorf("error converting YAML to JSON: %v", err)
		}
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not an object")
	}
	return m, nil
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// decodeObject turns the JSON object m into a typed object.
func decodeObject(m map[string]any, v FieldValidation) (Object, []string, error) {
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	switch {
	case kind == "":
		return nil, nil, errors.New("error validating data: kind not set")
	case apiVersion == "":
		return nil, nil, errors.New("error validating data: apiVersion not set")
	}
	r, ok := LookupKind(apiVersion, kind)
	if !ok {
		return nil, nil, &noMatchError{kind, apiVersion}
	}
	obj := r.New()
	var unknown, unimpl []string
	walkFields(reflect.TypeOf(obj), m, "", &unknown, &unimpl)
	var warnings []string
	for _, f := range unimpl {
		warnings = append(warnings, fmt.Sprintf("%s is not implemented by wasmlet and was ignored", f))
	}
	prefix := fmt.Sprintf("%s in version %q cannot be handled as a %s: ", r.Kind, r.Version, r.Kind)
	if len(unknown) > 0 {
		quoted := make([]string, len(unknown))
		for i, f := range unknown {
			quoted[i] = fmt.Sprintf("unknown field %q", f)
		}
		switch v {
		case FieldValidationStrict, "":
			return nil, warnings, errors.New(prefix + "strict decoding error: " + strings.Join(quoted, ", "))
		case FieldValidationWarn:
			warnings = append(warnings, quoted...)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, warnings, errors.New(prefix + err.Error())
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, warnings, errors.New(prefix + err.Error())
	}
	return obj, warnings, nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walkFields finds the fields of the JSON value v that the Go type t lacks,
// sorting them into unknown ones and ones Kubernetes has that wasmlet does
// not implement, and removes both from v so that the case-insensitive
// matching of encoding/json cannot bring them back. Types with their own JSON
// decoding (times, quantities, int-or-string, raw items) are leaves; maps
// are open.
func walkFields(t reflect.Type, v any, path string, unknown, unimpl *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := structFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				if isUnimplemented(t, k) {
					*unimpl = append(*unimpl, p)
				} else {
					*unknown = append(*unknown, p)
				}
				delete(m, k)
				continue
			}
			walkFields(ft, m[k], p, unknown, unimpl)
		}
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range l {
			walkFields(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), unknown, unimpl)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, e := range m {
			walkFields(t.Elem(), e, path+"."+k, unknown, unimpl)
		}
	}
}

func isInline(f reflect.StructField) bool {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return f.Anonymous && (name == "" || slices.Contains(strings.Split(opts, ","), "inline"))
}

// structFields maps the JSON names of t's fields, with those of inlined
// structs, to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if isInline(f) && f.Type.Kind() == reflect.Struct {
			for k, ft := range structFields(f.Type) {
				out[k] = ft
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// LoadPaths reads the objects of kubectl's `-f`: files, directories (their
// .json, .yaml and .yml files; with recursive, those of subdirectories too)
// and "-" for stdin. Each document of a file is one object, or several for
// `kind: List`. Decoding is strict: an unknown field is an error naming the
// file, the object and the field's path; a field Kubernetes has and wasmlet
// does not implement is a warning, and the object is kept. The warnings are
// meant to be printed after "Warning: ", as kubectl prints the server's.
func LoadPaths(paths []string, recursive bool, stdin io.Reader) ([]Object, []string, error) {
	ms, warnings, err := LoadManifests(paths, recursive, stdin, FieldValidationStrict)
	if err != nil {
		return nil, warnings, err
	}
	objs := make([]Object, len(ms))
	for i, m := range ms {
		objs[i] = m.Object
	}
	return objs, warnings, nil
}

// Manifest is one object of a manifest file.
type Manifest struct {
	Object Object
	// Doc is the object as the file states it, read as JSON, unknown
	// fields included: what a client that leaves field validation to the
	// node sends, and what apply records as the last applied configuration.
	Doc map[string]any
	// Source names the file ("STDIN" for standard input).
	Source string
}

// LoadManifests is LoadPaths that keeps each object's document and file,
// and decodes by v: with FieldValidationStrict an unknown field is an
// error, with the others it is left to whoever decodes Doc (the node).
func LoadManifests(paths []string, recursive bool, stdin io.Reader, v FieldValidation) ([]Manifest, []string, error) {
	var ms []Manifest
	var warnings []string
	for _, p := range paths {
		files, err := expandPath(p, recursive)
		if err != nil {
			return nil, warnings, err
		}
		for _, f := range files {
			var data []byte
			name := f
			if f == "-" {
				name = "STDIN"
				if stdin == nil {
					stdin = strings.NewReader("")
				}
				data, err = readLimited(stdin)
			} else {
				var file *os.File
				if file, err = os.Open(f); err == nil {
					data, err = readLimited(file)
					file.Close()
				}
			}
			if err != nil {
				return nil, warnings, fmt.Errorf("error reading %s: %v", name, err)
			}
			m, w, err := loadManifest(name, data, v)
			warnings = append(warnings, w...)
			if err != nil {
				return nil, warnings, err
			}
			ms = append(ms, m...)
		}
	}
	return ms, warnings, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxManifestBytes+1))
	if err == nil && len(data) > maxManifestBytes {
		err = fmt.Errorf("larger than %d bytes", maxManifestBytes)
	}
	return data, err
}

var manifestExtensions = []string{".json", ".yaml", ".yml"}

// expandPath lists the files a -f argument stands for, in lexical order.
func expandPath(p string, recursive bool) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the path %q does not exist", p)
		}
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(manifestExtensions, strings.ToLower(filepath.Ext(path))) {
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

// loadManifest decodes every document of one file.
func loadManifest(name string, data []byte, v FieldValidation) ([]Manifest, []string, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, nil, fmt.Errorf("error parsing %s: %v", name, err)
	}
	var ms []Manifest
	var warnings []string
	for _, doc := range docs {
		m, err := toJSONObject(doc)
		if err != nil {
			return nil, warnings, fmt.Errorf("error parsing %s: %v", name, err)
		}
		if m == nil {
			continue
		}
		items := []map[string]any{m}
		if isList(m) {
			items, err = listItems(m)
			if err != nil {
				return nil, warnings, fmt.Errorf("error validating %q: error validating data: %v", name, err)
			}
		}
		for _, item := range items {
			// Decoding removes the fields it does not keep from item.
			keep, err := deepCopyJSON(item)
			if err != nil {
				return nil, warnings, fmt.Errorf("error parsing %s: %v", name, err)
			}
			obj, w, err := decodeObject(item, v)
			who := describe(item)
			for _, s := range w {
				warnings = append(warnings, fmt.Sprintf("%q: %s%s", name, who, s))
			}
			var nm *noMatchError
			switch {
			case errors.As(err, &nm):
				md, _ := item["metadata"].(map[string]any)
				n, _ := md["name"].(string)
				ns, _ := md["namespace"].(string)
				// kubectl's words, hint and all: they are what users
				// search for.
				return nil, warnings, fmt.Errorf("resource mapping not found for name: %q namespace: %q from %q: %v\nensure CRDs are installed first", n, ns, name, err)
			case err != nil:
				return nil, warnings, fmt.Errorf("error validating %q: %s%v", name, who, err)
			}
			ms = append(ms, Manifest{Object: obj, Doc: keep, Source: name})
		}
	}
	return ms, warnings, nil
}

// deepCopyJSON copies a JSON object, numbers kept as json.Number.
func deepCopyJSON(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out map[string]any
	err = d.Decode(&out)
	return out, err
}

// describe names an object in messages: `ReplicaSet "web": `.
func describe(m map[string]any) string {
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if kind == "" || name == "" {
		return ""
	}
	return fmt.Sprintf("%s %q: ", kind, name)
}

func isList(m map[string]any) bool {
	kind, _ := m["kind"].(string)
	_, hasItems := m["items"]
	return kind == "List" || (strings.HasSuffix(kind, "List") && hasItems)
}

func listItems(m map[string]any) ([]map[string]any, error) {
	raw, ok := m["items"]
	if !ok || raw == nil {
		return nil, nil
	}
	l, ok := raw.([]any)
	if !ok {
		return nil, errors.New("items of a List must be a list")
	}
	out := make([]map[string]any, 0, len(l))
	for i, e := range l {
		item, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("items[%d] is not an object", i)
		}
		out = append(out, item)
	}
	return out, nil
}

// splitDocuments splits a YAML stream at its `---` lines, or a JSON stream
// into its values; empty documents are dropped.
func splitDocuments(data []byte) ([][]byte, error) {
	if looksLikeJSON(data) {
		var docs [][]byte
		d := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			err := d.Decode(&raw)
			if err == io.EOF {
				return docs, nil
			}
			if err != nil {
				return nil, err
			}
			if string(bytes.TrimSpace(raw)) != "null" {
				docs = append(docs, raw)
			}
		}
	}
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, slices.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(make([]byte, 64*1024), maxManifestBytes)
	for s.Scan() {
		line := s.Text()
		if rest, ok := strings.CutPrefix(line, "---"); ok {
			if t := strings.TrimSpace(rest); t == "" || strings.HasPrefix(t, "#") {
				flush()
				continue
			}
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	flush()
	return docs, nil
}

// hasContent reports whether a YAML document holds more than blank lines and
// comments.
func hasContent(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

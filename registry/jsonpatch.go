package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// PatchType names a patch format by the content type it travels with.
type PatchType string

// The patch formats Kubernetes accepts, by their HTTP content types.
const (
	// JSONPatch is RFC 6902: a list of add, remove, replace, move, copy
	// and test operations on JSON pointers.
	JSONPatch PatchType = "application/json-patch+json"
	// MergePatch is RFC 7386: an object merged into the object, null
	// removing a field; lists are replaced whole.
	MergePatch PatchType = "application/merge-patch+json"
	// StrategicMergePatch is Kubernetes' merge patch that merges lists of
	// objects element by element by their patch merge key (containers by
	// name, ports by containerPort, ...), with the $patch, $retainKeys,
	// $deleteFromPrimitiveList and $setElementOrder directives.
	StrategicMergePatch PatchType = "application/strategic-merge-patch+json"
	// ApplyPatch is server-side apply, which wasmlet does not implement.
	ApplyPatch PatchType = "application/apply-patch+yaml"
)

// decodeJSON decodes b keeping numbers exact (json.Number), as patches of
// large integers need.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return v, nil
}

// applyMergePatch applies an RFC 7386 merge patch to doc.
func applyMergePatch(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = applyMergePatch(dm[k], v)
	}
	return dm
}

// jsonPatchOp is one operation of an RFC 6902 patch.
type jsonPatchOp struct {
	Op    string           `json:"op"`
	Path  *string          `json:"path"`
	From  *string          `json:"from"`
	Value *json.RawMessage `json:"value"`
}

// applyJSONPatch applies an RFC 6902 patch to doc and returns the result;
// doc is modified.
func applyJSONPatch(doc any, patch []byte) (any, error) {
	var ops []jsonPatchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("unable to parse the JSON patch: %v", err)
	}
	for i, op := range ops {
		var err error
		doc, err = applyJSONPatchOp(doc, op)
		if err != nil {
			return nil, fmt.Errorf("the JSON patch's operation %d (%s): %w", i, op.Op, err)
		}
	}
	return doc, nil
}

func applyJSONPatchOp(doc any, op jsonPatchOp) (any, error) {
	if op.Path == nil {
		return nil, fmt.Errorf("missing path")
	}
	path, err := parsePointer(*op.Path)
	if err != nil {
		return nil, err
	}
	value := func() (any, error) {
		if op.Value == nil {
			return nil, fmt.Errorf("missing value")
		}
		return decodeJSON(*op.Value)
	}
	switch op.Op {
	case "add":
		v, err := value()
		if err != nil {
			return nil, err
		}
		return pointerAdd(doc, path, v)
	case "remove":
		doc, _, err := pointerRemove(doc, path)
		return doc, err
	case "replace":
		v, err := value()
		if err != nil {
			return nil, err
		}
		if _, err := pointerGet(doc, path); err != nil {
			return nil, err
		}
		if len(path) == 0 {
			return v, nil
		}
		doc, _, err = pointerRemove(doc, path)
		if err != nil {
			return nil, err
		}
		return pointerAdd(doc, path, v)
	case "move", "copy":
		if op.From == nil {
			return nil, fmt.Errorf("missing from")
		}
		from, err := parsePointer(*op.From)
		if err != nil {
			return nil, err
		}
		var v any
		if op.Op == "move" {
			if isPrefix(from, path) && len(from) < len(path) {
				return nil, fmt.Errorf("cannot move %q into its own child %q", *op.From, *op.Path)
			}
			doc, v, err = pointerRemove(doc, from)
		} else {
			v, err = pointerGet(doc, from)
			v = deepCopyJSON(v)
		}
		if err != nil {
			return nil, err
		}
		return pointerAdd(doc, path, v)
	case "test":
		v, err := value()
		if err != nil {
			return nil, err
		}
		got, err := pointerGet(doc, path)
		if err != nil {
			return nil, err
		}
		if !jsonEqual(got, v) {
			return nil, fmt.Errorf("testing value %s failed", *op.Path)
		}
		return doc, nil
	default:
		return nil, fmt.Errorf("unexpected operation %q", op.Op)
	}
}

func isPrefix(p, of []string) bool {
	if len(p) > len(of) {
		return false
	}
	for i := range p {
		if p[i] != of[i] {
			return false
		}
	}
	return true
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped tokens.
func parsePointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("path %q does not start with /", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func arrayIndex(tok string, n int, forAdd bool) (int, error) {
	if tok == "-" && forAdd {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || (tok != "0" && strings.HasPrefix(tok, "0")) {
		return 0, fmt.Errorf("invalid array index %q", tok)
	}
	max := n - 1
	if forAdd {
		max = n
	}
	if i > max {
		return 0, fmt.Errorf("array index %d out of bounds (length %d)", i, n)
	}
	return i, nil
}

func pointerGet(doc any, path []string) (any, error) {
	cur := doc
	for _, tok := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("path /%s does not exist", strings.Join(path, "/"))
			}
			cur = v
		case []any:
			i, err := arrayIndex(tok, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("path /%s does not exist", strings.Join(path, "/"))
		}
	}
	return cur, nil
}

// pointerAdd sets path to v (inserting into arrays) and returns the new
// document.
func pointerAdd(doc any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	parent, err := pointerGet(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
		return doc, nil
	case []any:
		i, err := arrayIndex(last, len(p), true)
		if err != nil {
			return nil, err
		}
		n := append(p[:i:i], append([]any{v}, p[i:]...)...)
		return setAt(doc, path[:len(path)-1], n)
	default:
		return nil, fmt.Errorf("path /%s: the parent is not an object or an array", strings.Join(path, "/"))
	}
}

// pointerRemove removes path and returns the new document and the removed
// value.
func pointerRemove(doc any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, fmt.Errorf("cannot remove the whole document")
	}
	parent, err := pointerGet(doc, path[:len(path)-1])
	if err != nil {
		return nil, nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		v, ok := p[last]
		if !ok {
			return nil, nil, fmt.Errorf("path /%s does not exist", strings.Join(path, "/"))
		}
		delete(p, last)
		return doc, v, nil
	case []any:
		i, err := arrayIndex(last, len(p), false)
		if err != nil {
			return nil, nil, err
		}
		v := p[i]
		n := append(append([]any{}, p[:i]...), p[i+1:]...)
		doc, err = setAt(doc, path[:len(path)-1], n)
		return doc, v, err
	default:
		return nil, nil, fmt.Errorf("path /%s does not exist", strings.Join(path, "/"))
	}
}

// setAt replaces the value at path (which exists) with v.
func setAt(doc any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	parent, err := pointerGet(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, err := arrayIndex(last, len(p), false)
		if err != nil {
			return nil, err
		}
		p[i] = v
	}
	return doc, nil
}

func deepCopyJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopyJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopyJSON(e)
		}
		return l
	default:
		return v
	}
}

// jsonEqual compares two decoded JSON values, numbers by their value.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalizeNumbers(a), normalizeNumbers(b))
}

func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalizeNumbers(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = normalizeNumbers(e)
		}
		return l
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return float64(i)
		}
		f, _ := t.Float64()
		return f
	case int:
		return float64(t)
	case int64:
		return float64(t)
	default:
		return v
	}
}

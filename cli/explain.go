package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

// explain prints the documentation of a kind or a field in kubectl
// explain's layout. It reads the types compiled into the binary and
// their documentation (api.Fields), which are also what the node's
// OpenAPI documents publish; so `wasmlet explain` needs no node, and
// kubectl explain against a node prints the same text.

func (e *environment) explainCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "explain",
		Usage:     "print the documentation of a kind and its fields",
		ArgsUsage: "TYPE[.FIELD...]",
		Flags: append(clientFlags(),
			&ucli.BoolFlag{Name: "recursive", Usage: "print the names and types of every field below, without descriptions"},
			&ucli.StringFlag{Name: "api-version", Usage: "the group/version of the kind (apps/v1)"},
			&ucli.StringFlag{Name: "output", Value: "plaintext", Usage: "plaintext"},
		),
		Action: e.explain,
	}
}

func (e *environment) explain(c *ucli.Context) error {
	if c.NArg() == 0 {
		return usagef("You must specify the type of resource to explain. Use \"wasmlet api-resources\" for a complete list of supported resources.")
	}
	if c.NArg() > 1 {
		return usagef("We accept only this format: explain RESOURCE")
	}
	if o := c.String("output"); o != "plaintext" {
		return usagef("unsupported output format: %s; supported formats: plaintext", o)
	}
	resource, fieldPath, _ := strings.Cut(c.Args().First(), ".")
	r, ok := api.LookupResource(resource)
	if !ok {
		// kubectl explain prints this one without its "error: ".
		fmt.Fprintf(e.stderr, "the server doesn't have a resource type %q\n", resource)
		return exitError{1}
	}
	if v := c.String("api-version"); v != "" && v != r.APIVersion() {
		group, version, found := strings.Cut(v, "/")
		if !found {
			group, version = "", v
		}
		return fmt.Errorf("GVR (%s/%s, Resource=%s) not found in OpenAPI schema", group, version, r.Resource)
	}
	var path []string
	if fieldPath != "" {
		path = strings.Split(fieldPath, ".")
	}
	return writeExplanation(e.stdout, r, path, c.Bool("recursive"))
}

// writeExplanation prints kubectl explain's plaintext output for the
// kind of r, or for the field at path inside it.
func writeExplanation(w io.Writer, r *api.ResourceInfo, path []string, recursive bool) error {
	var b strings.Builder
	if r.Group != "" {
		fmt.Fprintf(&b, "GROUP:      %s\n", r.Group)
	}
	fmt.Fprintf(&b, "KIND:       %s\nVERSION:    %s\n\n", r.Kind, r.Version)

	// The node reached so far: a type, with the description of the field
	// that led to it ("" at the kind itself).
	t := reflect.TypeOf(r.New()).Elem()
	fieldDesc, atKind := "", true
	for i, name := range path {
		f, ok := explainField(t, name)
		if !ok {
			io.WriteString(w, b.String())
			return fmt.Errorf("field %q does not exist", path[len(path)-1])
		}
		if i == len(path)-1 {
			fmt.Fprintf(&b, "FIELD: %s <%s>\n", f.Name, typeGuess(f.Type))
			if enum := api.Enum(f.Type); enum != nil {
				b.WriteString("ENUM:")
				for _, v := range enum {
					b.WriteString("\n    " + enumValue(v))
				}
			}
			b.WriteString("\n\n")
		}
		t, fieldDesc, atKind = f.Type, f.Description, false
	}

	desc := ""
	if atKind {
		if d := api.TypeDescription(t); d != "" {
			desc = d + "\n"
		}
	} else {
		if fieldDesc != "" {
			desc = fieldDesc + "\n"
		}
		if d := elementDescription(t); d != "" {
			desc += d + "\n"
		}
	}
	if desc == "" {
		desc = "<empty>"
	}
	b.WriteString("DESCRIPTION:\n" + indent(wrap(desc, 76), 4) + "\n")
	var fields strings.Builder
	fieldList(&fields, t, 1, recursive)
	if fields.Len() > 0 {
		b.WriteString("FIELDS:\n" + fields.String())
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// elemType is the type whose fields a field of type t lists: the element
// of a list or map, pointers removed.
func elemType(t reflect.Type) reflect.Type {
	for {
		switch {
		case t == reflect.TypeFor[json.RawMessage]():
			return t
		case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice, t.Kind() == reflect.Map:
			t = t.Elem()
		default:
			return t
		}
	}
}

// explainField finds the field name of the struct that t is or holds.
func explainField(t reflect.Type, name string) (api.Field, bool) {
	t = elemType(t)
	if t.Kind() != reflect.Struct || isScalarStruct(t) {
		return api.Field{}, false
	}
	for _, f := range api.Fields(t) {
		if f.Name == name {
			return f, true
		}
	}
	return api.Field{}, false
}

// isScalarStruct: types written in JSON as a string or a number.
func isScalarStruct(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[api.Time](), reflect.TypeFor[api.MicroTime](), reflect.TypeFor[api.Quantity](), reflect.TypeFor[api.IntOrString]():
		return true
	}
	return false
}

// elementDescription is the description of the type a field refers to:
// a struct's, or Quantity's and IntOrString's, which the schema publishes
// as types of their own; "" for strings, numbers and times.
func elementDescription(t reflect.Type) string {
	t = elemType(t)
	switch t {
	case reflect.TypeFor[api.Quantity](), reflect.TypeFor[api.IntOrString]():
		return api.TypeDescription(t)
	}
	if t.Kind() == reflect.Struct && !isScalarStruct(t) {
		return api.TypeDescription(t)
	}
	return ""
}

// fieldList writes the fields of the struct t is or holds, sorted by name
// as kubectl sorts them, at indentation level.
func fieldList(b *strings.Builder, t reflect.Type, level int, recursive bool) {
	t = elemType(t)
	if t.Kind() != reflect.Struct || isScalarStruct(t) {
		return
	}
	fields := api.Fields(t)
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	pad := 2 * level
	for _, f := range fields {
		b.WriteString(strings.Repeat(" ", pad) + f.Name + "\t<" + typeGuess(f.Type) + ">")
		if f.Required {
			b.WriteString(" -required-")
		}
		if enum := api.Enum(f.Type); enum != nil {
			b.WriteString("\n" + strings.Repeat(" ", pad) + "enum: ")
			for i, v := range enum {
				if i == 4 {
					b.WriteString(", ....")
					break
				}
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(enumValue(v))
			}
		}
		b.WriteString("\n")
		if recursive {
			fieldList(b, f.Type, level+1, recursive)
			continue
		}
		d := f.Description
		if d == "" {
			d = "<no description>"
		}
		b.WriteString(indent(wrap(d, 78-pad), pad+2) + "\n\n")
	}
}

func enumValue(v string) string {
	if v == "" {
		return `""`
	}
	return v
}

// typeGuess is kubectl's name for the type of a field: string, integer,
// boolean, a struct's name, []T, map[string]T.
func typeGuess(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[api.Time](), reflect.TypeFor[api.MicroTime]():
		return "string"
	case reflect.TypeFor[api.Quantity]():
		return "Quantity"
	case reflect.TypeFor[api.IntOrString]():
		return "IntOrString"
	case reflect.TypeFor[json.RawMessage]():
		return "Object"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "[]" + typeGuess(t.Elem())
	case reflect.Map:
		return "map[string]" + typeGuess(t.Elem())
	case reflect.Struct:
		return t.Name()
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "Object"
}

// wrap breaks each line of s into lines of at most width characters at
// spaces, as kubectl's word wrapper does; a word longer than width stays
// whole on a line of its own.
func wrap(s string, width int) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		var b strings.Builder
		n := 0
		for j, word := range strings.Split(line, " ") {
			wl := len([]rune(word))
			switch {
			case j == 0:
			case n > 0 && n+1+wl > width && wl < width:
				b.WriteString("\n")
				n = 0
			default:
				b.WriteString(" ")
				n++
			}
			b.WriteString(word)
			n += wl
		}
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// indent puts n spaces before every line of s, as kubectl's template
// does (a trailing newline gets them too).
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

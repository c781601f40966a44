package printers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// Column is one column of `-o custom-columns`: a header and the path of
// its values.
type Column struct {
	Header string
	Path   *JSONPath
}

// ParseCustomColumns reads `NAME:.metadata.name,IMAGE:.spec.containers[*].image`.
func ParseCustomColumns(spec string) ([]Column, error) {
	if spec == "" {
		return nil, errors.New("custom-columns format specified but no custom columns given")
	}
	var cols []Column
	for _, part := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(part, ":")
		if !ok || header == "" {
			return nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", part)
		}
		col, err := newColumn(header, path)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// ParseCustomColumnsFile reads the file of `-o custom-columns-file`: a line
// of headers, then a line of paths, separated by white space.
func ParseCustomColumnsFile(r io.Reader) ([]Column, error) {
	s := bufio.NewScanner(r)
	if !s.Scan() {
		return nil, errors.New("unexpected empty file")
	}
	headers := strings.Fields(s.Text())
	if !s.Scan() {
		return nil, errors.New("unexpected EOF, expected 2 lines")
	}
	paths := strings.Fields(s.Text())
	if len(headers) != len(paths) {
		return nil, fmt.Errorf("number of headers and jsonpaths don't match (%d != %d)", len(headers), len(paths))
	}
	cols := make([]Column, len(headers))
	for i := range headers {
		col, err := newColumn(headers[i], paths[i])
		if err != nil {
			return nil, err
		}
		cols[i] = col
	}
	return cols, nil
}

func newColumn(header, path string) (Column, error) {
	tmpl, err := RelaxedJSONPath(path)
	if err != nil {
		return Column{}, err
	}
	j, err := ParseJSONPath(tmpl)
	if err != nil {
		return Column{}, err
	}
	return Column{Header: header, Path: j}, nil
}

// PrintCustomColumns writes one row per object (in generic form): each
// cell is the column's results joined by commas, or `<none>`.
func PrintCustomColumns(w io.Writer, cols []Column, objs []any, noHeaders bool) error {
	tw := NewTabWriter(w)
	if !noHeaders {
		headers := make([]string, len(cols))
		for i, c := range cols {
			headers[i] = c.Header
		}
		writeRow(tw, headers)
	}
	for _, obj := range objs {
		row, err := CustomColumnsRow(cols, obj)
		if err != nil {
			return err
		}
		writeRow(tw, row)
	}
	return tw.Flush()
}

// CustomColumnsRow is the cells of one object (in generic form).
func CustomColumnsRow(cols []Column, obj any) ([]string, error) {
	row := make([]string, len(cols))
	for i, c := range cols {
		results, err := c.Path.FindResults(obj)
		if err != nil {
			return nil, err
		}
		var values []string
		for _, group := range results {
			for _, v := range group {
				values = append(values, cellText(v))
			}
		}
		if len(values) == 0 {
			values = []string{"<none>"}
		}
		row[i] = strings.Join(values, ",")
	}
	return row, nil
}

// cellText prints a value as kubectl's custom columns print it, with Go's
// formatting of maps and lists.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// SortItems orders items by the value at path (`.metadata.name`,
// `{.status.replicas}`), as --sort-by does: numbers by value, quantities
// by amount, other strings byte by byte (`web-10` before `web-2`, as kubectl
// 1.32 orders them); objects
// without the field come first. A path found in no object is an error.
func SortItems(items []Item, path string) error {
	tmpl, err := RelaxedJSONPath(path)
	if err != nil {
		return err
	}
	j, err := ParseJSONPath(tmpl)
	if err != nil {
		return err
	}
	keys := make([]any, len(items))
	has := make([]bool, len(items))
	found := false
	for i, it := range items {
		g, err := Generic(it.Object)
		if err != nil {
			return err
		}
		results, err := j.FindResults(g)
		if err != nil {
			return err
		}
		if len(results) > 0 && len(results[0]) > 0 {
			keys[i], has[i], found = results[0][0], true, true
		}
	}
	if !found {
		return fmt.Errorf("couldn't find any field with path %q in the list of objects", tmpl)
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		i, j := idx[a], idx[b]
		if !has[i] {
			return has[j]
		}
		if !has[j] {
			return false
		}
		return lessValue(keys[i], keys[j])
	})
	sorted := make([]Item, len(items))
	for k, i := range idx {
		sorted[k] = items[i]
	}
	copy(items, sorted)
	return nil
}

func lessValue(a, b any) bool {
	af, aNum := comparable(a).(float64)
	bf, bNum := comparable(b).(float64)
	if aNum && bNum {
		return af < bf
	}
	as, aStr := a.(string)
	bs, bStr := b.(string)
	if aStr && bStr {
		qa, errA := api.ParseQuantity(as)
		qb, errB := api.ParseQuantity(bs)
		if errA == nil && errB == nil {
			return qa.Cmp(qb) < 0
		}
		return as < bs
	}
	ab, aBool := a.(bool)
	bb, bBool := b.(bool)
	if aBool && bBool {
		return !ab && bb
	}
	return cellText(a) < cellText(b)
}

package apiserver

import (
	"net/http"
	"slices"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// Tables are Kubernetes' server-side printing: kubectl asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells it
// gets, adding NAMESPACE (-A) and LABELS (--show-labels) itself from each
// row's object metadata. The cells are those of wasmlet's own CLI, so both
// print the same thing (internal/table).

type tableColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int32  `json:"priority"`
}

type tableRow struct {
	Cells  []any `json:"cells"`
	Object any   `json:"object,omitempty"`
}

// metaTable is meta.k8s.io/v1 Table.
type metaTable struct {
	api.TypeMeta      `json:",inline"`
	Metadata          api.ListMeta  `json:"metadata"`
	ColumnDefinitions []tableColumn `json:"columnDefinitions"`
	Rows              []tableRow    `json:"rows"`
}

// partialObjectMetadata is the object of a row by default
// (includeObject=Metadata).
type partialObjectMetadata struct {
	api.TypeMeta `json:",inline"`
	Metadata     *api.ObjectMeta `json:"metadata"`
}

// includeObject is the includeObject query parameter: None, Metadata (the
// default) or Object.
func includeObject(r *http.Request) string {
	switch v := r.URL.Query().Get("includeObject"); v {
	case "None", "Object":
		return v
	default:
		return "Metadata"
	}
}

// integerColumns are the columns Kubernetes types as integers.
var integerColumns = map[string]bool{"DESIRED": true, "CURRENT": true, "COUNT": true, "DATA": true}

// table builds the Table of objs (all of kind res); headers says whether
// to include the column definitions (a watch sends them once).
func (s *Server) table(res *api.ResourceInfo, objs []api.Object, rv string, include string, headers bool) *metaTable {
	now := s.now()
	narrow := table.Columns(res, false)
	columns := table.Columns(res, true)
	t := &metaTable{
		TypeMeta: api.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		Metadata: api.ListMeta{ResourceVersion: rv},
		Rows:     []tableRow{},
	}
	if headers {
		for i, c := range columns {
			col := tableColumn{Name: columnName(c), Type: "string"}
			if i == 0 && c == "NAME" {
				col.Format = "name"
			}
			if integerColumns[c] || c == "READY" && (res.Kind == "ReplicaSet" || res.Kind == "ReplicationController") {
				col.Type = "integer"
			}
			if !slices.Contains(narrow, c) {
				col.Priority = 1
			}
			t.ColumnDefinitions = append(t.ColumnDefinitions, col)
		}
	} else {
		t.ColumnDefinitions = []tableColumn{}
	}
	for i, obj := range objs {
		cells := table.Cells(res, obj, now, true)
		row := tableRow{Cells: make([]any, len(cells))}
		for j, c := range cells {
			row.Cells[j] = c
		}
		switch include {
		case "Object":
			row.Object = objs[i]
		case "Metadata":
			m := *objs[i].GetObjectMeta()
			m.ManagedFields = nil
			row.Object = &partialObjectMetadata{
				TypeMeta: api.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
				Metadata: &m,
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// columnName is kubectl's upper-case header in Kubernetes' own spelling
// ("Nominated Node", "Internal-IP"); kubectl upper-cases it again.
func columnName(c string) string {
	words := strings.FieldsFunc(c, func(r rune) bool { return r == ' ' })
	for i, w := range words {
		parts := strings.Split(w, "-")
		for j, p := range parts {
			switch p {
			case "IP", "OS":
			default:
				p = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
			}
			parts[j] = p
		}
		words[i] = strings.Join(parts, "-")
	}
	return strings.Join(words, " ")
}

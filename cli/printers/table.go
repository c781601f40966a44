// Package printers turns objects into what kubectl prints: its tables
// (the columns and cells of internal/table, aligned as kubectl's
// tabwriter aligns them), `-o yaml`, `-o json` and `-o name`.
//
// Printers take the time to print ages against (`now`), so that their
// output is a pure function of their input and golden files stay stable.
// They never talk to a node.
package printers

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// TableOptions are the flags of `get` that shape a table.
type TableOptions struct {
	// Wide adds the columns of `-o wide`.
	Wide bool
	// NoHeaders leaves out the header line.
	NoHeaders bool
	// ShowLabels adds a LABELS column.
	ShowLabels bool
	// LabelColumns adds a column for each of these label keys (`-L`),
	// headed by the key's last part in upper case.
	LabelColumns []string
	// WithNamespace adds a NAMESPACE column first (`-A`).
	WithNamespace bool
	// WithKind names objects `kind.group/name`, as kubectl does when one
	// call prints several kinds.
	WithKind bool
	// Now is the time ages are measured to.
	Now time.Time
}

// Table is a header and rows of cells, one row per object.
type Table struct {
	Columns []string
	Rows    [][]string
}

// kubectl's tabwriter settings: cells padded to a minimum of 6, then 3
// spaces between columns. The last cell of a line is never padded.
const (
	tabMinWidth = 6
	tabWidth    = 4
	tabPadding  = 3
)

// NewTabWriter returns a writer that aligns tab-separated cells as kubectl
// does. Flush it after each table.
func NewTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, tabMinWidth, tabWidth, tabPadding, ' ', 0)
}

// BuildTable builds the table of objs, which are all of kind r.
func BuildTable(r *api.ResourceInfo, objs []api.Object, opts TableOptions) Table {
	t := Table{Columns: table.Columns(r, opts.Wide)}
	if opts.WithNamespace && r.Namespaced {
		t.Columns = append([]string{"NAMESPACE"}, t.Columns...)
	}
	for _, k := range opts.LabelColumns {
		parts := strings.Split(k, "/")
		t.Columns = append(t.Columns, strings.ToUpper(parts[len(parts)-1]))
	}
	if opts.ShowLabels {
		t.Columns = append(t.Columns, "LABELS")
	}
	for _, obj := range objs {
		row := table.Cells(r, obj, opts.Now, opts.Wide)
		meta := obj.GetObjectMeta()
		if opts.WithKind && len(row) > 0 {
			row[0] = KindPrefix(r) + "/" + row[0]
		}
		if opts.WithNamespace && r.Namespaced {
			row = append([]string{meta.Namespace}, row...)
		}
		for _, k := range opts.LabelColumns {
			row = append(row, meta.Labels[k])
		}
		if opts.ShowLabels {
			row = append(row, table.FormatLabels(meta.Labels))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// PrintTable writes the table of objs (all of kind r) to w, aligned.
func PrintTable(w io.Writer, r *api.ResourceInfo, objs []api.Object, opts TableOptions) error {
	t := BuildTable(r, objs, opts)
	tw := NewTabWriter(w)
	if !opts.NoHeaders {
		writeRow(tw, t.Columns)
	}
	for _, row := range t.Rows {
		writeRow(tw, row)
	}
	return tw.Flush()
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// KindPrefix is how kubectl names a kind before an object's name:
// `pod`, `replicaset.apps`.
func KindPrefix(r *api.ResourceInfo) string {
	k := strings.ToLower(r.Kind)
	if r.Group != "" {
		k += "." + r.Group
	}
	return k
}

// RowWriter aligns rows written one at a time, as the tables of `get
// --watch` are: each column is as wide as the widest cell seen in it so
// far (with kubectl's padding), so that later rows line up with earlier
// ones and no column ever gets narrower.
type RowWriter struct {
	w      io.Writer
	widths []int
}

// NewRowWriter returns a RowWriter writing to w.
func NewRowWriter(w io.Writer) *RowWriter { return &RowWriter{w: w} }

// WriteRows writes rows aligned together, then remembers their widths.
func (rw *RowWriter) WriteRows(rows [][]string) error {
	for _, row := range rows {
		for i, cell := range row[:max(len(row)-1, 0)] {
			width := max(tabMinWidth, utf8.RuneCountInString(cell)+tabPadding)
			if i >= len(rw.widths) {
				rw.widths = append(rw.widths, width)
			} else if width > rw.widths[i] {
				rw.widths[i] = width
			}
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", rw.widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(rw.w, b.String())
	return err
}

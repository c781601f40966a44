package cli

import (
	"context"
	"errors"
	"io"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

// watcher is what `get --watch` and `events --watch` ask of a node beyond
// nodeClient: a list with the version it was taken at, and the changes
// after that version.
type watcher interface {
	ListWithVersion(ctx context.Context, r *api.ResourceInfo, namespace string, opts client.ListOptions) ([]api.Object, string, error)
	Watch(ctx context.Context, r *api.ResourceInfo, namespace string, opts client.ListOptions) (<-chan client.WatchEvent, error)
}

// watchGet is `get --watch` and `get --watch-only`: the objects (unless
// watch-only), then one row per change until the command is interrupted
// or the node ends the watch. Deleted objects print too, in their last
// state.
func (e *environment) watchGet(c *ucli.Context, cl nodeClient, refs []resourceRef, opts client.ListOptions, out getOutput, listNS string) error {
	w, ok := cl.(watcher)
	if !ok {
		return errors.New("this client cannot watch")
	}
	if len(refs) != 1 {
		return errors.New("you may only specify a single resource type")
	}
	ref := refs[0]
	all := c.Bool("all-namespaces")
	p := &watchPrinter{e: e, out: out, resource: ref.resource, opts: e.tableOptions(c, out, all),
		rows: printers.NewRowWriter(e.stdout)}
	if len(ref.names) > 1 {
		// kubectl prints the objects named, then refuses to watch them.
		var items []printers.Item
		for _, name := range ref.names {
			obj, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, namespace(c)), name)
			if err != nil {
				return err
			}
			items = append(items, printers.Item{Resource: ref.resource, Object: obj})
		}
		if err := p.print(items); err != nil {
			return err
		}
		return errors.New("you may only watch a single resource or type of resource at a time")
	}
	ns := scopedNamespace(ref.resource, listNS)
	if len(ref.names) == 1 {
		ns = scopedNamespace(ref.resource, namespace(c))
		opts.FieldSelector = "metadata.name=" + ref.names[0]
	}
	objs, rv, err := w.ListWithVersion(c.Context, ref.resource, ns, opts)
	if err != nil {
		return err
	}
	if len(ref.names) == 1 && len(objs) == 0 {
		return api.NewNotFound(ref.resource.Group, ref.resource.Resource, ref.names[0])
	}
	// Unlike get without -w, an empty list says nothing: kubectl's watch
	// prints "No resources found" neither.
	if !c.Bool("watch-only") {
		var items []printers.Item
		for _, o := range objs {
			items = append(items, printers.Item{Resource: ref.resource, Object: o})
		}
		if sortBy := c.String("sort-by"); sortBy != "" && len(items) > 0 {
			if err := printers.SortItems(items, sortBy); err != nil {
				return err
			}
		}
		if err := p.print(items); err != nil {
			return err
		}
	}
	opts.ResourceVersion = rv
	events, err := w.Watch(c.Context, ref.resource, ns, opts)
	if err != nil {
		return err
	}
	for ev := range events {
		if ev.Err != nil {
			if c.Context.Err() != nil {
				return nil
			}
			return ev.Err
		}
		if ev.Object == nil || ev.Type == "BOOKMARK" {
			continue
		}
		if err := p.print([]printers.Item{{Resource: ref.resource, Object: ev.Object}}); err != nil {
			return err
		}
	}
	return nil
}

// watchPrinter prints objects as they come, in the format of -o: table
// rows under one header, aligned with the rows before them; YAML documents
// separated by `---`; JSON objects one after another.
type watchPrinter struct {
	e        *environment
	out      getOutput
	resource *api.ResourceInfo
	opts     printers.TableOptions
	rows     *printers.RowWriter
	printed  int
}

func (p *watchPrinter) print(items []printers.Item) error {
	if len(items) == 0 {
		return nil
	}
	w := p.e.stdout
	defer func() { p.printed += len(items) }()
	switch p.out.format {
	case "yaml":
		for i, it := range items {
			if p.printed+i > 0 {
				io.WriteString(w, "---\n")
			}
			if err := printers.PrintYAML(w, []printers.Item{it}, true); err != nil {
				return err
			}
		}
		return nil
	case "json":
		for _, it := range items {
			if err := printers.PrintJSON(w, []printers.Item{it}, true); err != nil {
				return err
			}
		}
		return nil
	case "jsonpath", "jsonpath-as-json":
		for _, it := range items {
			doc, err := printers.Document([]printers.Item{it}, true)
			if err != nil {
				return err
			}
			if p.out.format == "jsonpath-as-json" {
				err = p.out.jsonPath.ExecuteJSON(w, doc)
			} else {
				err = p.out.jsonPath.Execute(w, doc)
			}
			if err != nil {
				return err
			}
		}
		return nil
	case "name":
		return printers.PrintName(w, items)
	}
	var rows [][]string
	if p.out.format == "custom-columns" {
		if p.printed == 0 && !p.opts.NoHeaders {
			var header []string
			for _, col := range p.out.columns {
				header = append(header, col.Header)
			}
			rows = append(rows, header)
		}
		for _, it := range items {
			g, err := printers.Generic(it.Object)
			if err != nil {
				return err
			}
			row, err := printers.CustomColumnsRow(p.out.columns, g)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return p.rows.WriteRows(rows)
	}
	objs := make([]api.Object, len(items))
	for i, it := range items {
		objs[i] = it.Object
	}
	opts := p.opts
	opts.Now = p.e.now()
	t := printers.BuildTable(p.resource, objs, opts)
	if p.printed == 0 && !opts.NoHeaders {
		rows = append(rows, t.Columns)
	}
	return p.rows.WriteRows(append(rows, t.Rows...))
}

// interruptible is the action of a verb that streams until it is
// interrupted (get -w, events -w, logs -f), when streaming says it does:
// as kubectl, the verb then exits 1 when Ctrl-C (the end of the command's
// context) stops it, whatever it printed. A watch the node ends, after
// --request-timeout, is a success.
func interruptible(streaming func(*ucli.Context) bool, action ucli.ActionFunc) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		err := action(c)
		if streaming(c) && c.Context.Err() != nil {
			return exitError{1}
		}
		return err
	}
}

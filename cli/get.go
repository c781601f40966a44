package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) getCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "get",
		Usage:     "display one or many resources",
		ArgsUsage: "TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide, yaml, json, name, jsonpath=TEMPLATE, jsonpath-file=FILE, jsonpath-as-json=TEMPLATE, custom-columns=SPEC or custom-columns-file=FILE"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (-l app=web,tier!=db)"},
			&ucli.StringFlag{Name: "field-selector", Usage: "field selector (--field-selector status.phase=Running)"},
			&ucli.BoolFlag{Name: "show-labels", Usage: "add a LABELS column"},
			&ucli.StringSliceFlag{Name: "label-columns", Aliases: []string{"L"}, Usage: "add a column for each of these label keys (-L app,tier)"},
			&ucli.BoolFlag{Name: "no-headers", Usage: "leave out the header line of tables"},
			&ucli.StringFlag{Name: "sort-by", Usage: "sort by the value at this JSONPath (--sort-by=.metadata.name)"},
			&ucli.BoolFlag{Name: "ignore-not-found", Usage: "say nothing about objects named that do not exist"},
			&ucli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after listing, print each change of the objects"},
			&ucli.BoolFlag{Name: "watch-only", Usage: "print each change of the objects, without listing them first"},
		),
		Action: interruptible(func(c *ucli.Context) bool { return c.Bool("watch") || c.Bool("watch-only") }, e.get),
	}
}

// fetched is what get found of one kind.
type fetched struct {
	resource *api.ResourceInfo
	objects  []api.Object
}

func (e *environment) get(c *ucli.Context) error {
	out, err := e.parseOutput(c.String("output"))
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		fmt.Fprintln(e.stderr, "You must specify the type of resource to get. Use \"wasmlet api-resources\" for a complete list of supported resources.")
		fmt.Fprintln(e.stderr)
		return errors.New("Required resource not specified.\n" +
			"Use \"wasmlet explain <resource>\" for a detailed description of that resource (e.g. wasmlet explain pods).\n" +
			"See 'wasmlet get -h' for help and examples")
	}
	refs, err := parseResourceArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	selector := c.String("selector")
	named := false
	for _, ref := range refs {
		if len(ref.names) > 0 {
			named = true
		}
	}
	if named && c.Bool("all-namespaces") {
		return errors.New("a resource cannot be retrieved by name across all namespaces")
	}
	if named && selector != "" {
		return errors.New("selectors and the all flag cannot be used when passing resource/name arguments")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	ns, all := namespace(c), c.Bool("all-namespaces")
	listNS := ns
	if all {
		listNS = ""
	}

	listOpts := client.ListOptions{LabelSelector: selector, FieldSelector: c.String("field-selector")}
	watch, watchOnly := c.Bool("watch"), c.Bool("watch-only")
	if watch || watchOnly {
		return e.watchGet(c, cl, refs, listOpts, out, listNS)
	}

	var results []fetched
	var errs []error
	for _, ref := range refs {
		f := fetched{resource: ref.resource}
		if len(ref.names) == 0 {
			f.objects, err = cl.List(c.Context, ref.resource, scopedNamespace(ref.resource, listNS), listOpts)
			if err != nil {
				return listFailure(err, ref.resource, listOpts)
			}
		}
		for _, name := range ref.names {
			obj, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if err != nil {
				if !isStatus(err) {
					return err
				}
				if !(c.Bool("ignore-not-found") && api.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
			f.objects = append(f.objects, obj)
		}
		results = append(results, f)
	}

	if err := e.printGet(c, results, refs, out, all); err != nil {
		return err
	}
	for _, err := range errs {
		e.printError(err)
	}
	if len(errs) > 0 {
		return exitError{1}
	}
	return nil
}

func (e *environment) printGet(c *ucli.Context, results []fetched, refs []resourceRef, out getOutput, all bool) error {
	var items []printers.Item
	// kubectl names objects kind/name when what it fetched spans several
	// kinds: every list counts, even an empty one (`get pods,nodes` with no
	// pods prints node/vm), and a kind of objects named counts when one
	// of them was found.
	kinds := 0
	for i, f := range results {
		if len(f.objects) > 0 || len(refs[i].names) == 0 {
			kinds++
		}
		for _, o := range f.objects {
			items = append(items, printers.Item{Resource: f.resource, Object: o})
		}
	}
	if sortBy := c.String("sort-by"); sortBy != "" && len(items) > 0 {
		if err := printers.SortItems(items, sortBy); err != nil {
			return err
		}
	}
	// One object named by one TYPE NAME or TYPE/NAME prints alone; anything
	// else is a List, even of one item.
	single := len(refs) == 1 && len(refs[0].names) == 1
	if len(items) == 0 && hasNames(refs) && out.format != "" && out.format != "wide" {
		// Every object named was missing: only the errors are printed.
		return nil
	}
	switch out.format {
	case "yaml":
		return printers.PrintYAML(e.stdout, items, single)
	case "json":
		return printers.PrintJSON(e.stdout, items, single)
	case "jsonpath", "jsonpath-as-json":
		doc, err := printers.Document(items, single)
		if err != nil {
			return err
		}
		if out.format == "jsonpath-as-json" {
			return out.jsonPath.ExecuteJSON(e.stdout, doc)
		}
		return out.jsonPath.Execute(e.stdout, doc)
	}
	if len(items) == 0 {
		if hasNames(refs) {
			return nil
		}
		e.noResourcesFound(c, refs, all)
		return nil
	}
	switch out.format {
	case "name":
		return printers.PrintName(e.stdout, items)
	case "custom-columns":
		var objs []any
		for _, it := range items {
			g, err := printers.Generic(it.Object)
			if err != nil {
				return err
			}
			objs = append(objs, g)
		}
		return printers.PrintCustomColumns(e.stdout, out.columns, objs, c.Bool("no-headers"))
	}
	opts := e.tableOptions(c, out, all)
	opts.WithKind = kinds > 1
	if c.String("sort-by") != "" {
		// A sorted list is one table in the order of the sort, as kubectl
		// prints it, even across kinds.
		return printSortedTables(e.stdout, items, opts)
	}
	first := true
	for _, f := range results {
		if len(f.objects) == 0 {
			continue
		}
		if !first && !opts.NoHeaders {
			fmt.Fprintln(e.stdout)
		}
		first = false
		if err := printers.PrintTable(e.stdout, f.resource, f.objects, opts); err != nil {
			return err
		}
	}
	return nil
}

// printSortedTables prints items in their order, starting a new table
// (after a blank line) whenever the kind changes.
func printSortedTables(w io.Writer, items []printers.Item, opts printers.TableOptions) error {
	for i := 0; i < len(items); {
		j := i
		var objs []api.Object
		for j < len(items) && items[j].Resource == items[i].Resource {
			objs = append(objs, items[j].Object)
			j++
		}
		if i > 0 && !opts.NoHeaders {
			fmt.Fprintln(w)
		}
		if err := printers.PrintTable(w, items[i].Resource, objs, opts); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (e *environment) tableOptions(c *ucli.Context, out getOutput, all bool) printers.TableOptions {
	var labelColumns []string
	for _, l := range c.StringSlice("label-columns") {
		for _, k := range strings.Split(l, ",") {
			if k = strings.TrimSpace(k); k != "" {
				labelColumns = append(labelColumns, k)
			}
		}
	}
	return printers.TableOptions{
		Wide:          out.format == "wide",
		NoHeaders:     c.Bool("no-headers"),
		ShowLabels:    c.Bool("show-labels"),
		LabelColumns:  labelColumns,
		WithNamespace: all,
		Now:           e.now(),
	}
}

// getOutput is a parsed -o.
type getOutput struct {
	// format is "" (the table), wide, yaml, json, name, jsonpath,
	// jsonpath-as-json or custom-columns.
	format   string
	jsonPath *printers.JSONPath
	columns  []printers.Column
}

// parseOutput reads -o, with kubectl's messages for what it cannot use.
func (e *environment) parseOutput(o string) (getOutput, error) {
	name, arg, hasArg := strings.Cut(o, "=")
	switch name {
	case "", "wide", "yaml", "json", "name":
		if !hasArg {
			return getOutput{format: name}, nil
		}
	case "jsonpath", "jsonpath-as-json", "jsonpath-file":
		if arg == "" {
			return getOutput{}, errors.New("template format specified but no template given")
		}
		if name == "jsonpath-file" {
			b, err := os.ReadFile(arg)
			if err != nil {
				return getOutput{}, fmt.Errorf("error reading --template %s, %v", arg, err)
			}
			arg, name = string(b), "jsonpath"
		}
		j, err := printers.ParseJSONPath(arg)
		if err != nil {
			return getOutput{}, err
		}
		return getOutput{format: name, jsonPath: j}, nil
	case "custom-columns":
		cols, err := printers.ParseCustomColumns(arg)
		if err != nil {
			return getOutput{}, err
		}
		return getOutput{format: name, columns: cols}, nil
	case "custom-columns-file":
		f, err := os.Open(arg)
		if err != nil {
			return getOutput{}, fmt.Errorf("error reading template %s, %v", arg, err)
		}
		defer f.Close()
		cols, err := printers.ParseCustomColumnsFile(f)
		if err != nil {
			return getOutput{}, err
		}
		return getOutput{format: "custom-columns", columns: cols}, nil
	}
	return getOutput{}, fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: "+
		"custom-columns,custom-columns-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,wide,yaml", o)
}

// noResourcesFound is kubectl's note on stderr when a list is empty.
func (e *environment) noResourcesFound(c *ucli.Context, refs []resourceRef, all bool) {
	namespaced := true
	for _, ref := range refs {
		namespaced = namespaced && ref.resource.Namespaced
	}
	if namespaced && !all {
		fmt.Fprintf(e.stderr, "No resources found in %s namespace.\n", namespace(c))
		return
	}
	fmt.Fprintln(e.stderr, "No resources found")
}

func hasNames(refs []resourceRef) bool {
	for _, r := range refs {
		if len(r.names) > 0 {
			return true
		}
	}
	return false
}

// scopedNamespace is ns for a namespaced kind and "" for a cluster-scoped
// one (nodes, namespaces).
func scopedNamespace(r *api.ResourceInfo, ns string) string {
	if !r.Namespaced {
		return ""
	}
	return ns
}

// isStatus reports whether err is an answer of the node (NotFound, ...)
// rather than a failure to reach it.
func isStatus(err error) bool {
	var st *api.Status
	return errors.As(err, &st)
}

// listFailure words a refused list as kubectl does, naming the resource
// and the selectors.
func listFailure(err error, r *api.ResourceInfo, o client.ListOptions) error {
	var st *api.Status
	if !errors.As(err, &st) || (st.Reason != api.StatusReasonBadRequest && st.Reason != api.StatusReasonNotFound) {
		return err
	}
	gvr := groupVersion(r) + ", Resource=" + r.Resource
	c := *st
	if o.LabelSelector == "" && o.FieldSelector == "" {
		c.Message = fmt.Sprintf("Unable to list %q: %s", gvr, st.Message)
	} else {
		c.Message = fmt.Sprintf("Unable to find %q that match label selector %q, field selector %q: %s", gvr, o.LabelSelector, o.FieldSelector, st.Message)
	}
	return &c
}

// groupVersion is r's group and version as kubectl's messages print them:
// "apps/v1", and "/v1" for the core group.
func groupVersion(r *api.ResourceInfo) string {
	if r.Group == "" {
		return "/" + r.APIVersion()
	}
	return r.APIVersion()
}

package cli

import (
	"errors"
	"fmt"

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
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide, yaml, json or name"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (-l app=web,tier!=db)"},
			&ucli.BoolFlag{Name: "show-labels", Usage: "add a LABELS column"},
			&ucli.BoolFlag{Name: "no-headers", Usage: "leave out the header line of tables"},
		),
		Action: e.get,
	}
}

// fetched is what get found of one kind.
type fetched struct {
	resource *api.ResourceInfo
	objects  []api.Object
}

func (e *environment) get(c *ucli.Context) error {
	output := c.String("output")
	switch output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", output)
	}
	if c.NArg() == 0 {
		return errors.New("Required resource not specified.\n" +
			"Use \"wasmlet get <resource>\" with one of: pods (po), replicasets (rs), replicationcontrollers (rc), events (ev), namespaces (ns), nodes (no).\n" +
			"See 'wasmlet get --help' for usage.")
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

	var results []fetched
	var errs []error
	for _, ref := range refs {
		f := fetched{resource: ref.resource}
		if len(ref.names) == 0 {
			f.objects, err = cl.List(c.Context, ref.resource, scopedNamespace(ref.resource, listNS),
				client.ListOptions{LabelSelector: selector})
			if err != nil {
				return err
			}
		}
		for _, name := range ref.names {
			obj, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if err != nil {
				if !isStatus(err) {
					return err
				}
				errs = append(errs, err)
				continue
			}
			f.objects = append(f.objects, obj)
		}
		results = append(results, f)
	}

	if err := e.printGet(c, results, refs, output, all); err != nil {
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

func (e *environment) printGet(c *ucli.Context, results []fetched, refs []resourceRef, output string, all bool) error {
	var items []printers.Item
	kinds := 0
	for _, f := range results {
		if len(f.objects) > 0 {
			kinds++
		}
		for _, o := range f.objects {
			items = append(items, printers.Item{Resource: f.resource, Object: o})
		}
	}
	// One object named by one TYPE NAME or TYPE/NAME prints alone; anything
	// else is a List, even of one item.
	single := len(refs) == 1 && len(refs[0].names) == 1
	switch output {
	case "yaml":
		return printers.PrintYAML(e.stdout, items, single)
	case "json":
		return printers.PrintJSON(e.stdout, items, single)
	}
	if len(items) == 0 {
		if hasNames(refs) {
			return nil
		}
		e.noResourcesFound(c, refs, all)
		return nil
	}
	if output == "name" {
		return printers.PrintName(e.stdout, items)
	}
	opts := printers.TableOptions{
		Wide:          output == "wide",
		NoHeaders:     c.Bool("no-headers"),
		ShowLabels:    c.Bool("show-labels"),
		WithNamespace: all,
		WithKind:      kinds > 1,
		Now:           e.now(),
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

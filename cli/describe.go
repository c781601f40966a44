package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/table"
)

func (e *environment) describeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "describe",
		Usage:     "show details of a specific resource or group of resources",
		ArgsUsage: "(-f FILENAME | TYPE [NAME_PREFIX | -l label] | TYPE/NAME)",
		Description: "Prints a detailed description of the selected objects, with the events about them.\n" +
			"`describe TYPE NAME_PREFIX` first looks for an object of that exact name; if there is none,\n" +
			"it describes every object whose name begins with NAME_PREFIX.",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects to describe"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (-l app=web,tier!=db)"},
			&ucli.BoolFlag{Name: "show-events", Value: true, Usage: "show the events about each object"},
		),
		Action: e.describe,
	}
}

// described is one object found for describe.
type described struct {
	resource *api.ResourceInfo
	object   api.Object
}

func (e *environment) describe(c *ucli.Context) error {
	files := c.StringSlice("filename")
	if c.NArg() == 0 && len(files) == 0 {
		return errors.New("You must specify the type of resource to describe. Use \"wasmlet api-resources\" for a complete list of supported resources.")
	}
	var refs []resourceRef
	var manifests []manifest
	var err error
	if len(files) > 0 {
		if manifests, err = e.loadManifests(files, c.Bool("recursive"), false); err != nil {
			return err
		}
	} else if refs, err = parseResourceArgs(c.Args().Slice()); err != nil {
		return err
	}
	selector := c.String("selector")
	if hasNames(refs) && selector != "" {
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

	var found []described
	var errs []error
	get := func(r *api.ResourceInfo, namespace, name string) error {
		obj, err := cl.Get(c.Context, r, namespace, name)
		if err != nil {
			if !isStatus(err) {
				return err
			}
			errs = append(errs, err)
			return nil
		}
		found = append(found, described{r, obj})
		return nil
	}
	for _, m := range manifests {
		if err := get(m.resource, objectNamespace(m.resource, m.object, ns), m.object.GetObjectMeta().Name); err != nil {
			return err
		}
	}
	for _, ref := range refs {
		if len(ref.names) == 0 {
			objs, err := cl.List(c.Context, ref.resource, scopedNamespace(ref.resource, listNS), client.ListOptions{LabelSelector: selector})
			if err != nil {
				return err
			}
			for _, o := range objs {
				found = append(found, described{ref.resource, o})
			}
			continue
		}
		for _, name := range ref.names {
			if err := get(ref.resource, scopedNamespace(ref.resource, ns), name); err != nil {
				return err
			}
		}
	}

	showEvents := c.Bool("show-events")
	// `describe TYPE NAME` of a name that does not exist describes the
	// objects whose names begin with it, as kubectl does.
	if args := c.Args().Slice(); len(errs) > 0 && api.IsNotFound(errs[0]) && len(args) == 2 && len(manifests) == 0 {
		return e.describePrefix(c.Context, cl, refs[0].resource, scopedNamespace(refs[0].resource, ns), args[1], showEvents, errs[0])
	}

	for i, d := range found {
		text, err := e.describeOne(c.Context, cl, d, showEvents)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprint(e.stdout, "\n\n")
		}
		fmt.Fprint(e.stdout, text)
	}
	if len(found) == 0 && len(errs) == 0 {
		if all {
			fmt.Fprintln(e.stderr, "No resources found")
		} else {
			fmt.Fprintf(e.stderr, "No resources found in %s namespace.\n", ns)
		}
	}
	for _, err := range errs {
		e.printError(err)
	}
	if len(errs) > 0 {
		return exitError{1}
	}
	return nil
}

// describePrefix describes every object of r in ns whose name begins with
// prefix, each followed by a blank line; none is notFound.
func (e *environment) describePrefix(ctx context.Context, cl nodeClient, r *api.ResourceInfo, ns, prefix string, showEvents bool, notFound error) error {
	objs, err := cl.List(ctx, r, ns, client.ListOptions{})
	if err != nil {
		return err
	}
	matched := false
	for _, o := range objs {
		if !strings.HasPrefix(o.GetObjectMeta().Name, prefix) {
			continue
		}
		matched = true
		text, err := e.describeOne(ctx, cl, described{r, o}, showEvents)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", text)
	}
	if !matched {
		return notFound
	}
	return nil
}

// describeOne fetches what the description of d shows besides d (its
// events, a controller's or a node's pods) and prints it.
func (e *environment) describeOne(ctx context.Context, cl nodeClient, d described, showEvents bool) (string, error) {
	in := printers.DescribeInput{Resource: d.resource, Object: d.object, ShowEvents: showEvents, Now: e.now()}
	var err error
	switch obj := d.object.(type) {
	case *api.ReplicaSet:
		in.Pods, err = listPods(ctx, cl, obj.Namespace, table.FormatLabelSelector(obj.Spec.Selector))
	case *api.ReplicationController:
		in.Pods, err = listPods(ctx, cl, obj.Namespace, labelsSelector(obj.Spec.Selector))
	case *api.Deployment:
		in.ReplicaSets, err = replicaSetsOf(ctx, cl, obj)
	case *api.Service:
		in.Endpoints, err = endpointsOf(ctx, cl, obj)
	case *api.Node:
		var pods []*api.Pod
		pods, err = listPods(ctx, cl, "", "")
		for _, p := range pods {
			if p.Spec.NodeName == obj.Name {
				in.Pods = append(in.Pods, p)
			}
		}
	}
	if err != nil {
		return "", err
	}
	if showEvents {
		// Events that cannot be listed leave the section empty, as in
		// kubectl, rather than failing the description.
		in.Events, _ = eventsAbout(ctx, cl, d.resource, d.object)
	}
	var buf bytes.Buffer
	if err := printers.Describe(&buf, in); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// labelsSelector is an equality selector in the -l syntax; nil or empty
// selects nothing here (an empty string would select everything).
func labelsSelector(sel map[string]string) string {
	if len(sel) == 0 {
		return ""
	}
	return table.FormatLabels(sel)
}

func listPods(ctx context.Context, cl nodeClient, ns, selector string) ([]*api.Pod, error) {
	if selector == "<none>" {
		return nil, nil
	}
	pods, ok := api.LookupResource("pods")
	if !ok {
		return nil, errors.New("the node serves no pods")
	}
	objs, err := cl.List(ctx, pods, ns, client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	out := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*api.Pod); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// eventsAbout are the events whose involvedObject is obj: same name,
// namespace and UID, and kind (except for pods, whose events kubectl
// matches without it). A node's events are matched by its UID or by its
// name, which the node agent uses as the UID.
func eventsAbout(ctx context.Context, cl nodeClient, r *api.ResourceInfo, obj api.Object) ([]api.Event, error) {
	events, ok := api.LookupResource("events")
	if !ok {
		return nil, nil
	}
	m := obj.GetObjectMeta()
	objs, err := cl.List(ctx, events, m.Namespace, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []api.Event
	for _, o := range objs {
		ev, ok := o.(*api.Event)
		if !ok {
			continue
		}
		io := ev.InvolvedObject
		if io.Name != m.Name || io.Namespace != m.Namespace {
			continue
		}
		if r.Kind != "Pod" && io.Kind != r.Kind {
			continue
		}
		if io.UID != m.UID && !(r.Kind == "Node" && io.UID == m.Name) {
			continue
		}
		out = append(out, *ev)
	}
	return out, nil
}

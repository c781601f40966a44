package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) deleteCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "delete",
		Usage:     "delete resources by file names, resources and names, or by resources and label selector",
		ArgsUsage: "(-f FILENAME | TYPE [NAME... | -l label | --all] | TYPE/NAME...)",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the objects to delete"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "delete the objects this label selector matches"},
			&ucli.BoolFlag{Name: "all", Usage: "delete every object of the kinds given, in the namespace"},
			&ucli.IntFlag{Name: "grace-period", Value: -1, Usage: "seconds given to the object to end gracefully; -1 uses its own default"},
			&ucli.BoolFlag{Name: "force", Usage: "remove the object at once, without waiting for it to end"},
			&ucli.BoolFlag{Name: "now", Usage: "end the object right away (grace period 1)"},
			&ucli.StringFlag{Name: "cascade", Value: "background", Usage: "background, foreground or orphan: what becomes of the object's dependents"},
			&ucli.BoolFlag{Name: "wait", Value: true, Usage: "wait until the objects are gone"},
			&ucli.BoolFlag{Name: "ignore-not-found", Usage: "say nothing about objects named that do not exist (the default with --all)"},
		),
		Action: e.delete,
	}
}

// deleteTarget is one object to delete.
type deleteTarget struct {
	resource        *api.ResourceInfo
	namespace, name string
}

func (e *environment) delete(c *ucli.Context) error {
	opts, err := deleteOptions(c)
	if err != nil {
		return err
	}
	files, selector, all := c.StringSlice("filename"), c.String("selector"), c.Bool("all")
	if all && selector != "" {
		return errors.New("cannot set --all and --selector at the same time")
	}
	if len(files) > 0 && c.NArg() > 0 {
		return errors.New("resource(s) were provided, but no name was specified")
	}
	if len(files) == 0 && c.NArg() == 0 {
		return errors.New("You must provide one or more resources by argument or filename.\n" +
			"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	var refs []resourceRef
	var manifests []manifest
	if len(files) > 0 {
		if manifests, err = e.loadManifests(files, c.Bool("recursive"), false); err != nil {
			return err
		}
	} else {
		if refs, err = parseResourceArgs(c.Args().Slice()); err != nil {
			return err
		}
		for _, ref := range refs {
			if len(ref.names) == 0 && selector == "" && !all {
				return errors.New("resource(s) were provided, but no name was specified")
			}
			if len(ref.names) > 0 && (selector != "" || all) {
				return errors.New("name cannot be provided when a selector is specified")
			}
		}
	}

	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	ns, allNS := namespace(c), c.Bool("all-namespaces")
	var targets []deleteTarget
	for _, m := range manifests {
		targets = append(targets, deleteTarget{m.resource, objectNamespace(m.resource, m.object, ns), m.object.GetObjectMeta().Name})
	}
	for _, ref := range refs {
		if len(ref.names) > 0 {
			for _, name := range ref.names {
				targets = append(targets, deleteTarget{ref.resource, scopedNamespace(ref.resource, ns), name})
			}
			continue
		}
		listNS := ns
		if allNS {
			listNS = ""
		}
		objs, err := cl.List(c.Context, ref.resource, scopedNamespace(ref.resource, listNS), client.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for _, o := range objs {
			m := o.GetObjectMeta()
			targets = append(targets, deleteTarget{ref.resource, m.Namespace, m.Name})
		}
	}
	if len(targets) == 0 {
		fmt.Fprintln(e.stdout, "No resources found")
		return nil
	}

	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
		fmt.Fprintln(e.stderr, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	failed := false
	var deleted []deleteTarget
	for _, t := range targets {
		if err := cl.Delete(c.Context, t.resource, t.namespace, t.name, opts); err != nil {
			if !isStatus(err) {
				return err
			}
			if api.IsNotFound(err) && (c.Bool("ignore-not-found") || all) {
				continue
			}
			e.printError(err)
			failed = true
			continue
		}
		verb := "deleted"
		if c.Bool("force") && opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
			verb = "force deleted"
		}
		fmt.Fprintf(e.stdout, "%s %q %s\n", strings.TrimSuffix(kindName(t.resource, ""), "/"), t.name, verb)
		deleted = append(deleted, t)
	}
	if c.Bool("wait") {
		for _, t := range deleted {
			if err := waitGone(c.Context, cl, t); err != nil {
				return err
			}
		}
	}
	if failed {
		return exitError{1}
	}
	return nil
}

// deleteOptions turns kubectl's flags into DeleteOptions, with kubectl's
// rules: --now is a grace period of 1; --force alone is 0; 0 without
// --force is taken as 1, so that nothing is removed before it ended by
// mistake.
func deleteOptions(c *ucli.Context) (client.DeleteOptions, error) {
	var opts client.DeleteOptions
	grace, force := c.Int("grace-period"), c.Bool("force")
	if c.Bool("now") {
		if grace != -1 {
			return opts, errors.New("--now and --grace-period cannot be specified together")
		}
		grace = 1
	}
	if grace == 0 && !force {
		grace = 1
	}
	if force && grace < 0 {
		grace = 0
	}
	if grace >= 0 {
		g := int64(grace)
		opts.GracePeriodSeconds = &g
	}
	switch cascade := strings.ToLower(c.String("cascade")); cascade {
	case "background", "true":
		opts.PropagationPolicy = "Background"
	case "foreground":
		opts.PropagationPolicy = "Foreground"
	case "orphan", "false":
		opts.PropagationPolicy = "Orphan"
	default:
		return opts, fmt.Errorf("invalid cascade value (%s). Must be \"background\", \"foreground\", or \"orphan\"", c.String("cascade"))
	}
	return opts, nil
}

// waitInterval is how often --wait looks whether a deleted object is gone.
const waitInterval = 250 * time.Millisecond

// waitGone returns once t no longer exists (or was replaced by a new object
// of the same name), or when ctx ends.
func waitGone(ctx context.Context, cl nodeClient, t deleteTarget) error {
	first, err := cl.Get(ctx, t.resource, t.namespace, t.name)
	if api.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	uid := first.GetObjectMeta().UID
	tick := time.NewTicker(waitInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		obj, err := cl.Get(ctx, t.resource, t.namespace, t.name)
		if api.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if obj.GetObjectMeta().UID != uid {
			return nil
		}
	}
}

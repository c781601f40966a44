package cli

import (
	"errors"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// findTargets reads which objects a verb works on: `TYPE NAME...`,
// `TYPE/NAME...`, `TYPE -l SELECTOR`, `TYPE --all`, or -f files. A ref
// without names is kept for fetchTargets to list.
func (e *environment) findTargets(c *ucli.Context, args, files []string) ([]resourceRef, error) {
	var refs []resourceRef
	if len(files) > 0 {
		if len(args) > 0 {
			return nil, errors.New("resource(s) were provided, but no name was specified")
		}
		manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
		if err != nil {
			return nil, err
		}
		for _, m := range manifests {
			refs = appendName(refs, m.resource, m.object.GetObjectMeta().Name)
		}
		return refs, nil
	}
	refs, err := parseResourceArgs(args)
	if err != nil {
		return nil, err
	}
	selector, all := c.String("selector"), c.Bool("all")
	for _, ref := range refs {
		if len(ref.names) == 0 && selector == "" && !all {
			return nil, errors.New("resource(s) were provided, but no name was specified")
		}
		if len(ref.names) > 0 && (selector != "" || all) {
			return nil, errors.New("name cannot be provided when a selector is specified")
		}
	}
	return refs, nil
}

// listRef lists the objects of r that selector picks, in the namespace of
// the command line, or in all of them with -A.
func listRef(c *ucli.Context, cl nodeClient, r *api.ResourceInfo, selector string) ([]api.Object, error) {
	ns := namespace(c)
	if c.Bool("all-namespaces") {
		ns = ""
	}
	return cl.List(c.Context, r, scopedNamespace(r, ns), client.ListOptions{LabelSelector: selector})
}

// fetchTargets gets the objects refs name, and lists those a selector or
// --all picks.
func (e *environment) fetchTargets(c *ucli.Context, cl nodeClient, refs []resourceRef) ([]printTarget, error) {
	ns := namespace(c)
	var objs []printTarget
	for _, ref := range refs {
		if len(ref.names) == 0 {
			list, err := listRef(c, cl, ref.resource, c.String("selector"))
			if err != nil {
				return nil, err
			}
			for _, o := range list {
				objs = append(objs, printTarget{ref.resource, o})
			}
			continue
		}
		for _, name := range ref.names {
			o, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if err != nil {
				return nil, err
			}
			objs = append(objs, printTarget{ref.resource, o})
		}
	}
	return objs, nil
}

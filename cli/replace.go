package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) replaceCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "replace",
		Usage:     "replace resources by file name or stdin",
		ArgsUsage: "-f FILENAME",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the objects"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.BoolFlag{Name: "force", Usage: "delete and re-create the objects"},
			&ucli.IntFlag{Name: "grace-period", Value: -1, Usage: "with --force: seconds given to the objects to end gracefully"},
			&ucli.StringFlag{Name: "cascade", Value: "background", Usage: "with --force: background, foreground or orphan"},
			&ucli.BoolFlag{Name: "now", Usage: "with --force: end the objects right away (grace period 1)"},
			&ucli.BoolFlag{Name: "wait", Value: true, Usage: "with --force: wait until the old objects are gone"},
			validateFlag(),
		),
		Action: e.replace,
	}
}

func (e *environment) replace(c *ucli.Context) error {
	files := c.StringSlice("filename")
	if len(files) == 0 {
		return errors.New("must specify --filename to replace")
	}
	if c.NArg() > 0 {
		return fmt.Errorf("Unexpected args: %v\nSee 'wasmlet replace -h' for help and examples", c.Args().Slice())
	}
	v, err := fieldValidation(c)
	if err != nil {
		return err
	}
	opts := client.WriteOptions{FieldValidation: v}
	manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
	if err != nil {
		return err
	}
	if err := checkNamespaces(c, manifests); err != nil {
		return err
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	if c.Bool("force") {
		return e.forceReplace(c, cl, manifests, opts)
	}
	if c.Int("grace-period") >= 0 || c.Bool("now") {
		return errors.New("--grace-period must have --force specified")
	}
	for _, m := range manifests {
		ns := objectNamespace(m.resource, m.object, namespace(c))
		body, err := m.bodyJSON(ns, nil)
		if err != nil {
			return err
		}
		replaced, err := cl.UpdateJSON(c.Context, m.resource, ns, m.object.GetObjectMeta().Name, body, opts)
		if err != nil {
			return withSource(err, "replacing", m.source)
		}
		fmt.Fprintf(e.stdout, "%s replaced\n", kindName(m.resource, replaced.GetObjectMeta().Name))
	}
	return nil
}

// forceReplace deletes each object, waits until it is gone, and creates it
// again from the file.
func (e *environment) forceReplace(c *ucli.Context, cl nodeClient, manifests []manifest, wo client.WriteOptions) error {
	// Unlike delete's, --force here only means delete-and-create: the old
	// objects get their own grace period unless --grace-period says
	// otherwise.
	opts, err := deleteOptions(c)
	if err != nil {
		return err
	}
	opts.GracePeriodSeconds = nil
	if g := c.Int("grace-period"); g >= 0 || c.Bool("now") {
		if c.Bool("now") {
			g = 1
		}
		g64 := int64(g)
		opts.GracePeriodSeconds = &g64
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
		fmt.Fprintln(e.stderr, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	for _, m := range manifests {
		t := deleteTarget{m.resource, objectNamespace(m.resource, m.object, namespace(c)), m.object.GetObjectMeta().Name}
		err := cl.Delete(c.Context, t.resource, t.namespace, t.name, opts)
		switch {
		case err == nil:
			fmt.Fprintf(e.stdout, "%s %q deleted\n", strings.TrimSuffix(kindName(t.resource, ""), "/"), t.name)
			if c.Bool("wait") {
				if err := waitGone(c.Context, cl, t); err != nil {
					return err
				}
			}
		case !api.IsNotFound(err):
			return err
		}
	}
	for _, m := range manifests {
		ns := objectNamespace(m.resource, m.object, namespace(c))
		body, err := m.bodyJSON(ns, forCreate)
		if err != nil {
			return err
		}
		created, err := cl.CreateJSON(c.Context, m.resource, ns, body, wo)
		if err != nil {
			return withSource(err, "creating", m.source)
		}
		fmt.Fprintf(e.stdout, "%s replaced\n", kindName(m.resource, created.GetObjectMeta().Name))
	}
	return nil
}

package cli

import (
	"errors"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
)

func (e *environment) scaleCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "scale",
		Usage:     "set a new size for a Deployment, ReplicaSet or ReplicationController",
		ArgsUsage: "(-f FILENAME | TYPE NAME | TYPE/NAME) --replicas=COUNT",
		Flags: append(clientFlags(),
			&ucli.IntFlag{Name: "replicas", Value: -1, Usage: "the new number of replicas (required)"},
			&ucli.IntFlag{Name: "current-replicas", Value: -1, Usage: "only scale if the current size is this"},
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects to scale"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
		),
		Action: e.scale,
	}
}

func (e *environment) scale(c *ucli.Context) error {
	replicas := c.Int("replicas")
	if replicas < 0 {
		return errors.New("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
	}
	var targets []deleteTarget
	ns := namespace(c)
	if files := c.StringSlice("filename"); len(files) > 0 {
		manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
		if err != nil {
			return err
		}
		for _, m := range manifests {
			targets = append(targets, deleteTarget{m.resource, objectNamespace(m.resource, m.object, ns), m.object.GetObjectMeta().Name})
		}
	} else {
		refs, err := parseResourceArgs(c.Args().Slice())
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return errors.New("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
		}
		for _, ref := range refs {
			if len(ref.names) == 0 {
				return errors.New("resource(s) were provided, but no name was specified")
			}
			for _, name := range ref.names {
				targets = append(targets, deleteTarget{ref.resource, scopedNamespace(ref.resource, ns), name})
			}
		}
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if t.resource.Kind != "ReplicaSet" && t.resource.Kind != "ReplicationController" && t.resource.Kind != "Deployment" {
			return fmt.Errorf("cannot scale %s: the server does not serve a scale subresource for it", t.resource.GroupResource())
		}
		s, err := cl.GetScale(c.Context, t.resource, t.namespace, t.name)
		if api.IsNotFound(err) {
			// kubectl's builder finds no object and says so, with the
			// server's message.
			return fmt.Errorf("no objects passed to scale %s", err.Error())
		}
		if err != nil {
			return err
		}
		if cur := c.Int("current-replicas"); cur >= 0 && int(s.Spec.Replicas) != cur {
			return fmt.Errorf("Expected replicas to be %d, was %d", cur, s.Spec.Replicas)
		} else if cur < 0 {
			// Without a precondition the new size wins over any change in
			// between, as kubectl's scale does.
			s.ResourceVersion = ""
		}
		s.Spec.Replicas = int32(replicas)
		if _, err := cl.UpdateScale(c.Context, t.resource, t.namespace, t.name, s); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s scaled\n", kindName(t.resource, t.name))
	}
	return nil
}

package cli

import (
	"errors"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) createCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "create",
		Usage:     "create resources from files or stdin, or a namespace by name",
		ArgsUsage: "-f FILENAME | namespace NAME",
		Flags: withFlags(append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the objects to create"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			validateFlag(),
		), append(append(createDeploymentFlags(), generatorFlags()...), createServiceFlags()...)...),
		Action: e.create,
	}
}

func (e *environment) create(c *ucli.Context) error {
	files := c.StringSlice("filename")
	args := c.Args().Slice()
	switch {
	case len(files) == 0 && len(args) == 0:
		return errors.New("must specify one of -f and -k")
	case len(files) > 0 && len(args) > 0:
		return fmt.Errorf("Unexpected args: %v\nSee 'wasmlet create -h' for help and examples", args)
	case len(args) > 0:
		return e.createNamed(c, args)
	}
	v, err := fieldValidation(c)
	if err != nil {
		return err
	}
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
	failed := false
	for _, m := range manifests {
		ns := objectNamespace(m.resource, m.object, namespace(c))
		body, err := m.bodyJSON(ns, forCreate)
		if err != nil {
			return err
		}
		created, err := cl.CreateJSON(c.Context, m.resource, ns, body, client.WriteOptions{FieldValidation: v})
		if err != nil {
			if !isStatus(err) {
				return err
			}
			e.printError(withSource(err, "creating", m.source))
			failed = true
			continue
		}
		fmt.Fprintf(e.stdout, "%s created\n", kindName(m.resource, created.GetObjectMeta().Name))
	}
	if failed {
		return exitError{1}
	}
	return nil
}

// createNamed is `create namespace NAME`, the one generator wasmlet has.
func (e *environment) createNamed(c *ucli.Context, args []string) error {
	if ok, err := e.createGenerated(c, args); ok {
		return err
	}
	if args[0] == "deployment" || args[0] == "deploy" {
		return e.createDeployment(c, args[1:])
	}
	if args[0] == "service" || args[0] == "svc" {
		return e.createService(c, args[1:])
	}
	r, ok := api.LookupResource(args[0])
	if !ok || r.Kind != "Namespace" {
		return fmt.Errorf("unknown command %q for \"wasmlet create\"", args[0])
	}
	if len(args) != 2 {
		return errors.New("exactly one NAME is required, got " + fmt.Sprint(len(args)-1))
	}
	ns := r.New()
	ns.GetTypeMeta().Kind, ns.GetTypeMeta().APIVersion = r.Kind, r.APIVersion()
	ns.GetObjectMeta().Name = args[1]
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	created, err := cl.Create(c.Context, ns)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s created\n", kindName(r, created.GetObjectMeta().Name))
	return nil
}

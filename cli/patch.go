package cli

import (
	"errors"
	"fmt"
	"os"

	ucli "github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) patchCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "patch",
		Usage:     "update fields of a resource with a strategic merge, JSON merge or JSON patch",
		ArgsUsage: "(-f FILENAME | TYPE NAME | TYPE/NAME) (-p PATCH | --patch-file FILE)",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "patch", Aliases: []string{"p"}, Usage: "the patch, in JSON or YAML"},
			&ucli.StringFlag{Name: "patch-file", Usage: "a file holding the patch"},
			&ucli.StringFlag{Name: "type", Value: "strategic", Usage: "strategic, merge or json"},
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects to patch"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
		),
		Action: e.patch,
	}
}

var patchTypes = map[string]client.PatchType{
	"json":      client.JSONPatch,
	"merge":     client.MergePatch,
	"strategic": client.StrategicMergePatch,
}

func (e *environment) patch(c *ucli.Context) error {
	pt, ok := patchTypes[c.String("type")]
	if !ok {
		return fmt.Errorf("--type must be one of [json merge strategic], not %q", c.String("type"))
	}
	text, file := c.String("patch"), c.String("patch-file")
	switch {
	case text == "" && file == "":
		return errors.New("must specify --patch or --patch-file containing the contents of the patch")
	case text != "" && file != "":
		return errors.New("cannot specify --patch and --patch-file together")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("unable to read patch file: %v", err)
		}
		text = string(b)
	}
	data, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return fmt.Errorf("unable to parse %q: %v", text, err)
	}
	refs, err := e.findTargets(c, c.Args().Slice(), c.StringSlice("filename"))
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return errors.New("You must provide one or more resources by argument or filename.\n" +
			"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	objs, err := e.fetchTargets(c, cl, refs)
	if err != nil {
		return err
	}
	for _, t := range objs {
		meta := t.object.GetObjectMeta()
		patched, err := cl.Patch(c.Context, t.resource, meta.Namespace, meta.Name, pt, data)
		if err != nil {
			return err
		}
		word := "patched"
		if patched.GetObjectMeta().ResourceVersion == meta.ResourceVersion {
			word = "patched (no change)"
		}
		fmt.Fprintf(e.stdout, "%s %s\n", kindName(t.resource, meta.Name), word)
	}
	return nil
}

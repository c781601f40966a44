package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) setCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "set",
		Usage: "set specific features on objects: set image",
		ArgsUsage: "image (-f FILENAME | TYPE NAME | TYPE/NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N\n" +
			"   (CONTAINER * sets every container; TYPE is deployment, replicaset, replicationcontroller or pod)",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.BoolFlag{Name: "all", Usage: "every object of the kinds given, in the namespace"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (-l app=web,tier!=db)"},
			&ucli.BoolFlag{Name: "local", Usage: "change the objects of -f and print them, without the node"},
			&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "none, client (print, send nothing) or server (the node checks, stores nothing)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
		),
		Action: e.set,
	}
}

func (e *environment) set(c *ucli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 || args[0] != "image" {
		if len(args) == 0 {
			return errors.New("a subcommand is required: image\nSee 'wasmlet set --help' for usage.")
		}
		return fmt.Errorf("unknown command %q for \"wasmlet set\"", args[0])
	}
	return e.setImage(c, args[1:])
}

// setImage is kubectl's `set image`: each named container (or every one,
// for *) of the objects' pod templates, init containers too, gets its new
// image by a strategic merge patch; an object it leaves unchanged is not
// patched and not printed.
func (e *environment) setImage(c *ucli.Context, args []string) error {
	resources, pairs, err := resourcesAndPairs(args, "image")
	if err != nil {
		return err
	}
	images, err := parseImagePairs(pairs)
	if err != nil {
		return err
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	dryRun := c.String("dry-run")
	switch dryRun {
	case "none", "", "client", "server":
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, dryRun)
	}
	files := c.StringSlice("filename")
	local := c.Bool("local")
	if local && len(resources) > 0 {
		return errors.New("error: you must specify resources by --filename when --local is set.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'")
	}

	var targets []printTarget
	var cl nodeClient
	if local {
		manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
		if err != nil {
			return err
		}
		for _, m := range manifests {
			targets = append(targets, printTarget{m.resource, m.object})
		}
	} else {
		refs, err := e.findTargets(c, resources, files)
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return errors.New("You must provide one or more resources by argument or filename.\n" +
				"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
		}
		if cl, err = e.connect(c); err != nil {
			return err
		}
		if targets, err = e.fetchTargets(c, cl, refs); err != nil {
			return err
		}
	}

	var errs []error
	if c.Bool("all") && c.String("selector") != "" {
		errs = append(errs, errors.New("cannot set --all and --selector at the same time"))
	}
	if len(images) == 0 {
		errs = append(errs, errors.New("at least one image update is required"))
	} else if _, ok := images["*"]; ok && len(images) > 1 {
		errs = append(errs, errors.New("all containers are already specified by *, but saw more than one container_name=container_image pairs"))
	}
	if local && dryRun == "server" {
		errs = append(errs, errors.New("cannot specify --local and --dry-run=server - did you mean --dry-run=client?"))
	}
	if len(errs) > 0 {
		return e.aggregate(errs)
	}

	names := slices.Sorted(func(yield func(string) bool) {
		for k := range images {
			if !yield(k) {
				return
			}
		}
	})
	for _, t := range targets {
		meta := t.object.GetObjectMeta()
		spec := podSpecOf(t.object)
		if spec == nil {
			errs = append(errs, fmt.Errorf("error: %s/%s the object is not a pod or does not have a pod template: *v1.%s",
				t.resource.Resource, meta.Name, t.resource.Kind))
			continue
		}
		var initPatch, ctrPatch []map[string]any
		for _, name := range names {
			image := images[name]
			found := false
			if p, ok := setContainerImages(spec.InitContainers, name, image); ok {
				found = true
				initPatch = append(initPatch, p...)
			}
			if p, ok := setContainerImages(spec.Containers, name, image); ok {
				found = true
				ctrPatch = append(ctrPatch, p...)
			}
			if !found {
				errs = append(errs, fmt.Errorf("error: unable to find container named %q", name))
			}
		}
		if len(initPatch) == 0 && len(ctrPatch) == 0 {
			continue
		}
		if local || dryRun == "client" {
			word := "image updated"
			if dryRun == "client" {
				word += " (dry run)"
			}
			if err := e.printChanged(t.resource, t.object, out, word); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		patched := map[string]any{}
		if len(initPatch) > 0 {
			patched["initContainers"] = initPatch
		}
		if len(ctrPatch) > 0 {
			patched["containers"] = ctrPatch
		}
		body := map[string]any{"spec": patched}
		if t.resource.Kind != "Pod" {
			body = map[string]any{"spec": map[string]any{"template": body}}
		}
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		obj, err := cl.PatchWith(c.Context, t.resource, meta.Namespace, meta.Name, client.StrategicMergePatch, data,
			client.WriteOptions{DryRun: dryRun == "server"})
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to patch image update to pod template: %s", statusText(err)))
			continue
		}
		word := "image updated"
		if dryRun == "server" {
			word += " (server dry run)"
		}
		if err := e.printChanged(t.resource, obj, out, word); err != nil {
			errs = append(errs, err)
		}
	}
	return e.aggregate(errs)
}

// resourcesAndPairs splits set's arguments into the resources and the
// KEY=VALUE pairs after them, as kubectl does.
func resourcesAndPairs(args []string, pairType string) (resources, pairs []string, err error) {
	foundPair := false
	for _, s := range args {
		pair := (strings.Contains(s, "=") && s[0] != '=') || (strings.HasSuffix(s, "-") && s != "-")
		switch {
		case pair:
			foundPair = true
			pairs = append(pairs, s)
		case foundPair:
			return nil, nil, fmt.Errorf("all resources must be specified before %s changes: %s", pairType, s)
		default:
			resources = append(resources, s)
		}
	}
	return resources, pairs, nil
}

// parseImagePairs reads CONTAINER=IMAGE pairs; the last of one name wins.
func parseImagePairs(pairs []string) (map[string]string, error) {
	images := map[string]string{}
	var invalid []string
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			invalid = append(invalid, p)
			continue
		}
		images[k] = v
	}
	if len(invalid) > 0 {
		return nil, fmt.Errorf("invalid image format: %s", strings.Join(invalid, ", "))
	}
	return images, nil
}

// setContainerImages sets image on the containers called name (all of them
// for *) and returns the strategic merge patch elements of those it
// changed; ok tells whether any container was called name.
func setContainerImages(containers []api.Container, name, image string) (patch []map[string]any, ok bool) {
	for i := range containers {
		if containers[i].Name != name && name != "*" {
			continue
		}
		ok = true
		if containers[i].Image != image {
			containers[i].Image = image
			patch = append(patch, map[string]any{"name": containers[i].Name, "image": image})
		}
	}
	return patch, ok
}

// podSpecOf is the pod spec of a pod, or of the template of a controller;
// nil for a kind without one.
func podSpecOf(obj api.Object) *api.PodSpec {
	switch o := obj.(type) {
	case *api.Pod:
		return &o.Spec
	case *api.ReplicaSet:
		return &o.Spec.Template.Spec
	case *api.ReplicationController:
		if o.Spec.Template == nil {
			o.Spec.Template = &api.PodTemplateSpec{}
		}
		return &o.Spec.Template.Spec
	case *api.Deployment:
		return &o.Spec.Template.Spec
	}
	return nil
}

// statusText is a node's refusal in the words client-go's errors give it
// when kubectl wraps them (the message alone), anything else as it is.
func statusText(err error) string {
	var st *api.Status
	if errors.As(err, &st) {
		return st.Message
	}
	return err.Error()
}

// printChanged prints an object a verb changed: -o as asked, else
// kubectl's `KIND.GROUP/NAME word`.
func (e *environment) printChanged(r *api.ResourceInfo, obj api.Object, out, word string) error {
	items := []printers.Item{{Resource: r, Object: obj}}
	switch out {
	case "yaml":
		return printers.PrintYAML(e.stdout, items, true)
	case "json":
		return printers.PrintJSON(e.stdout, items, true)
	case "name":
		return printers.PrintName(e.stdout, items)
	}
	fmt.Fprintf(e.stdout, "%s %s\n", kindName(r, obj.GetObjectMeta().Name), word)
	return nil
}

// aggregate ends a verb that gathered errors as kubectl's aggregate does:
// one error as any other, several one a line (a node's refusal in its
// "Error from server" form).
func (e *environment) aggregate(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	for _, err := range errs {
		msg := err.Error()
		if isStatus(err) {
			msg = formatError(err)
		}
		fmt.Fprintln(e.stderr, msg)
	}
	return exitError{1}
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// lastAppliedAnnotation holds the configuration apply last sent, the
// "original" of its three-way merge.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

func (e *environment) applyCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "apply",
		Usage:     "apply a configuration to resources by file name or stdin",
		ArgsUsage: "-f FILENAME",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the configuration to apply"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
		),
		Action: e.apply,
	}
}

func (e *environment) apply(c *ucli.Context) error {
	files := c.StringSlice("filename")
	if len(files) == 0 {
		return errors.New("must specify one of -f and -k")
	}
	if c.NArg() > 0 {
		return fmt.Errorf("Unexpected args: %v\nSee 'wasmlet apply -h' for help and examples", c.Args().Slice())
	}
	manifests, err := e.loadManifests(files, c.Bool("recursive"))
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
		verb, err := e.applyOne(c, cl, m)
		if err != nil {
			if !isStatus(err) {
				return err
			}
			e.printError(err)
			failed = true
			continue
		}
		fmt.Fprintf(e.stdout, "%s %s\n", kindName(m.resource, m.object.GetObjectMeta().Name), verb)
	}
	if failed {
		return exitError{1}
	}
	return nil
}

// applyOne creates the object if it is absent, and otherwise patches it
// with the three-way merge of the last applied configuration, the file
// and the live object. It returns kubectl's verb for what happened.
func (e *environment) applyOne(c *ucli.Context, cl nodeClient, m manifest) (string, error) {
	ns := objectNamespace(m.resource, m.object, namespace(c))
	name := m.object.GetObjectMeta().Name
	if name == "" {
		return "", fmt.Errorf("%s: cannot use generate name with apply", m.resource.Kind)
	}
	modified, err := withLastApplied(m.applied)
	if err != nil {
		return "", err
	}
	live, err := cl.Get(c.Context, m.resource, ns, name)
	if api.IsNotFound(err) {
		obj := m.object.DeepCopyObject()
		meta := obj.GetObjectMeta()
		meta.Namespace = ns
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[lastAppliedAnnotation] = string(m.applied) + "\n"
		if _, err := cl.Create(c.Context, obj); err != nil {
			return "", err
		}
		return "created", nil
	}
	if err != nil {
		return "", err
	}

	var original map[string]any
	if last, ok := live.GetObjectMeta().Annotations[lastAppliedAnnotation]; ok {
		if original, err = toMap([]byte(last)); err != nil {
			original = nil
		}
	} else {
		fmt.Fprintf(e.stderr, "Warning: resource %s/%s is missing the %s annotation which is required by wasmlet apply. wasmlet apply should only be used on resources created declaratively by either wasmlet create --save-config or wasmlet apply. The missing annotation will be patched automatically.\n",
			m.resource.GroupResource(), name, lastAppliedAnnotation)
	}
	liveJSON, err := json.Marshal(live)
	if err != nil {
		return "", err
	}
	current, err := toMap(liveJSON)
	if err != nil {
		return "", err
	}
	patch := threeWayMergePatch(original, modified, current)
	if len(patch) == 0 {
		return "unchanged", nil
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return "", err
	}
	if _, err := cl.Patch(c.Context, m.resource, ns, name, client.MergePatch, data); err != nil {
		return "", err
	}
	return "configured", nil
}

// withLastApplied is the file's object with the annotation that records
// it, as a generic object: the "modified" side of the merge.
func withLastApplied(applied []byte) (map[string]any, error) {
	m, err := toMap(applied)
	if err != nil {
		return nil, err
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	ann[lastAppliedAnnotation] = string(applied) + "\n"
	return m, nil
}

// checkNamespaces refuses objects whose namespace differs from an explicit
// -n, as kubectl does.
func checkNamespaces(c *ucli.Context, manifests []manifest) error {
	want := c.String("namespace")
	if want == "" {
		return nil
	}
	for _, m := range manifests {
		if ns := m.object.GetObjectMeta().Namespace; ns != "" && ns != want && m.resource.Namespaced {
			return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", ns, want, ns)
		}
	}
	return nil
}

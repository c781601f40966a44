package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/strategicpatch"
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
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "apply only the objects of the files with these labels; with --prune, prune only objects with them"},
			&ucli.BoolFlag{Name: "prune", Usage: "delete the objects that the files no longer contain (objects of the kinds pods, replicationcontrollers, replicasets and namespaces, applied before, matching -l)"},
			&ucli.BoolFlag{Name: "all", Usage: "with --prune, prune whatever the labels"},
			&ucli.StringSliceFlag{Name: "prune-allowlist", Usage: "the kinds --prune deletes, as group/version/Kind (core/v1/Pod, apps/v1/ReplicaSet); repeatable"},
			validateFlag(),
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
	prune := c.Bool("prune")
	if prune && c.String("selector") == "" && !c.Bool("all") {
		return errors.New("all resources selected for prune without explicitly passing --all. To prune all resources, pass the --all flag. If you did not mean to prune all resources, specify a label selector")
	}
	if c.Bool("all") && c.String("selector") != "" {
		return errors.New("cannot set --all and --selector at the same time")
	}
	selector := api.Everything()
	if s := c.String("selector"); s != "" {
		var err error
		if selector, err = api.ParseSelector(s); err != nil {
			return err
		}
	}
	if _, err := fieldValidation(c); err != nil {
		return err
	}
	manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
	if err != nil {
		return err
	}
	if manifests = selectManifests(manifests, selector); len(manifests) == 0 {
		return errors.New("no objects passed to apply")
	}
	if err := checkNamespaces(c, manifests); err != nil {
		return err
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	failed := false
	applied := map[objectKey]bool{}
	visited := map[string]bool{}
	for _, m := range manifests {
		key := objectKey{m.resource, objectNamespace(m.resource, m.object, namespace(c)), m.object.GetObjectMeta().Name}
		applied[key] = true
		if m.resource.Namespaced {
			visited[key.namespace] = true
		}
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
	if prune && !failed {
		if err := e.prune(c, cl, selector, applied, visited); err != nil {
			return err
		}
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
	plan, err := e.planApply(c, cl, m, true)
	if err != nil {
		return "", err
	}
	v, err := fieldValidation(c)
	if err != nil {
		return "", err
	}
	opts := client.WriteOptions{FieldValidation: v}
	switch {
	case plan.create != nil:
		if _, err := cl.CreateJSON(c.Context, m.resource, plan.namespace, plan.create, opts); err != nil {
			return "", withSource(err, "creating", m.source)
		}
		return "created", nil
	case plan.patch == nil:
		return "unchanged", nil
	}
	if _, err := cl.PatchWith(c.Context, m.resource, plan.namespace, plan.name, client.StrategicMergePatch, plan.patch, opts); err != nil {
		return "", patchFailure(err, m, plan)
	}
	return "configured", nil
}

// patchFailure words a refused apply patch as kubectl does: the patch, the
// object and the file, then the node's message. Invalid objects keep their
// own wording, which names the object and its fields.
func patchFailure(err error, m manifest, plan applyPlan) error {
	var st *api.Status
	if !errors.As(err, &st) || st.Reason == api.StatusReasonInvalid {
		return err
	}
	gv := groupVersion(m.resource)
	c := *st
	c.Message = fmt.Sprintf("error when applying patch:\n%s\nto:\nResource: %q, GroupVersionKind: %q\nName: %q, Namespace: %q\nfor: %q: error when patching %q: %s",
		plan.patch, gv+", Resource="+m.resource.Resource, gv+", Kind="+m.resource.Kind, plan.name, nsOf(m.resource, plan.namespace), m.source, m.source, st.Message)
	return &c
}

func nsOf(r *api.ResourceInfo, namespace string) string {
	if !r.Namespaced {
		return ""
	}
	return namespace
}

// applyPlan is what applying one manifest does: create an object, send a
// patch, or nothing.
type applyPlan struct {
	namespace, name string
	live            api.Object // nil when the object does not exist
	create          []byte     // the document to create, with its annotation
	patch           []byte     // the strategic merge patch; nil if unchanged
}

// planApply reads the live object and computes what applying m does.
// With annotate false (diff), the configuration is not recorded in the
// last applied annotation, as kubectl diff leaves it out.
func (e *environment) planApply(c *ucli.Context, cl nodeClient, m manifest, annotate bool) (applyPlan, error) {
	plan := applyPlan{namespace: objectNamespace(m.resource, m.object, namespace(c)), name: m.object.GetObjectMeta().Name}
	if plan.name == "" {
		return plan, fmt.Errorf("%s: cannot use generate name with apply", m.resource.Kind)
	}
	applied, err := recordedConfiguration(m, plan.namespace)
	if err != nil {
		return plan, err
	}
	modified, err := toMap(applied)
	if annotate {
		modified, err = withLastApplied(applied)
	}
	if err != nil {
		return plan, err
	}
	live, err := cl.Get(c.Context, m.resource, plan.namespace, plan.name)
	if api.IsNotFound(err) {
		if meta, ok := modified["metadata"].(map[string]any); ok {
			forCreate(meta)
		}
		plan.create, err = json.Marshal(modified)
		return plan, err
	}
	if err != nil {
		return plan, err
	}
	plan.live = live

	var original map[string]any
	if last, ok := live.GetObjectMeta().Annotations[lastAppliedAnnotation]; ok {
		if original, err = toMap([]byte(last)); err != nil {
			original = nil
		}
	} else if annotate {
		// kubectl names the resource without its group here
		// (replicasets/web), unlike in its other messages.
		fmt.Fprintf(e.stderr, "Warning: resource %s/%s is missing the %s annotation which is required by wasmlet apply. wasmlet apply should only be used on resources created declaratively by either wasmlet create --save-config or wasmlet apply. The missing annotation will be patched automatically.\n",
			m.resource.Resource, plan.name, lastAppliedAnnotation)
	}
	liveJSON, err := json.Marshal(live)
	if err != nil {
		return plan, err
	}
	current, err := toMap(liveJSON)
	if err != nil {
		return plan, err
	}
	patch := strategicpatch.CreateThreeWayMergePatch(m.resource.Kind, original, modified, current)
	if len(patch) == 0 {
		return plan, nil
	}
	plan.patch, err = json.Marshal(patch)
	return plan, err
}

// recordedConfiguration is the configuration apply records, as kubectl
// records it: the file's object with the namespace it is applied in and
// an annotations map, empty if the file has none. The same text then
// reads the same to kubectl and to wasmlet, whichever applied last.
func recordedConfiguration(m manifest, namespace string) ([]byte, error) {
	obj, err := m.body(namespace)
	if err != nil {
		return nil, err
	}
	meta := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	// A file taken from `get -o yaml` records what apply recorded before;
	// it is not part of the configuration.
	delete(ann, lastAppliedAnnotation)
	return json.Marshal(obj)
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

// objectKey names one object of one kind.
type objectKey struct {
	resource        *api.ResourceInfo
	namespace, name string
}

// selectManifests keeps the objects whose labels selector matches, as
// kubectl apply -l does with the objects of its files.
func selectManifests(ms []manifest, selector api.Selector) []manifest {
	var out []manifest
	for _, m := range ms {
		if selector.Matches(m.object.GetObjectMeta().Labels) {
			out = append(out, m)
		}
	}
	return out
}

// pruneKinds are the kinds of kubectl's default prune list that the node
// serves, in kubectl's order.
var pruneKinds = []string{"namespaces", "pods", "replicationcontrollers", "replicasets"}

// prune deletes the objects that an apply made before and that the files
// no longer contain: objects of pruneKinds (in the namespaces of the
// applied objects, for namespaced kinds) that carry the last applied
// annotation, match selector, and were not applied now.
func (e *environment) prune(c *ucli.Context, cl nodeClient, selector api.Selector, applied map[objectKey]bool, visited map[string]bool) error {
	kinds := make([]*api.ResourceInfo, 0, len(pruneKinds))
	for _, name := range pruneKinds {
		if r, ok := api.LookupResource(name); ok {
			kinds = append(kinds, r)
		}
	}
	if allow := c.StringSlice("prune-allowlist"); len(allow) > 0 {
		kinds = kinds[:0]
		for _, gvk := range allow {
			var r *api.ResourceInfo
			ok := false
			if parts := strings.Split(gvk, "/"); len(parts) == 3 {
				apiVersion := parts[0] + "/" + parts[1]
				if parts[0] == "core" || parts[0] == "" {
					apiVersion = parts[1]
				}
				r, ok = api.LookupKind(apiVersion, parts[2])
			}
			if !ok {
				return fmt.Errorf("invalid GroupVersionKind format: %s, please follow <group/version/kind>", gvk)
			}
			kinds = append(kinds, r)
		}
	}
	namespaces := make([]string, 0, len(visited))
	for ns := range visited {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, r := range kinds {
		scopes := namespaces
		if !r.Namespaced {
			scopes = []string{""}
		}
		for _, ns := range scopes {
			objs, err := cl.List(c.Context, r, ns, client.ListOptions{LabelSelector: c.String("selector")})
			if err != nil {
				return err
			}
			for _, obj := range objs {
				meta := obj.GetObjectMeta()
				if _, ok := meta.Annotations[lastAppliedAnnotation]; !ok || !selector.Matches(meta.Labels) {
					continue
				}
				if applied[objectKey{r, meta.Namespace, meta.Name}] {
					continue
				}
				err := cl.Delete(c.Context, r, meta.Namespace, meta.Name, client.DeleteOptions{PropagationPolicy: "Background"})
				if err != nil && !api.IsNotFound(err) {
					return err
				}
				fmt.Fprintf(e.stdout, "%s pruned\n", kindName(r, meta.Name))
			}
		}
	}
	return nil
}

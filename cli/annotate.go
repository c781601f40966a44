package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) annotateCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "annotate",
		Usage:     "update the annotations on a resource",
		ArgsUsage: "TYPE NAME... | TYPE/NAME... KEY_1=VAL_1 ... KEY_N-",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.BoolFlag{Name: "overwrite", Usage: "allow changing the value of an annotation that is set"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "annotate the objects this label selector matches"},
			&ucli.BoolFlag{Name: "all", Usage: "annotate every object of the kind in the namespace"},
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects to annotate"},
		),
		Action: e.annotate,
	}
}

// splitPairs separates kubectl's `TYPE NAME... KEY=VALUE... KEY-` into the
// resources and the changes; every resource must come first.
func splitPairs(args []string, pairType string) (resources, pairs []string, err error) {
	for _, a := range args {
		change := (strings.Contains(a, "=") && a[0] != '=') || (strings.HasSuffix(a, "-") && a != "-")
		switch {
		case change:
			pairs = append(pairs, a)
		case len(pairs) > 0:
			return nil, nil, fmt.Errorf("all resources must be specified before %s changes: %s", pairType, a)
		default:
			resources = append(resources, a)
		}
	}
	return resources, pairs, nil
}

// parseAnnotationArgs reads `key=value` (the value may hold `=`) and
// `key-`.
func parseAnnotationArgs(args []string) (map[string]string, []string, error) {
	set := map[string]string{}
	var remove []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			if k == "" {
				return nil, nil, fmt.Errorf("invalid annotation format: %s", a)
			}
			set[k] = v
			continue
		}
		remove = append(remove, strings.TrimSuffix(a, "-"))
	}
	var both []string
	for _, k := range remove {
		if _, ok := set[k]; ok {
			both = append(both, k)
		}
	}
	if len(both) > 0 {
		return nil, nil, fmt.Errorf("can not both modify and remove the following annotation(s) in the same command: %s", strings.Join(both, ", "))
	}
	return set, remove, nil
}

func (e *environment) annotate(c *ucli.Context) error {
	resArgs, pairs, err := splitPairs(c.Args().Slice(), "annotation")
	if err != nil {
		return err
	}
	files := c.StringSlice("filename")
	if len(resArgs) == 0 && len(files) == 0 {
		return errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	}
	if len(pairs) == 0 {
		return errors.New("at least one annotation update is required")
	}
	set, remove, err := parseAnnotationArgs(pairs)
	if err != nil {
		return err
	}
	targets, err := e.findTargets(c, resArgs, files)
	if err != nil {
		return err
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	objs, err := e.fetchTargets(c, cl, targets)
	if err != nil {
		return err
	}
	for _, t := range objs {
		meta := t.object.GetObjectMeta()
		if !c.Bool("overwrite") {
			var clashes []string
			for k, v := range set {
				if cur, ok := meta.Annotations[k]; ok && cur != v {
					clashes = append(clashes, fmt.Sprintf("'%s' already has a value (%s)", k, cur))
				}
			}
			if len(clashes) > 0 {
				sort.Strings(clashes)
				return fmt.Errorf("--overwrite is false but found the following declared annotation(s): %s", strings.Join(clashes, "; "))
			}
		}
		patch := map[string]any{}
		for k, v := range set {
			patch[k] = v
		}
		for _, k := range remove {
			patch[k] = nil
		}
		data, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": patch}})
		if err != nil {
			return err
		}
		if _, err := cl.Patch(c.Context, t.resource, meta.Namespace, meta.Name, client.MergePatch, data); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s annotated\n", kindName(t.resource, meta.Name))
	}
	return nil
}

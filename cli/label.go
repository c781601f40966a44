package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) labelCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "label",
		Usage:     "update the labels on a resource",
		ArgsUsage: "TYPE NAME... | TYPE/NAME... KEY_1=VAL_1 ... KEY_N- ",
		Flags: append(clientFlags(), allNamespacesFlag,
			&ucli.BoolFlag{Name: "overwrite", Usage: "allow changing the value of a label that is set"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label the objects this label selector matches"},
			&ucli.BoolFlag{Name: "all", Usage: "label every object of the kind in the namespace"},
		),
		Action: e.label,
	}
}

func (e *environment) label(c *ucli.Context) error {
	var resArgs, labelArgs []string
	for _, a := range c.Args().Slice() {
		if strings.Contains(a, "=") || (strings.HasSuffix(a, "-") && len(resArgs) > 0) {
			labelArgs = append(labelArgs, a)
		} else {
			resArgs = append(resArgs, a)
		}
	}
	if len(resArgs) == 0 {
		return errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	}
	if len(labelArgs) == 0 {
		return errors.New("at least one label update is required")
	}
	set, remove, err := parseLabelArgs(labelArgs)
	if err != nil {
		return err
	}
	refs, err := parseResourceArgs(resArgs)
	if err != nil {
		return err
	}
	selector, all := c.String("selector"), c.Bool("all")
	for _, ref := range refs {
		if len(ref.names) == 0 && selector == "" && !all {
			return errors.New("resource(s) were provided, but no name was specified")
		}
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	ns := namespace(c)
	var objs []printTarget
	for _, ref := range refs {
		if len(ref.names) == 0 {
			list, err := listRef(c, cl, ref.resource, selector)
			if err != nil {
				return err
			}
			for _, o := range list {
				objs = append(objs, printTarget{ref.resource, o})
			}
			continue
		}
		for _, name := range ref.names {
			o, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if err != nil {
				return err
			}
			objs = append(objs, printTarget{ref.resource, o})
		}
	}
	overwrite := c.Bool("overwrite")
	for _, t := range objs {
		meta := t.object.GetObjectMeta()
		old := meta.Labels
		for k, v := range set {
			if cur, ok := old[k]; ok && cur != v && !overwrite {
				return fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, cur)
			}
		}
		updated := maps.Clone(old)
		if updated == nil {
			updated = map[string]string{}
		}
		maps.Copy(updated, set)
		for _, k := range remove {
			if _, ok := updated[k]; !ok {
				fmt.Fprintf(e.stdout, "label %q not found.\n", k)
			}
			delete(updated, k)
		}
		msg := labelChange(old, updated, overwrite)
		if msg != "not labeled" {
			patch := map[string]any{}
			for k, v := range set {
				patch[k] = v
			}
			for _, k := range remove {
				if _, ok := old[k]; ok {
					patch[k] = nil
				}
			}
			data, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": patch}})
			if err != nil {
				return err
			}
			if _, err := cl.Patch(c.Context, t.resource, meta.Namespace, meta.Name, client.MergePatch, data); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "%s %s\n", kindName(t.resource, meta.Name), msg)
	}
	return nil
}

// printTarget is an object with its kind.
type printTarget struct {
	resource *api.ResourceInfo
	object   api.Object
}

// parseLabelArgs reads `key=value` and `key-` arguments, with kubectl's
// checks and messages.
func parseLabelArgs(args []string) (set map[string]string, remove []string, err error) {
	set = map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			if strings.Contains(v, "=") || k == "" {
				return nil, nil, fmt.Errorf("invalid label spec: %s", a)
			}
			if err := validLabel(k, v); err != nil {
				return nil, nil, fmt.Errorf("invalid label spec: %s, %v", a, err)
			}
			set[k] = v
			continue
		}
		k := strings.TrimSuffix(a, "-")
		if k == "" {
			return nil, nil, fmt.Errorf("invalid label spec: %s", a)
		}
		remove = append(remove, k)
	}
	for _, k := range remove {
		if _, ok := set[k]; ok {
			return nil, nil, errors.New("can not both modify and remove a label in the same command")
		}
	}
	return set, remove, nil
}

// validLabel applies the api's label key and value rules.
func validLabel(k, v string) error {
	errs := api.ValidateLabels(map[string]string{k: v}, "metadata.labels")
	if len(errs) == 0 {
		return nil
	}
	return errors.New(errs[0].ErrorBody())
}

// labelChange is kubectl's word for what changed: `labeled`, `unlabeled`
// (only ever without --overwrite, when the labels got shorter) or `not
// labeled`.
func labelChange(old, updated map[string]string, overwrite bool) string {
	if maps.Equal(old, updated) {
		return "not labeled"
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(updated)
	if !overwrite && len(b) < len(a) {
		return "unlabeled"
	}
	return "labeled"
}

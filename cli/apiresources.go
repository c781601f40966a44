package cli

import (
	"fmt"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
)

func (e *environment) apiResourcesCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "api-resources",
		Usage: "print the kinds the node serves",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide or name"},
			&ucli.BoolFlag{Name: "no-headers", Usage: "leave out the header line"},
			&ucli.StringFlag{Name: "namespaced", Usage: "true: only namespaced kinds; false: only cluster-wide ones"},
			&ucli.StringFlag{Name: "api-group", Usage: "only the kinds of this group (\"\" is the core group)"},
			&ucli.StringFlag{Name: "sort-by", Usage: "name or kind"},
		),
		Action: e.apiResources,
	}
}

// apiVerbs are the verbs the node's API serves for every kind.
var apiVerbs = "create,delete,deletecollection,get,list,patch,update,watch"

func (e *environment) apiResources(c *ucli.Context) error {
	output := c.String("output")
	if output != "" && output != "wide" && output != "name" {
		return fmt.Errorf("--output %v is not available", output)
	}
	sortBy := c.String("sort-by")
	if sortBy != "" && sortBy != "name" && sortBy != "kind" {
		return fmt.Errorf("--sort-by accepts only name or kind")
	}
	var list []*api.ResourceInfo
	for _, r := range api.Resources() {
		if c.IsSet("namespaced") && fmt.Sprint(r.Namespaced) != strings.ToLower(c.String("namespaced")) {
			continue
		}
		if c.IsSet("api-group") && r.Group != c.String("api-group") {
			continue
		}
		list = append(list, r)
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		switch sortBy {
		case "name":
			return a.Resource < b.Resource
		case "kind":
			return a.Kind < b.Kind
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Resource < b.Resource
	})
	if output == "name" {
		for _, r := range list {
			fmt.Fprintln(e.stdout, r.GroupResource())
		}
		return nil
	}
	tw := printers.NewTabWriter(e.stdout)
	if !c.Bool("no-headers") {
		header := "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND"
		if output == "wide" {
			header += "\tVERBS\tCATEGORIES"
		}
		fmt.Fprintln(tw, header)
	}
	for _, r := range list {
		row := fmt.Sprintf("%s\t%s\t%s\t%v\t%s", r.Resource, strings.Join(r.ShortNames, ","), r.APIVersion(), r.Namespaced, r.Kind)
		if output == "wide" {
			verbs := apiVerbs
			if r.Resource == "namespaces" {
				// Namespaces are deleted one by one.
				verbs = strings.Replace(verbs, "deletecollection,", "", 1)
			}
			row += fmt.Sprintf("\t%s\t%s", verbs, strings.Join(r.Categories, ","))
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func (e *environment) apiVersionsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "api-versions",
		Usage: "print the API versions the node serves, as group/version",
		Flags: clientFlags(),
		Action: func(c *ucli.Context) error {
			seen := map[string]bool{}
			var versions []string
			for _, r := range api.Resources() {
				if v := r.APIVersion(); !seen[v] {
					seen[v] = true
					versions = append(versions, v)
				}
			}
			sort.Strings(versions)
			for _, v := range versions {
				fmt.Fprintln(e.stdout, v)
			}
			return nil
		},
	}
}

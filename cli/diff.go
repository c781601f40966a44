package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// diff shows what apply would change, as kubectl diff does: each object
// as it is live and as the node would store it after apply (the node
// computes it: a create or the apply's patch sent with dryRun=All), in two
// directories compared by `diff -u -N` (or $KUBECTL_EXTERNAL_DIFF). The
// exit code is 0 when nothing would change, 1 when something would, and
// above 1 when diff itself failed.

func (e *environment) diffCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "diff",
		Usage:     "show what apply -f would change, as a unified diff of the live and the applied objects",
		ArgsUsage: "-f FILENAME",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the configuration to compare"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "only the objects of the files with these labels"},
		),
		Action: e.diff,
	}
}

func (e *environment) diff(c *ucli.Context) error {
	files := c.StringSlice("filename")
	if len(files) == 0 {
		return errors.New("must specify one of -f and -k")
	}
	if c.NArg() > 0 {
		return fmt.Errorf("Unexpected args: %v\nSee 'wasmlet diff -h' for help and examples", c.Args().Slice())
	}
	selector := api.Everything()
	if s := c.String("selector"); s != "" {
		var err error
		if selector, err = api.ParseSelector(s); err != nil {
			return err
		}
	}
	manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
	if err != nil {
		return err
	}
	manifests = selectManifests(manifests, selector)
	if err := checkNamespaces(c, manifests); err != nil {
		return err
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	// As kubectl diff, an unknown field is a warning: the diff shows what
	// the node would store, which is without it.
	dryRun := client.WriteOptions{FieldValidation: api.FieldValidationWarn, DryRun: true}
	liveDir, err := os.MkdirTemp("", "LIVE-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(liveDir)
	mergedDir, err := os.MkdirTemp("", "MERGED-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(mergedDir)

	for _, m := range manifests {
		plan, err := e.planApply(c, cl, m, false)
		if err != nil {
			return err
		}
		live, merged := plan.live, plan.live
		switch {
		case plan.create != nil:
			merged, err = cl.CreateJSON(c.Context, m.resource, plan.namespace, plan.create, dryRun)
		case plan.patch != nil:
			merged, err = cl.PatchWith(c.Context, m.resource, plan.namespace, plan.name, client.StrategicMergePatch, plan.patch, dryRun)
		}
		if err != nil {
			return err
		}
		name := diffFileName(m.resource, plan.namespace, plan.name)
		if err := writeDiffObject(filepath.Join(liveDir, name), live); err != nil {
			return err
		}
		if err := writeDiffObject(filepath.Join(mergedDir, name), merged); err != nil {
			return err
		}
	}
	return e.runDiff(liveDir, mergedDir)
}

// diffFileName is kubectl's name of an object's file: group, version,
// kind, namespace and name joined by dots (v1.Pod.default.web).
func diffFileName(r *api.ResourceInfo, namespace, name string) string {
	s := fmt.Sprintf("%s.%s.%s.%s", r.Version, r.Kind, namespace, name)
	if r.Group != "" {
		s = r.Group + "." + s
	}
	return s
}

// writeDiffObject writes obj as YAML without its managedFields, or an
// empty file for an object that does not exist.
func writeDiffObject(path string, obj api.Object) error {
	var data []byte
	if obj != nil {
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		m, err := toMap(b)
		if err != nil {
			return err
		}
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "managedFields")
		}
		if data, err = yaml.Marshal(m); err != nil {
			return err
		}
	}
	return os.WriteFile(path, data, 0o600)
}

// runDiff runs the diff program on the two directories, its output on
// stdout.
func (e *environment) runDiff(liveDir, mergedDir string) error {
	program, args := "diff", []string{"-u", "-N"}
	if ext := strings.Fields(e.env("KUBECTL_EXTERNAL_DIFF")); len(ext) > 0 {
		program, args = ext[0], ext[1:]
	}
	cmd := exec.Command(program, append(args, liveDir, mergedDir)...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return exitError{1}
	case errors.As(err, &exit):
		return exitError{exit.ExitCode()}
	}
	return fmt.Errorf("failed to run %q: %w", program, err)
}

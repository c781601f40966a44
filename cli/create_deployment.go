package cli

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// createDeploymentFlags are the flags of `create deployment`, added to
// create's own (urfave parses a verb's flags before its arguments name the
// generator).
func createDeploymentFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "image", Usage: "create deployment: the images of the containers, one container each"},
		&ucli.IntFlag{Name: "replicas", Aliases: []string{"r"}, Value: 1, Usage: "create deployment: the number of replicas"},
		&ucli.IntFlag{Name: "port", Value: -1, Usage: "create deployment: the containerPort of the first container"},
		&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "none, client (print the object, send nothing) or server (the node checks it, stores nothing)"},
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
		&ucli.BoolFlag{Name: "save-config", Usage: "record the object in the last-applied-configuration annotation, for a later apply"},
	}
}

// withFlags adds to flags those of more whose names none of flags has, so
// that generators of create sharing a flag (-o, --dry-run) define it once.
func withFlags(flags []ucli.Flag, more ...ucli.Flag) []ucli.Flag {
	have := map[string]bool{}
	for _, f := range flags {
		for _, n := range f.Names() {
			have[n] = true
		}
	}
	for _, f := range more {
		if !have[f.Names()[0]] {
			flags = append(flags, f)
			for _, n := range f.Names() {
				have[n] = true
			}
		}
	}
	return flags
}

// createDeployment is kubectl's `create deployment NAME --image=IMAGE...
// [-- COMMAND ARGS...]`: labels app=NAME on the Deployment, its selector
// and its template, one container per image.
func (e *environment) createDeployment(c *ucli.Context, args []string) error {
	if len(c.StringSlice("image")) == 0 {
		return errors.New(`required flag(s) "image" not set`)
	}
	// NAME is what stands before a `--`, COMMAND what follows it.
	if names := len(args) - len(e.afterDash); names != 1 {
		return fmt.Errorf("exactly one NAME is required, got %d\nSee 'wasmlet create deployment -h' for help and examples", max(names, 0))
	}
	name, command := args[0], args[1:]
	images := c.StringSlice("image")
	if len(images) > 1 && len(command) > 0 {
		return errors.New("cannot specify multiple --image options and command")
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	ns := ""
	if c.IsSet("namespace") {
		ns = c.String("namespace")
	}
	d := newDeployment(name, ns, images, command, int32(c.Int("replicas")), c.Int("port"))
	if c.Bool("save-config") {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		d.Annotations = map[string]string{lastAppliedAnnotation: string(b) + "\n"}
	}
	deployments, _ := api.LookupResource("deployments")
	var o client.WriteOptions
	switch c.String("dry-run") {
	case "none", "":
	case "client":
		return e.printGenerated(deployments, d, out, "created (dry run)")
	case "server":
		o.DryRun = true
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
	}
	v, err := fieldValidation(c)
	if err != nil {
		return err
	}
	o.FieldValidation = v
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	created, err := cl.CreateJSON(c.Context, deployments, namespace(c), body, o)
	if err != nil {
		var st *api.Status
		if errors.As(err, &st) {
			// kubectl words the node's refusal as its own error.
			return fmt.Errorf("failed to create deployment: %s", st.Message)
		}
		return err
	}
	word := "created"
	if o.DryRun {
		word = "created (server dry run)"
	}
	return e.printGenerated(deployments, created, out, word)
}

// newDeployment is the Deployment kubectl's generator builds; ns is set
// only when the command line named one.
func newDeployment(name, ns string, images, command []string, replicas int32, port int) *api.Deployment {
	labels := func() map[string]string { return map[string]string{"app": name} }
	d := &api.Deployment{TypeMeta: api.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}}
	d.Name, d.Namespace, d.Labels = name, ns, labels()
	d.Spec.Replicas = &replicas
	d.Spec.Selector = &api.LabelSelector{MatchLabels: labels()}
	d.Spec.Template.Labels = labels()
	d.Spec.Template.Spec.Containers = []api.Container{}
	for _, image := range images {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers,
			api.Container{Name: containerNameOf(image), Image: image, Command: command})
	}
	if port >= 0 && len(d.Spec.Template.Spec.Containers) > 0 {
		d.Spec.Template.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: int32(port)}}
	}
	return d
}

// containerNameOf is the container name kubectl derives from an image:
// the last path element without tag or digest, with "_" and "." made "-"
// and then a random suffix of 5 (a name is unique that way). A module
// file's ".wasm" is left out first, as a tag is: myweb.wasm names the
// container myweb, so that `set image deployment/myweb myweb=...` names
// it as a user expects (kubectl would name it myweb-wasm-xxxxx).
func containerNameOf(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	if base, ok := strings.CutSuffix(name, ".wasm"); ok && base != "" {
		name = base
	}
	name, _, _ = strings.Cut(name, ":")
	name, _, _ = strings.Cut(name, "@")
	if strings.ContainsAny(name, "_.") {
		name = strings.NewReplacer("_", "-", ".", "-").Replace(name) + "-" + randomSuffix(5)
	}
	return name
}

// suffixAlphabet is the alphabet of Kubernetes' random name suffixes (no
// vowels, no look-alike characters).
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet))))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = suffixAlphabet[k.Int64()]
	}
	return string(b)
}

// argsAfterDash is what follows the first `--` of args, nil without one.
func argsAfterDash(args []string) []string {
	for i, a := range args {
		if a == "--" {
			return append([]string{}, args[i+1:]...)
		}
	}
	return nil
}

// printGenerated prints obj as -o asks, or kubectl's `KIND.GROUP/NAME
// word` line.
func (e *environment) printGenerated(r *api.ResourceInfo, obj api.Object, out, word string) error {
	name := kindName(r, obj.GetObjectMeta().Name)
	switch out {
	case "name":
		fmt.Fprintln(e.stdout, name)
	case "json", "yaml":
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		if out == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
		}
		fmt.Fprintln(e.stdout, strings.TrimRight(string(b), "\n"))
	default:
		fmt.Fprintf(e.stdout, "%s %s\n", name, word)
	}
	return nil
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "create and run a pod from an image",
		ArgsUsage: "NAME --image=IMAGE [--env=KEY=VALUE] [--port=PORT] [--dry-run=server|client] [--command] [-- COMMAND] [ARGS...]",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "image", Usage: "the image of the pod's container: a module file of the node or a registry image"},
			&ucli.StringSliceFlag{Name: "env", Usage: "environment variables of the container (KEY=VALUE)"},
			&ucli.StringFlag{Name: "port", Usage: "the port the container exposes"},
			&ucli.StringFlag{Name: "labels", Aliases: []string{"l"}, Usage: "labels of the pod, comma-separated (default run=NAME)"},
			&ucli.StringSliceFlag{Name: "annotations", Usage: "annotations of the pod (KEY=VALUE)"},
			&ucli.StringFlag{Name: "restart", Value: "Always", Usage: "the pod's restartPolicy: Always, OnFailure or Never"},
			&ucli.StringFlag{Name: "image-pull-policy", Usage: "the container's imagePullPolicy; empty lets the node default it"},
			&ucli.BoolFlag{Name: "command", Usage: "the arguments after NAME are the command rather than its arguments"},
			&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "none, client (print the pod, send nothing) or server (the node checks it, stores nothing)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
			&ucli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "not supported: wasmlet does not attach to a container"},
			&ucli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "not supported: wasmlet does not attach to a container"},
			&ucli.BoolFlag{Name: "rm", Usage: "not supported: wasmlet does not attach to a container"},
			&ucli.BoolFlag{Name: "attach", Usage: "not supported: wasmlet does not attach to a container"},
		),
		Action: e.runPodCommand,
	}
}

// run is kubectl run: one pod, named and labelled run=NAME, with one
// container of the same name.
func (e *environment) runPodCommand(c *ucli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return errors.New("NAME is required for run")
	}
	for _, f := range []string{"stdin", "tty", "rm", "attach"} {
		if c.Bool(f) {
			return fmt.Errorf("--%s is not supported: wasmlet does not attach to a container; run without it and follow the pod with 'wasmlet logs -f %s'", f, args[0])
		}
	}
	pod, err := runPod(c, args[0], args[1:])
	if err != nil {
		return err
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	var o client.WriteOptions
	switch c.String("dry-run") {
	case "none", "":
	case "client":
		return e.printRun(pod, out, " (dry run)")
	case "server":
		o.DryRun = true
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	body, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	pods, _ := api.LookupResource("pods")
	created, err := cl.CreateJSON(c.Context, pods, namespace(c), body, o)
	if err != nil {
		return err
	}
	suffix := ""
	if o.DryRun {
		suffix = " (server dry run)"
	}
	return e.printRun(created, out, suffix)
}

// printRun prints the pod as -o asks, or kubectl's "pod/NAME created".
func (e *environment) printRun(obj api.Object, out, dryRun string) error {
	pods, _ := api.LookupResource("pods")
	return e.printGenerated(pods, obj, out, "created"+dryRun)
}

// runPod builds the pod of `run NAME` from its flags; rest are the
// arguments after NAME.
func runPod(c *ucli.Context, name string, rest []string) (*api.Pod, error) {
	image := c.String("image")
	if image == "" {
		return nil, errors.New(`required flag(s) "image" not set`)
	}
	restart := api.RestartPolicy(c.String("restart"))
	switch restart {
	case api.RestartPolicyAlways, api.RestartPolicyOnFailure, api.RestartPolicyNever:
	default:
		return nil, fmt.Errorf("invalid restart policy: %s", restart)
	}
	pod := &api.Pod{TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"}}
	pod.Name = name
	pod.Labels = map[string]string{"run": name}
	if l := c.String("labels"); l != "" {
		labels, err := keyValues(strings.Split(l, ","), "labels")
		if err != nil {
			return nil, err
		}
		pod.Labels = labels
	}
	if a := c.StringSlice("annotations"); len(a) > 0 {
		anns, err := keyValues(a, "annotations")
		if err != nil {
			return nil, err
		}
		pod.Annotations = anns
	}
	ctr := api.Container{Name: name, Image: image, ImagePullPolicy: api.PullPolicy(c.String("image-pull-policy"))}
	if c.Bool("command") {
		if len(rest) == 0 {
			return nil, errors.New("--command requires a command after NAME")
		}
		ctr.Command = rest
	} else {
		ctr.Args = rest
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid env: %s", kv)
		}
		ctr.Env = append(ctr.Env, api.EnvVar{Name: k, Value: v})
	}
	if p := c.String("port"); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port %q: a port is a number from 1 to 65535", p)
		}
		ctr.Ports = []api.ContainerPort{{ContainerPort: int32(n)}}
	}
	pod.Spec.Containers = []api.Container{ctr}
	pod.Spec.RestartPolicy = restart
	return pod, nil
}

// keyValues reads KEY=VALUE pairs.
func keyValues(pairs []string, what string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid %s: %q is not KEY=VALUE", what, kv)
		}
		m[k] = v
	}
	return m, nil
}

package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet"
)

func (e *environment) serveCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "serve",
		Usage: "run a node (store, API server, pods, controllers) until SIGINT or SIGTERM",
		Description: "Runs a node on the data dir until SIGINT or SIGTERM, and prints where it serves and its kubeconfig.\n" +
			"The other verbs, without --kubeconfig or KUBECONFIG, talk to the node started last on this machine\n" +
			"that still runs (a verb run while it starts waits for it), else to the default data dir's node.",
		Flags: append([]ucli.Flag{
			dataDirFlag(),
			&ucli.StringFlag{Name: "listen", Value: "127.0.0.1:7443", Usage: "address of the HTTPS API"},
			&ucli.StringFlag{Name: "node-name", Value: hostname(), Usage: "name of the v1 Node object"},
			&ucli.StringFlag{Name: "image-root", Value: workingDir(), Usage: "directory relative image paths are resolved against"},
			&ucli.StringFlag{Name: "pod-cidr", Value: "127.42.0.0/16", Usage: "loopback range pod IPs come from"},
			&ucli.StringSliceFlag{Name: "allow-host-path", Usage: "directory under which hostPath volumes are allowed (repeatable)"},
			&ucli.DurationFlag{Name: "shutdown-grace-period", Value: 30 * time.Second, Usage: "longest grace period a pod gets when the node stops"},
			&ucli.StringSliceFlag{Name: "node-port-address", Value: ucli.NewStringSlice("127.0.0.1"), Usage: "IPv4 address NodePort services listen on (repeatable)"},
		}, append(append(podLimitFlags(), imageFlags()...), serviceFlags()...)...),
		Action: e.serve,
	}
}

func (e *environment) serve(c *ucli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", c.Args().Slice())
	}
	dataDir := c.String("data-dir")
	if dataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	limits, err := podLimits(c)
	if err != nil {
		return err
	}
	images, err := imageOptions(c)
	if err != nil {
		return err
	}
	cfg := wasmlet.NewConfig().
		WithDataDir(dataDir).
		WithListen(c.String("listen")).
		WithNodeName(c.String("node-name")).
		WithImageRoot(c.String("image-root")).
		WithPodCIDR(c.String("pod-cidr")).
		WithAllowedHostPaths(c.StringSlice("allow-host-path")...).
		WithShutdownGracePeriod(c.Duration("shutdown-grace-period")).
		WithPodLimits(limits).
		WithImageOptions(images).
		WithNodePortAddresses(c.StringSlice("node-port-address")...).
		WithLogger(slog.New(slog.NewTextHandler(e.stderr, nil)))
	cfg = withServiceFlags(cfg, c)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Recorded before it serves: a verb run meanwhile waits for this node
	// instead of looking elsewhere (nodes.go).
	record, err := recordNode(dataDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: the node is not recorded in %s, the CLI needs --kubeconfig to find it: %v\n", nodesDir(), err)
	}
	defer record.close()
	node, err := wasmlet.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := node.Start(ctx); err != nil {
		return err
	}
	if record != nil {
		if err := record.serving(node.KubeconfigPath()); err != nil {
			fmt.Fprintf(e.stderr, "warning: the node is not recorded in %s, the CLI needs --kubeconfig to find it: %v\n", nodesDir(), err)
		}
	}
	fmt.Fprintf(e.stderr, "wasmlet node %q serving on https://%s\n", c.String("node-name"), node.APIAddr())
	kubeconfig := node.KubeconfigPath()
	if abs, err := filepath.Abs(kubeconfig); err == nil {
		kubeconfig = abs
	}
	fmt.Fprintf(e.stderr, "kubeconfig: %s\n", kubeconfig)
	fmt.Fprintf(e.stderr, "wasmlet's verbs talk to this node until a node started later runs (or with --kubeconfig %s)\n", kubeconfig)
	fmt.Fprintf(e.stderr, "kubectl: kubectl --kubeconfig %s get pods\n", kubeconfig)
	<-ctx.Done()
	fmt.Fprintln(e.stderr, "stopping: pods get their grace period")
	return node.Close()
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "wasmlet"
	}
	return h
}

func workingDir() string {
	d, err := os.Getwd()
	if err != nil {
		return "."
	}
	return d
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet"
	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) upCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "up",
		Usage:     "run a node in the foreground with the manifests of -f: pod changes and logs live; Ctrl-C stops the pods gracefully",
		ArgsUsage: "-f FILENAME",
		Flags: append([]ucli.Flag{
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) with the manifests to run"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "data-dir", Usage: "the node's directory (default: a temporary one, removed at the end)"},
			&ucli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "address of the HTTPS API"},
			&ucli.StringFlag{Name: "node-name", Value: hostname(), Usage: "name of the v1 Node object"},
			&ucli.StringFlag{Name: "image-root", Value: workingDir(), Usage: "directory relative image paths are resolved against"},
			&ucli.StringFlag{Name: "pod-cidr", Value: "127.42.0.0/16", Usage: "loopback range pod IPs come from"},
			&ucli.StringSliceFlag{Name: "allow-host-path", Usage: "directory under which hostPath volumes are allowed (repeatable)"},
			&ucli.DurationFlag{Name: "shutdown-grace-period", Value: 30 * time.Second, Usage: "longest grace period a pod gets when the node stops"},
			&ucli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "also print the node's own log"},
		}, append(podLimitFlags(), imageFlags()...)...),
		Action: e.up,
	}
}

// up is serve, apply and `get pods --watch` plus `logs -f` of every
// container, in one process: the quickest way to see manifests run.
func (e *environment) up(c *ucli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", c.Args().Slice())
	}
	files := c.StringSlice("filename")
	if len(files) == 0 {
		return errors.New("must specify -f with the manifests to run")
	}
	manifests, err := e.loadManifests(files, c.Bool("recursive"), true)
	if err != nil {
		return err
	}

	logLevel := slog.LevelWarn
	if c.Bool("verbose") {
		logLevel = slog.LevelInfo
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
		WithListen(c.String("listen")).
		WithNodeName(c.String("node-name")).
		WithImageRoot(c.String("image-root")).
		WithPodCIDR(c.String("pod-cidr")).
		WithAllowedHostPaths(c.StringSlice("allow-host-path")...).
		WithShutdownGracePeriod(c.Duration("shutdown-grace-period")).
		WithPodLimits(limits).
		WithImageOptions(images).
		WithLogger(slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: logLevel})))
	if dir := c.String("data-dir"); dir != "" {
		cfg = cfg.WithDataDir(dir)
	} else {
		dir, err := os.MkdirTemp("", "wasmlet-up-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		// The machine code of the modules outlives the data dir: the
		// next run starts them without compiling them again.
		cfg = cfg.WithDataDir(dir).WithCompilationCacheDir(wasmlet.UserCompilationCacheDir())
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := wasmlet.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := node.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	// Recorded as serve records its node, so that the other verbs find it.
	if record, err := recordNode(node.DataDir()); err == nil {
		defer record.close()
		record.serving(node.KubeconfigPath())
	}
	fmt.Fprintf(e.stderr, "wasmlet node %q up; kubectl --kubeconfig %s get pods\n", node.NodeName(), node.KubeconfigPath())

	cl, err := client.FromKubeconfig(node.KubeconfigPath())
	if err != nil {
		return err
	}
	for _, m := range manifests {
		verb, err := e.applyOne(c, cl, m)
		if err != nil {
			e.printError(err)
			continue
		}
		fmt.Fprintf(e.stdout, "%s %s\n", kindName(m.resource, m.object.GetObjectMeta().Name), verb)
	}

	// The table and the logs outlive Ctrl-C: the pods' Terminating rows and
	// their last lines (a guest's "got SIGTERM") are what the user waits for.
	watchCtx, cancelWatch := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.showPods(watchCtx, node)
	}()
	<-ctx.Done()
	fmt.Fprintln(e.stderr, "stopping: pods get their grace period")
	err = node.Close()
	cancelWatch()
	wg.Wait()
	return err
}

// showPods prints a table row for every change of a pod, as `get pods
// --watch` does, and follows the log of every container instance that
// starts, each line prefixed with [pod/container].
func (e *environment) showPods(ctx context.Context, node *wasmlet.Node) {
	pods, err := wasmlet.Watch[*api.Pod](ctx, node, "", wasmlet.ListOptions{})
	if err != nil {
		e.printError(err)
		return
	}
	r, _ := api.LookupResource("pods")
	out := &lockedWriter{w: e.stdout}
	header := true
	table := printers.NewRowWriter(out)
	following := map[string]bool{} // pod uid/container/restartCount
	var wg sync.WaitGroup
	defer wg.Wait()
	for ev := range pods {
		if ev.Err != nil {
			e.printError(ev.Err)
			return
		}
		pod := ev.Object
		t := printers.BuildTable(r, []api.Object{pod}, printers.TableOptions{WithNamespace: true, Wide: true, Now: e.now()})
		rows := t.Rows
		if header {
			rows = append([][]string{t.Columns}, rows...)
			header = false
		}
		_ = table.WriteRows(rows)
		if ev.Type == "DELETED" {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Running == nil {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", pod.UID, cs.Name, cs.RestartCount)
			if following[key] {
				continue
			}
			following[key] = true
			wg.Add(1)
			go func(ns, name, container string) {
				defer wg.Done()
				w := &prefixWriter{prefix: fmt.Sprintf("[%s/%s] ", name, container), w: out}
				_ = node.Logs(ctx, ns, name, wasmlet.LogOptions{Container: container, Follow: true}, w)
				w.flush()
			}(pod.Namespace, pod.Name, cs.Name)
		}
	}
}

// lockedWriter serialises writes of whole lines from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line with a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		_, _ = p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}

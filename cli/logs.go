package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "logs",
		Usage:     "print the logs of a container in a pod",
		ArgsUsage: "[-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "print the logs of this container"},
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "stream the logs"},
			&ucli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "print the logs of the previous instance of the container"},
			&ucli.Int64Flag{Name: "tail", Value: -1, Usage: "lines of recent log to show; -1 shows all (10 with -l)"},
			&ucli.BoolFlag{Name: "timestamps", Usage: "prefix each line with its RFC 3339 time"},
			&ucli.DurationFlag{Name: "since", Usage: "only lines newer than this duration (5s, 2m, 3h)"},
			&ucli.StringFlag{Name: "since-time", Usage: "only lines after this RFC 3339 time"},
			&ucli.Int64Flag{Name: "limit-bytes", Usage: "most bytes of log to print"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "print the logs of the pods this label selector matches"},
			&ucli.BoolFlag{Name: "all-containers", Usage: "print the logs of every container of the pods"},
			&ucli.BoolFlag{Name: "prefix", Usage: "prefix each line with the pod and container it came from"},
		),
		Action: interruptible(func(c *ucli.Context) bool { return c.Bool("follow") }, e.logs),
	}
}

func (e *environment) logs(c *ucli.Context) error {
	selector := c.String("selector")
	switch {
	case c.NArg() == 0 && selector == "":
		return errors.New("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command\nSee 'wasmlet logs -h' for help and examples")
	case c.NArg() > 0 && selector != "":
		return errors.New("only a selector (-l) or a POD name is allowed")
	case c.NArg() > 2:
		return errors.New("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nSee 'wasmlet logs -h' for help and examples")
	}
	container := c.String("container")
	if c.NArg() == 2 {
		if container != "" {
			return errors.New("only one of -c or an inline [CONTAINER] arg is allowed")
		}
		container = c.Args().Get(1)
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	ns := namespace(c)
	pods, err := e.podsForLogs(c, cl, ns, selector)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		// As kubectl: a selector that matches nothing is not an error.
		fmt.Fprintf(e.stderr, "No resources found in %s namespace.\n", ns)
		return nil
	}
	opts := client.LogOptions{
		Follow:     c.Bool("follow"),
		Previous:   c.Bool("previous"),
		Timestamps: c.Bool("timestamps"),
	}
	tail := c.Int64("tail")
	if tail < 0 && selector != "" {
		tail = 10
	}
	if tail >= 0 {
		opts.TailLines = &tail
	}
	if d := c.Duration("since"); d > 0 {
		s := int64((d + time.Second - 1) / time.Second)
		opts.SinceSeconds = &s
	}
	if s := c.String("since-time"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("invalid --since-time %q: %v", s, err)
		}
		opts.SinceTime = &t
	}
	if b := c.Int64("limit-bytes"); b > 0 {
		opts.LimitBytes = &b
	}

	type stream struct{ pod, container string }
	var streams []stream
	for _, pod := range pods {
		switch {
		case c.Bool("all-containers"):
			for _, ct := range pod.Spec.Containers {
				streams = append(streams, stream{pod.Name, ct.Name})
			}
		case container != "":
			if !hasContainer(pod, container) {
				return fmt.Errorf("container %s is not valid for pod %s", container, pod.Name)
			}
			streams = append(streams, stream{pod.Name, container})
		case len(pod.Spec.Containers) == 1:
			streams = append(streams, stream{pod.Name, pod.Spec.Containers[0].Name})
		default:
			if name := pod.Annotations["kubectl.kubernetes.io/default-container"]; name != "" {
				streams = append(streams, stream{pod.Name, name})
				continue
			}
			streams = append(streams, stream{pod.Name, pod.Spec.Containers[0].Name})
			fmt.Fprintf(e.stderr, "Defaulted container %q out of: %s\n", pod.Spec.Containers[0].Name, containerNames(pod))
		}
	}
	prefix := c.Bool("prefix")
	out := &lockedWriter{w: e.stdout}
	if opts.Follow && len(streams) > 1 {
		// Several streams followed at once interleave by line.
		var wg sync.WaitGroup
		errs := make([]error, len(streams))
		for i, s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.streamLog(c, cl, ns, s.pod, s.container, opts, prefix, out)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for _, s := range streams {
		if err := e.streamLog(c, cl, ns, s.pod, s.container, opts, prefix, out); err != nil {
			return err
		}
	}
	return nil
}

func (e *environment) streamLog(c *ucli.Context, cl nodeClient, ns, pod, container string, opts client.LogOptions, prefix bool, out io.Writer) error {
	opts.Container = container
	if !prefix {
		return cl.Logs(c.Context, ns, pod, opts, out)
	}
	w := &prefixWriter{prefix: fmt.Sprintf("[pod/%s/%s] ", pod, container), w: out}
	err := cl.Logs(c.Context, ns, pod, opts, w)
	w.flush()
	return err
}

// podsForLogs resolves POD, pod/NAME, rs/NAME, rc/NAME or -l to pods. For
// an owner, as kubectl, the logs are those of its first pod.
func (e *environment) podsForLogs(c *ucli.Context, cl nodeClient, ns, selector string) ([]*api.Pod, error) {
	podsR, _ := api.LookupResource("pods")
	if selector != "" {
		objs, err := cl.List(c.Context, podsR, ns, client.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		return asPods(objs), nil
	}
	arg := c.Args().First()
	kind, name, typed := strings.Cut(arg, "/")
	if !typed {
		kind, name = "pods", arg
	}
	r, ok := api.LookupResource(kind)
	if !ok {
		return nil, fmt.Errorf("the server doesn't have a resource type %q", kind)
	}
	obj, err := cl.Get(c.Context, r, ns, name)
	if api.IsNotFound(err) {
		// kubectl's words for the object the logs were asked of.
		return nil, fmt.Errorf("error from server (NotFound): %s %q not found in namespace %q", r.GroupResource(), name, ns)
	}
	if err != nil {
		return nil, err
	}
	if pod, ok := obj.(*api.Pod); ok {
		return []*api.Pod{pod}, nil
	}
	sel, err := ownerSelector(obj)
	if err != nil {
		return nil, err
	}
	objs, err := cl.List(c.Context, podsR, ns, client.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	// As kubectl: the pods the selector matches, owned or not; the one
	// most worth reading first (see byLogging), and a word on stderr when
	// there was a choice.
	pods := asPods(objs)
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pods of %s/%s found", strings.ToLower(r.Kind), name)
	}
	sort.SliceStable(pods, func(i, j int) bool { return byLogging(pods[i], pods[j]) })
	if len(pods) > 1 {
		fmt.Fprintf(e.stderr, "Found %d pods, using pod/%s\n", len(pods), pods[0].Name)
	}
	return pods[:1], nil
}

// byLogging orders the pods of an owner as kubectl picks the one whose
// logs it prints: scheduled first; Running, then Unknown, then Pending;
// ready first, and of two ready ones the one ready longer; more restarts
// first; then the older.
func byLogging(a, b *api.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName != ""
	}
	phase := func(p *api.Pod) int {
		// Other phases (Succeeded, Failed) count as Running, as kubectl's.
		switch p.Status.Phase {
		case api.PodUnknown:
			return 1
		case api.PodPending:
			return 2
		}
		return 0
	}
	if phase(a) != phase(b) {
		return phase(a) < phase(b)
	}
	ra, rb := api.PodReadyTime(a), api.PodReadyTime(b)
	if ra.IsZero() != rb.IsZero() {
		return !ra.IsZero()
	}
	if !ra.IsZero() && !ra.Equal(rb) {
		return ra.Before(rb)
	}
	if ca, cb := api.MaxContainerRestarts(a), api.MaxContainerRestarts(b); ca != cb {
		return ca > cb
	}
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		if ta.IsZero() || tb.IsZero() {
			return tb.IsZero()
		}
		return ta.Before(tb)
	}
	return false
}

func ownerSelector(obj api.Object) (string, error) {
	switch o := obj.(type) {
	case *api.ReplicaSet:
		sel, err := api.LabelSelectorAsSelector(o.Spec.Selector)
		if err != nil {
			return "", err
		}
		return sel.String(), nil
	case *api.ReplicationController:
		return api.SelectorFromSet(o.Spec.Selector).String(), nil
	}
	tm := obj.GetTypeMeta()
	return "", fmt.Errorf("cannot get the logs of a %s: it has no pods", tm.Kind)
}

func asPods(objs []api.Object) []*api.Pod {
	pods := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*api.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}

func containerNames(pod *api.Pod) string {
	names := make([]string, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// hasContainer reports whether pod has a container named name; kubectl
// checks it before it asks for the logs.
func hasContainer(pod *api.Pod, name string) bool {
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if c.Name == name {
			return true
		}
	}
	return false
}

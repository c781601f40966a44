package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/table"
)

// The annotations of a Deployment's rollouts, as the Deployment controller
// and kubectl name them.
const (
	revisionAnnotation        = "deployment.kubernetes.io/revision"
	revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	maxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	changeCauseAnnotation     = "kubernetes.io/change-cause"
	restartedAtAnnotation     = "kubectl.kubernetes.io/restartedAt"
	podTemplateHashLabel      = "pod-template-hash"
	progressDeadlineExceeded  = "ProgressDeadlineExceeded"
	deprecatedRollbackTo      = "deprecated.deployment.rollback.to"
)

var rolloutSubcommands = []string{"history", "pause", "restart", "resume", "status", "undo"}

func (e *environment) rolloutCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "rollout",
		Usage: "manage the rollout of Deployments: status, history, undo, restart, pause, resume",
		ArgsUsage: "SUBCOMMAND (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR | -f FILENAME)\n\n" +
			"   status   show the status of the rollout, following it until it is done (--watch=false: once;\n" +
			"            --timeout; --revision=N: fail if the running revision is not N)\n" +
			"   history  list the revisions and their change causes (--revision=N: that revision's pod template)\n" +
			"   undo     roll back to the previous revision (--to-revision=N: to revision N)\n" +
			"   restart  restart the pods, by a new revision\n" +
			"   pause    stop the rollouts of changes to the pod template\n" +
			"   resume   resume the rollouts",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (-l app=web,tier!=db)"},
			&ucli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Value: true, Usage: "status: follow the rollout until it is done"},
			&ucli.DurationFlag{Name: "timeout", Usage: "status: how long to follow the rollout (0: for ever)"},
			&ucli.Int64Flag{Name: "revision", Usage: "status: the revision to follow; history: the revision to show"},
			&ucli.Int64Flag{Name: "to-revision", Usage: "undo: the revision to roll back to (0: the previous one)"},
			&ucli.StringFlag{Name: "dry-run", Value: "none", Usage: "undo: none, client (print the template, change nothing) or server"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "yaml, json or name"},
		),
		Action: e.rollout,
	}
}

func (e *environment) rollout(c *ucli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return errors.New("a subcommand is required: " + strings.Join(rolloutSubcommands, ", ") +
			"\nSee 'wasmlet rollout --help' for usage.")
	}
	sub, args := args[0], args[1:]
	if !slices.Contains(rolloutSubcommands, sub) {
		return fmt.Errorf("unknown command %q\nSee 'wasmlet rollout -h' for help and examples", sub)
	}
	if len(args) == 0 && len(c.StringSlice("filename")) == 0 {
		return errors.New("required resource not specified")
	}
	out := c.String("output")
	switch out {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out)
	}
	switch sub {
	case "status":
		if r := c.Int64("revision"); r < 0 {
			return fmt.Errorf("revision must be a positive integer: %d", r)
		}
	case "history":
		if r := c.Int64("revision"); r < 0 {
			return fmt.Errorf("revision must be a positive integer: %d", r)
		}
	case "undo":
		switch c.String("dry-run") {
		case "none", "", "client", "server":
		default:
			return fmt.Errorf(`Invalid dry-run value (%s). Must be "none", "server", or "client".`, c.String("dry-run"))
		}
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	targets, err := e.rolloutTargets(c, cl, args)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		if sub != "history" && sub != "undo" {
			fmt.Fprintf(e.stderr, "No resources found in %s namespace.\n", namespace(c))
		}
		return nil
	}
	var errs []error
	for _, t := range targets {
		var err error
		switch sub {
		case "status":
			err = e.rolloutStatus(c, cl, t)
		case "history":
			err = e.rolloutHistory(c, cl, t)
		case "undo":
			err = e.rolloutUndo(c, cl, t)
		case "pause", "resume", "restart":
			err = e.rolloutPatch(c, cl, sub, t)
		}
		if err != nil {
			if sub == "status" || sub == "history" || sub == "undo" {
				// kubectl stops at the first object these fail on.
				return err
			}
			errs = append(errs, err)
		}
	}
	return e.aggregate(errs)
}

// rolloutTargets are the objects the arguments name, -f names, or a kind
// given without names lists (with -l, or all of them), as kubectl's
// rollout verbs read them.
func (e *environment) rolloutTargets(c *ucli.Context, cl nodeClient, args []string) ([]printTarget, error) {
	ns := namespace(c)
	if files := c.StringSlice("filename"); len(files) > 0 {
		manifests, err := e.loadManifests(files, c.Bool("recursive"), false)
		if err != nil {
			return nil, err
		}
		var out []printTarget
		for _, m := range manifests {
			obj, err := cl.Get(c.Context, m.resource, objectNamespace(m.resource, m.object, ns), m.object.GetObjectMeta().Name)
			if err != nil {
				return nil, err
			}
			out = append(out, printTarget{m.resource, obj})
		}
		return out, nil
	}
	refs, err := parseResourceArgs(args)
	if err != nil {
		return nil, err
	}
	selector := c.String("selector")
	var out []printTarget
	for _, ref := range refs {
		if len(ref.names) == 0 {
			list, err := cl.List(c.Context, ref.resource, scopedNamespace(ref.resource, ns), client.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, err
			}
			for _, o := range list {
				out = append(out, printTarget{ref.resource, o})
			}
			continue
		}
		if selector != "" {
			return nil, errors.New("selectors and the all flag cannot be used when passing resource/name arguments")
		}
		for _, name := range ref.names {
			obj, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if err != nil {
				return nil, err
			}
			out = append(out, printTarget{ref.resource, obj})
		}
	}
	return out, nil
}

// groupKind is kubectl's "Kind.group" of r.
func groupKind(r *api.ResourceInfo) string {
	if r.Group == "" {
		return r.Kind
	}
	return r.Kind + "." + r.Group
}

// groupResource is kubectl's "resource.group" of r.
func groupResource(r *api.ResourceInfo) string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// rolloutStatus follows the Deployment by a list and a watch of its name
// until its rollout is done (or once, with --watch=false), printing
// kubectl's line for each state it sees.
func (e *environment) rolloutStatus(c *ucli.Context, cl nodeClient, t printTarget) error {
	if t.resource.Kind != "Deployment" {
		return fmt.Errorf("no status viewer has been implemented for %s", groupKind(t.resource))
	}
	w, ok := cl.(watcher)
	if !ok {
		return errors.New("this client cannot watch")
	}
	ctx := c.Context
	if timeout := c.Duration("timeout"); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	timedOut := errors.New("timed out waiting for the condition")
	revision, follow := c.Int64("revision"), c.Bool("watch")
	meta := t.object.GetObjectMeta()
	opts := client.ListOptions{FieldSelector: "metadata.name=" + meta.Name}
	// seen reports whether the watch may end: the rollout is done, failed,
	// or was to be seen once.
	seen := func(obj api.Object) (bool, error) {
		d, ok := obj.(*api.Deployment)
		if !ok {
			return true, fmt.Errorf("unexpected object %T", obj)
		}
		msg, done, err := deploymentRolloutStatus(d, revision)
		if err != nil {
			return true, err
		}
		fmt.Fprint(e.stdout, msg)
		return done || !follow, nil
	}
	for {
		objs, rv, err := w.ListWithVersion(ctx, t.resource, meta.Namespace, opts)
		if ctx.Err() != nil {
			return timedOut
		}
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return errors.New("object has been deleted")
		}
		if end, err := seen(objs[0]); end || err != nil {
			return err
		}
		end, err := e.watchRollout(ctx, w, t.resource, meta.Namespace, opts, rv, seen)
		if ctx.Err() != nil {
			return timedOut
		}
		if end || err != nil {
			return err
		}
		// The node ended the watch: list again, as an informer would,
		// but not at once.
		select {
		case <-ctx.Done():
			return timedOut
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchRollout watches from rv, giving each change to seen until it ends
// the watch; false when the node ended it first.
func (e *environment) watchRollout(ctx context.Context, w watcher, r *api.ResourceInfo, ns string, opts client.ListOptions, rv string, seen func(api.Object) (bool, error)) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.ResourceVersion = rv
	events, err := w.Watch(ctx, r, ns, opts)
	if err != nil {
		return false, err
	}
	for ev := range events {
		switch {
		case ev.Err != nil:
			return false, nil
		case ev.Type == "DELETED":
			// A Deployment made again under the name is another one.
			return true, errors.New("object has been deleted")
		case ev.Type == "ADDED" || ev.Type == "MODIFIED":
			if end, err := seen(ev.Object); end || err != nil {
				return true, err
			}
		}
	}
	return false, nil
}

// deploymentRolloutStatus is kubectl's reading of a Deployment's rollout:
// the line to print, whether it is done, or why following it is over.
func deploymentRolloutStatus(d *api.Deployment, revision int64) (string, bool, error) {
	if revision > 0 {
		current, err := revisionOf(d.Annotations)
		if err != nil {
			return "", false, fmt.Errorf("cannot get the revision of deployment %q: %v", d.Name, err)
		}
		if revision != current {
			return "", false, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, current)
		}
	}
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == api.DeploymentProgressing && cond.Reason == progressDeadlineExceeded {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	st := d.Status
	switch {
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

// revisionOf is the revision annotation's number; 0 without one.
func revisionOf(annotations map[string]string) (int64, error) {
	v, ok := annotations[revisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// deploymentReplicaSets are the ReplicaSets the Deployment's selector
// picks and whose controller it is, oldest first, as kubectl finds them.
func deploymentReplicaSets(ctx context.Context, cl nodeClient, d *api.Deployment) ([]*api.ReplicaSet, error) {
	rsInfo, _ := api.LookupResource("replicasets")
	selector := ""
	if d.Spec.Selector != nil {
		selector = table.FormatLabelSelector(d.Spec.Selector)
		if selector == "<none>" {
			selector = ""
		}
	}
	list, err := cl.List(ctx, rsInfo, d.Namespace, client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []*api.ReplicaSet
	for _, o := range list {
		rs, ok := o.(*api.ReplicaSet)
		if !ok {
			continue
		}
		for _, ref := range rs.OwnerReferences {
			if ref.Controller != nil && *ref.Controller && ref.UID == d.UID {
				out = append(out, rs)
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *api.ReplicaSet) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// historyOf maps each revision to its ReplicaSet; a ReplicaSet whose
// revision annotation is not a number is left out, as kubectl leaves it.
func historyOf(sets []*api.ReplicaSet) map[int64]*api.ReplicaSet {
	h := map[int64]*api.ReplicaSet{}
	for _, rs := range sets {
		v, err := revisionOf(rs.Annotations)
		if err != nil {
			continue
		}
		h[v] = rs
	}
	return h
}

// rolloutHistory prints the Deployment's revisions and change causes, or
// one revision's pod template.
func (e *environment) rolloutHistory(c *ucli.Context, cl nodeClient, t printTarget) error {
	d, ok := t.object.(*api.Deployment)
	if !ok {
		return fmt.Errorf("no history viewer has been implemented for %q", groupKind(t.resource))
	}
	sets, err := deploymentReplicaSets(c.Context, cl, d)
	if err != nil {
		return fmt.Errorf("failed to retrieve replica sets from deployment %s: %s", d.Name, statusText(err))
	}
	history := historyOf(sets)
	revision := c.Int64("revision")
	if out := c.String("output"); out != "" {
		rsInfo, _ := api.LookupResource("replicasets")
		revs := slices.Sorted(maps.Keys(history))
		if revision > 0 {
			revs = []int64{revision}
		}
		for _, r := range revs {
			if rs := history[r]; rs != nil {
				if err := e.printChanged(rsInfo, rs, out, ""); err != nil {
					return err
				}
			}
		}
		return nil
	}
	name := kindName(t.resource, d.Name)
	if len(history) == 0 {
		fmt.Fprintf(e.stdout, "%s \nNo rollout history found.\n", name)
		return nil
	}
	if revision > 0 {
		rs, ok := history[revision]
		if !ok {
			return errors.New("unable to find the specified revision")
		}
		var b bytes.Buffer
		printers.DescribePodTemplate(&b, templateWithChangeCause(rs))
		fmt.Fprintf(e.stdout, "%s with revision #%d\n%s\n", name, revision, b.String())
		return nil
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "REVISION\tCHANGE-CAUSE\n")
	for _, r := range slices.Sorted(maps.Keys(history)) {
		cause := history[r].Annotations[changeCauseAnnotation]
		if cause == "" {
			cause = "<none>"
		}
		fmt.Fprintf(tw, "%d\t%s\n", r, cause)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%s \n%s\n", name, b.String())
	return nil
}

// templateWithChangeCause is rs's template with the change cause of rs
// among its annotations, as kubectl shows a revision.
func templateWithChangeCause(rs *api.ReplicaSet) *api.PodTemplateSpec {
	t := rs.Spec.Template.DeepCopy()
	if cause := rs.Annotations[changeCauseAnnotation]; cause != "" {
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[changeCauseAnnotation] = cause
	}
	return t
}

// rollbackSkippedAnnotations stay the Deployment's own in a rollback; the
// others are the chosen ReplicaSet's.
var rollbackSkippedAnnotations = map[string]bool{
	lastAppliedAnnotation:     true,
	revisionAnnotation:        true,
	revisionHistoryAnnotation: true,
	desiredReplicasAnnotation: true,
	maxReplicasAnnotation:     true,
	deprecatedRollbackTo:      true,
}

// rolloutUndo rolls the Deployment back as kubectl does, on the client: the
// chosen revision's template (without its pod-template-hash label) and
// annotations replace the Deployment's by a JSON patch.
func (e *environment) rolloutUndo(c *ucli.Context, cl nodeClient, t printTarget) error {
	d, ok := t.object.(*api.Deployment)
	if !ok {
		return fmt.Errorf("no rollbacker has been implemented for %q", groupKind(t.resource))
	}
	toRevision := c.Int64("to-revision")
	if toRevision < 0 {
		return fmt.Errorf("unable to find specified revision %d in history", toRevision)
	}
	dryRun, out := c.String("dry-run"), c.String("output")
	// kubectl reads the Deployment again before it rolls it back.
	obj, err := cl.Get(c.Context, t.resource, d.Namespace, d.Name)
	if err != nil {
		return fmt.Errorf("failed to retrieve Deployment %s: %s", d.Name, statusText(err))
	}
	d = obj.(*api.Deployment)
	sets, err := deploymentReplicaSets(c.Context, cl, d)
	if err != nil {
		return fmt.Errorf("failed to retrieve replica sets from deployment %s: %s", d.Name, statusText(err))
	}
	rs, err := revisionToRollBackTo(d, sets, toRevision)
	if err != nil {
		return err
	}
	if dryRun == "client" {
		var b bytes.Buffer
		printers.DescribePodTemplate(&b, &rs.Spec.Template)
		return e.printChanged(t.resource, t.object, out, b.String()+" (dry run)")
	}
	if d.Spec.Paused {
		return errors.New("you cannot rollback a paused deployment; resume it first with 'wasmlet rollout resume' and try again")
	}
	template := rs.Spec.Template.DeepCopy()
	delete(template.Labels, podTemplateHashLabel)
	if equalTemplates(template, &d.Spec.Template) {
		return e.printChanged(t.resource, t.object, out, fmt.Sprintf("skipped rollback (current template already matches revision %d)", toRevision))
	}
	annotations := map[string]string{}
	for k := range rollbackSkippedAnnotations {
		if v, ok := d.Annotations[k]; ok {
			annotations[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !rollbackSkippedAnnotations[k] {
			annotations[k] = v
		}
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": template},
		{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	})
	if err != nil {
		return err
	}
	suffix := ""
	if dryRun == "server" {
		suffix = " (server dry run)"
	}
	if _, err := cl.PatchWith(c.Context, t.resource, d.Namespace, d.Name, client.JSONPatch, patch, client.WriteOptions{DryRun: dryRun == "server"}); err != nil {
		return fmt.Errorf("failed restoring revision %d: %s", toRevision, statusText(err))
	}
	return e.printChanged(t.resource, t.object, out, "rolled back"+suffix)
}

// revisionToRollBackTo is the ReplicaSet of toRevision, or for 0 the one
// of the revision before the newest.
func revisionToRollBackTo(d *api.Deployment, sets []*api.ReplicaSet, toRevision int64) (*api.ReplicaSet, error) {
	var latest, previous *api.ReplicaSet
	latestRev, previousRev := int64(-1), int64(-1)
	for _, rs := range sets {
		v, err := revisionOf(rs.Annotations)
		if err != nil {
			continue
		}
		switch {
		case toRevision > 0:
			if v == toRevision {
				return rs, nil
			}
		case v > latestRev:
			previous, previousRev = latest, latestRev
			latest, latestRev = rs, v
		case v > previousRev:
			previous, previousRev = rs, v
		}
	}
	if toRevision > 0 {
		return nil, fmt.Errorf("unable to find specified revision %d in history", toRevision)
	}
	if previous == nil {
		return nil, fmt.Errorf("no rollout history found for deployment %q", d.Name)
	}
	return previous, nil
}

// equalTemplates compares two pod templates without their pod-template-hash
// labels, an empty map or list equal to none.
func equalTemplates(a, b *api.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, podTemplateHashLabel)
	delete(b.Labels, podTemplateHashLabel)
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ma, err1 := toMap(ja)
	mb, err2 := toMap(jb)
	return err1 == nil && err2 == nil && jsonEqual(pruneEmpty(ma), pruneEmpty(mb))
}

// pruneEmpty drops empty maps and lists and nulls, recursively.
func pruneEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			x = pruneEmpty(x)
			switch y := x.(type) {
			case nil:
				continue
			case map[string]any:
				if len(y) == 0 {
					continue
				}
			case []any:
				if len(y) == 0 {
					continue
				}
			}
			out[k] = x
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = pruneEmpty(x)
		}
		return out
	}
	return v
}

// rolloutPatch is pause, resume and restart: a strategic merge patch of
// spec.paused or of the template's restartedAt annotation.
func (e *environment) rolloutPatch(c *ucli.Context, cl nodeClient, sub string, t printTarget) error {
	meta := t.object.GetObjectMeta()
	fail := func(why string) error {
		return fmt.Errorf("error: %s %q %s", groupResource(t.resource), meta.Name, why)
	}
	d, ok := t.object.(*api.Deployment)
	if !ok {
		return fail(map[string]string{"pause": "pausing", "resume": "resuming", "restart": "restarting"}[sub] + " is not supported")
	}
	var patch map[string]any
	word := sub + "d"
	switch sub {
	case "pause":
		if d.Spec.Paused {
			return fail("is already paused")
		}
		patch = map[string]any{"spec": map[string]any{"paused": true}}
	case "resume":
		if !d.Spec.Paused {
			return fail("is not paused")
		}
		patch = map[string]any{"spec": map[string]any{"paused": nil}}
	case "restart":
		if d.Spec.Paused {
			return fail("can't restart paused deployment (run rollout resume first)")
		}
		now := e.now().Format(time.RFC3339)
		if d.Spec.Template.Annotations[restartedAtAnnotation] == now {
			return fmt.Errorf("failed to create patch for %s: if restart has already been triggered within the past second, please wait before attempting to trigger another", d.Name)
		}
		patch = map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{restartedAtAnnotation: now}}}}}
		word = "restarted"
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	obj, err := cl.Patch(c.Context, t.resource, meta.Namespace, meta.Name, client.StrategicMergePatch, data)
	if err != nil {
		return fmt.Errorf("failed to patch: %s", statusText(err))
	}
	return e.printChanged(t.resource, obj, c.String("output"), word)
}

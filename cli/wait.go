package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
)

func (e *environment) waitCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "wait",
		Usage:     "wait for a condition of one or many objects: wait --for=condition=Ready pod/myweb",
		ArgsUsage: "([-f FILENAME] | TYPE/NAME | TYPE [(-l SELECTOR | --all)]) [--for=delete|--for=condition=NAME[=VALUE]|--for=jsonpath='{PATH}'[=VALUE]]",
		Description: "Waits until every object named has the condition in its status (--for=condition=Ready, " +
			"--for=condition=Ready=false; names and values compare without regard to case), has a field of the value " +
			"(--for=jsonpath='{.status.phase}'=Running; without =VALUE, any value), or is gone (--for=delete). " +
			"Prints `pod/NAME condition met` for each; after --timeout, fails with `timed out waiting for the condition on pods/NAME`.",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "for", Usage: "the condition to wait on: delete|condition=NAME[=VALUE]|jsonpath='{PATH}'[=VALUE]; VALUE defaults to true"},
			&ucli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "how long to wait before giving up; 0 checks once, a negative value waits for a week"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector of the objects to wait for (app=web, app!=web, app in (a,b))"},
			&ucli.BoolFlag{Name: "all", Usage: "every object of the type in the namespace"},
			allNamespacesFlag,
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file or directory with the objects to wait for"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
		),
		Action: e.wait,
	}
}

// waitCondition is a --for: whether an object meets it.
type waitCondition struct {
	deleted bool
	// met says whether the object (never nil) meets a condition= or
	// jsonpath= condition.
	met func(obj api.Object) (bool, error)
}

// parseWaitFor reads --for as kubectl does.
func parseWaitFor(s string) (waitCondition, error) {
	if strings.EqualFold(s, "delete") {
		return waitCondition{deleted: true}, nil
	}
	if rest, ok := strings.CutPrefix(s, "condition="); ok {
		name, value, found := strings.Cut(rest, "=")
		if !found {
			value = "true"
		}
		return waitCondition{met: func(obj api.Object) (bool, error) { return conditionMet(obj, name, value) }}, nil
	}
	if rest, ok := strings.CutPrefix(s, "jsonpath="); ok {
		return parseJSONPathWait(rest)
	}
	return waitCondition{}, fmt.Errorf("unrecognized condition: %q", s)
}

// conditionMet is true when the object's status has a condition of type
// name (in any case) whose status is value (in any case), and the
// condition is not older than the object's spec.
func conditionMet(obj api.Object, name, value string) (bool, error) {
	g, err := printers.Generic(obj)
	if err != nil {
		return false, err
	}
	m, _ := g.(map[string]any)
	status, _ := m["status"].(map[string]any)
	conditions, _ := status["conditions"].([]any)
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		typ, _ := cond["type"].(string)
		st, ok := cond["status"].(string)
		if !ok || !strings.EqualFold(typ, name) {
			continue
		}
		if gen, ok := number(obj.GetObjectMeta().Generation); ok {
			observed, found := number(cond["observedGeneration"])
			if !found {
				observed, found = number(status["observedGeneration"])
			}
			if found && observed < gen {
				return false, nil
			}
		}
		return strings.EqualFold(st, value), nil
	}
	return false, nil
}

// number reads an int64 or a JSON number of the generic form; a zero
// generation counts as absent.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, n != 0
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// parseJSONPathWait reads `{PATH}` or `{PATH}=VALUE` (the braces may be
// left out, as with kubectl).
func parseJSONPathWait(s string) (waitCondition, error) {
	formatErr := errors.New("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'")
	var expr, rest string
	if strings.HasPrefix(s, "{") {
		end := strings.Index(s, "}")
		if end < 0 {
			return waitCondition{}, formatErr
		}
		expr, rest = s[:end+1], s[end+1:]
	} else {
		var found bool
		expr, rest, found = strings.Cut(s, "=")
		if found {
			rest = "=" + rest
		}
	}
	matchAny := rest == ""
	value, ok := strings.CutPrefix(rest, "=")
	if !matchAny && !ok {
		return waitCondition{}, formatErr
	}
	if !matchAny && value == "" {
		return waitCondition{}, errors.New("jsonpath wait has to have a value after equal sign, like --for=jsonpath='{.status.readyReplicas}'=3")
	}
	value = strings.Trim(value, `'"`)
	relaxed, err := printers.RelaxedJSONPath(expr)
	if err != nil {
		return waitCondition{}, err
	}
	jp, err := printers.ParseJSONPath(relaxed)
	if err != nil {
		return waitCondition{}, err
	}
	return waitCondition{met: func(obj api.Object) (bool, error) {
		g, err := printers.Generic(obj)
		if err != nil {
			return false, err
		}
		results, err := jp.FindResults(g)
		if err != nil {
			return false, err
		}
		if len(results) == 0 || len(results[0]) == 0 {
			return false, nil
		}
		if len(results) > 1 {
			return false, errors.New("given jsonpath expression matches more than one list")
		}
		if len(results[0]) > 1 {
			return false, errors.New("given jsonpath expression matches more than one value")
		}
		if matchAny {
			return true, nil
		}
		switch results[0][0].(type) {
		case map[string]any, []any:
			return false, errors.New("jsonpath leads to a nested object or list which is not supported")
		}
		return strings.TrimSpace(fmt.Sprint(results[0][0])) == strings.TrimSpace(value), nil
	}}, nil
}

// waitTarget is one object wait waits for; err is set for a named
// object that is not there, told in its turn.
type waitTarget struct {
	resource  *api.ResourceInfo
	namespace string
	name      string
	err       error
}

// wait is `kubectl wait`: the objects are found first (a selector or
// --all picks them once, at the start), then waited for one after the
// other under one timeout, each with a watch of its name.
func (e *environment) wait(c *ucli.Context) error {
	cond, err := parseWaitFor(c.String("for"))
	if err != nil {
		return err
	}
	timeout := c.Duration("timeout")
	if timeout < 0 {
		timeout = 168 * time.Hour
	}
	refs, err := e.findTargets(c, c.Args().Slice(), c.StringSlice("filename"))
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return errors.New("you must specify the type of resource to wait for, e.g. 'wasmlet wait --for=condition=Ready pod/myweb'")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	w, ok := cl.(watcher)
	if !ok {
		return errors.New("this client cannot watch")
	}
	targets, err := e.waitTargets(c, cl, refs, cond.deleted)
	if err != nil {
		return err
	}
	if len(targets) == 0 && !cond.deleted {
		return errors.New("no matching resources found")
	}
	ctx := c.Context
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// As kubectl's, each object is waited for even when one before it
	// failed (under the same timeout), and the errors are told at the end.
	var errs []error
	for _, t := range targets {
		if t.err != nil {
			errs = append(errs, t.err)
			continue
		}
		if err := waitForObject(ctx, w, t, cond, timeout == 0); err != nil {
			if c.Context.Err() != nil {
				return exitError{1}
			}
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.stdout, "%s condition met\n", kindName(t.resource, t.name))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	// Several errors are one line each, without kubectl's "error: ".
	for _, err := range errs {
		msg := formatError(err)
		var st *api.Status
		if !errors.As(err, &st) {
			msg = err.Error()
		}
		fmt.Fprintln(e.stderr, msg)
	}
	return exitError{1}
}

// waitTargets lists the objects of refs. A named object that does not
// exist is an error of its own (the others are still waited for), except
// when waiting for its deletion.
func (e *environment) waitTargets(c *ucli.Context, cl nodeClient, refs []resourceRef, deleted bool) ([]waitTarget, error) {
	ns := namespace(c)
	var out []waitTarget
	for _, ref := range refs {
		if len(ref.names) == 0 {
			list, err := listRef(c, cl, ref.resource, c.String("selector"))
			if err != nil {
				return nil, err
			}
			for _, o := range list {
				m := o.GetObjectMeta()
				out = append(out, waitTarget{resource: ref.resource, namespace: m.Namespace, name: m.Name})
			}
			continue
		}
		for _, name := range ref.names {
			_, err := cl.Get(c.Context, ref.resource, scopedNamespace(ref.resource, ns), name)
			if deleted && api.IsNotFound(err) {
				continue
			}
			t := waitTarget{resource: ref.resource, namespace: scopedNamespace(ref.resource, ns), name: name}
			if api.IsNotFound(err) {
				t.err = err
			} else if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// waitForObject waits until t meets cond or ctx ends: a list of t's name, then a
// watch from the list's version, listed and watched again when the watch
// ends or breaks. once checks the list only (--timeout=0).
func waitForObject(ctx context.Context, w watcher, t waitTarget, cond waitCondition, once bool) error {
	timedOut := fmt.Errorf("timed out waiting for the condition on %s/%s", t.resource.Resource, t.name)
	opts := client.ListOptions{FieldSelector: "metadata.name=" + t.name}
	met := func(obj api.Object) (bool, error) {
		if obj == nil {
			return cond.deleted, nil
		}
		if cond.deleted {
			return false, nil
		}
		return cond.met(obj)
	}
	for {
		objs, rv, err := w.ListWithVersion(ctx, t.resource, t.namespace, opts)
		if ctx.Err() != nil {
			return timedOut
		}
		if err != nil {
			return err
		}
		var obj api.Object
		if len(objs) > 0 {
			obj = objs[0]
		}
		if obj == nil && !cond.deleted {
			return api.NewNotFound(t.resource.Group, t.resource.Resource, t.name)
		}
		if ok, err := met(obj); ok || err != nil {
			return err
		}
		if once {
			return fmt.Errorf("condition not met for %s/%s", t.resource.Resource, t.name)
		}
		done, err := watchUntil(ctx, w, t, opts, rv, cond.deleted, met)
		if ctx.Err() != nil {
			return timedOut
		}
		if done || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return timedOut
		}
		// Not at once: a node that ends every watch must not be hammered.
		select {
		case <-ctx.Done():
			return timedOut
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchUntil watches t's name from version rv until met accepts a change
// (done), t is deleted when waiting for that (done), or the watch ends.
func watchUntil(ctx context.Context, w watcher, t waitTarget, opts client.ListOptions, rv string, deleted bool, met func(api.Object) (bool, error)) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.ResourceVersion = rv
	events, err := w.Watch(ctx, t.resource, t.namespace, opts)
	if err != nil {
		return false, err
	}
	for ev := range events {
		switch {
		case ev.Err != nil:
			// An expired version or a broken stream: the caller lists again.
			return false, nil
		case ev.Object == nil:
		case ev.Type == "DELETED":
			if deleted {
				return true, nil
			}
		default:
			if ok, err := met(ev.Object); ok || err != nil {
				return ok, err
			}
		}
	}
	return false, nil
}

package wasmlet

import (
	"context"
	"fmt"
	"reflect"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/registry"
	"github.com/wasmlet/wasmlet/store"
)

// ListOptions select objects as kubectl's -l and --field-selector do.
type ListOptions struct {
	// LabelSelector in kubectl's syntax ("app=web,tier!=db"); "" selects
	// everything.
	LabelSelector string
	// FieldSelector ("status.phase=Running"); "" selects everything.
	FieldSelector string
	// ResourceVersion: for Watch, the version after which changes are
	// sent; "" first sends the current objects as Added.
	ResourceVersion string
}

// DeleteOptions are Kubernetes' DeleteOptions.
type DeleteOptions struct {
	// GracePeriodSeconds: nil uses the object's own (a pod's
	// terminationGracePeriodSeconds); 0 deletes at once.
	GracePeriodSeconds *int64
	// PropagationPolicy: "Background" (the default), "Foreground" or
	// "Orphan".
	PropagationPolicy string
}

// PatchType names the patch formats of Patch.
type PatchType = registry.PatchType

// The patch formats, as their HTTP content types name them.
const (
	JSONPatch           = registry.JSONPatch
	MergePatch          = registry.MergePatch
	StrategicMergePatch = registry.StrategicMergePatch
)

// WatchEvent is one change seen by Watch.
type WatchEvent[T api.Object] struct {
	// Type is "ADDED", "MODIFIED", "DELETED" or "ERROR".
	Type string
	// Object is the object after the change (before it, for DELETED).
	Object T
	// Err is set for an ERROR event, which ends the watch (for example 410
	// Expired: list again).
	Err error
}

// resourceOf returns the kind of T, which must be a pointer to one of the
// api package's object types.
func resourceOf[T api.Object]() (*api.ResourceInfo, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("wasmlet: %s is not a pointer to an api object type", t)
	}
	obj, ok := reflect.New(t.Elem()).Interface().(api.Object)
	if !ok {
		return nil, fmt.Errorf("wasmlet: %s is not an api object type", t)
	}
	r, ok := api.ResourceOf(obj)
	if !ok {
		return nil, fmt.Errorf("wasmlet: %s is not a kind the node serves", t)
	}
	return r, nil
}

func typed[T api.Object](obj api.Object, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("wasmlet: the node returned a %T, not a %T", obj, zero)
	}
	return t, nil
}

// Create stores a new object, defaulted and validated as the HTTP API does,
// and returns it as stored. An invalid object is an *api.Status with reason
// Invalid listing every bad field; an existing name is AlreadyExists.
func Create[T api.Object](ctx context.Context, n *Node, obj T) (T, error) {
	out, err := n.reg.Create(ctx, obj)
	return typed[T](out, err)
}

// Get returns one object; a missing one is an *api.Status with reason
// NotFound (api.IsNotFound). namespace is ignored for cluster-scoped kinds.
func Get[T api.Object](ctx context.Context, n *Node, namespace, name string) (T, error) {
	r, err := resourceOf[T]()
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := n.reg.Get(ctx, r, namespace, name)
	return typed[T](out, err)
}

// List returns the objects of a namespace ("" for every namespace) that the
// selectors match, sorted by namespace and name.
func List[T api.Object](ctx context.Context, n *Node, namespace string, opts ListOptions) ([]T, error) {
	r, err := resourceOf[T]()
	if err != nil {
		return nil, err
	}
	so, err := storeListOptions(opts)
	if err != nil {
		return nil, err
	}
	objs, err := n.reg.List(ctx, r, namespace, so)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		t, err := typed[T](o, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Update replaces an object's spec and metadata; its resourceVersion must be
// the stored one (otherwise Conflict: Get it again and retry). The status is
// the node's and is kept.
func Update[T api.Object](ctx context.Context, n *Node, obj T) (T, error) {
	out, err := n.reg.Update(ctx, obj)
	return typed[T](out, err)
}

// UpdateStatus replaces an object's status, as a controller does.
func UpdateStatus[T api.Object](ctx context.Context, n *Node, obj T) (T, error) {
	out, err := n.reg.UpdateStatus(ctx, obj)
	return typed[T](out, err)
}

// Patch changes an object by a JSON patch, a JSON merge patch or a
// strategic merge patch (Kubernetes' merge keys: containers by name, ...).
func Patch[T api.Object](ctx context.Context, n *Node, namespace, name string, pt PatchType, data []byte) (T, error) {
	r, err := resourceOf[T]()
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := n.reg.Patch(ctx, r, namespace, name, pt, data)
	return typed[T](out, err)
}

// Delete deletes an object. A pod is first marked with a deletion timestamp
// and terminates gracefully; an owner's dependents are deleted by the
// garbage collector as opts.PropagationPolicy says.
func Delete[T api.Object](ctx context.Context, n *Node, namespace, name string, opts DeleteOptions) error {
	r, err := resourceOf[T]()
	if err != nil {
		return err
	}
	_, err = n.reg.Delete(ctx, r, namespace, name, store.DeleteOptions{
		GracePeriodSeconds: opts.GracePeriodSeconds,
		PropagationPolicy:  opts.PropagationPolicy,
	})
	return err
}

// Watch sends the changes of the objects that opts select, until ctx ends
// or an ERROR event ends it; then the channel is closed.
func Watch[T api.Object](ctx context.Context, n *Node, namespace string, opts ListOptions) (<-chan WatchEvent[T], error) {
	r, err := resourceOf[T]()
	if err != nil {
		return nil, err
	}
	so, err := storeListOptions(opts)
	if err != nil {
		return nil, err
	}
	w, err := n.reg.Watch(ctx, r, namespace, so)
	if err != nil {
		return nil, err
	}
	out := make(chan WatchEvent[T])
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				we := WatchEvent[T]{Type: string(ev.Type)}
				if ev.Type == store.Error {
					if st, ok := ev.Object.(*api.Status); ok {
						we.Err = st
					} else {
						we.Err = fmt.Errorf("wasmlet: watch ended")
					}
				} else if t, ok := ev.Object.(T); ok {
					we.Object = t
				} else {
					continue
				}
				select {
				case out <- we:
				case <-ctx.Done():
					return
				}
				if we.Err != nil {
					return
				}
			}
		}
	}()
	return out, nil
}

func storeListOptions(opts ListOptions) (store.ListOptions, error) {
	so := store.ListOptions{ResourceVersion: opts.ResourceVersion}
	if opts.LabelSelector != "" {
		sel, err := api.ParseSelector(opts.LabelSelector)
		if err != nil {
			return so, api.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		so.LabelSelector = sel
	}
	if opts.FieldSelector != "" {
		sel, err := api.ParseFieldSelector(opts.FieldSelector)
		if err != nil {
			return so, api.NewBadRequest(err.Error())
		}
		so.FieldSelector = sel
	}
	return so, nil
}

package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// delete is Kubernetes' registry delete (rest.BeforeDelete, the garbage
// collection finalizers, updateForGracefulDeletionAndFinalizers) in one
// transaction.
func (w *txnWriter) delete(r *api.ResourceInfo, namespace, name string, opts DeleteOptions) (api.Object, bool, error) {
	cur, curRaw, err := getObject(w.s.reads, w.txn, r, namespace, name)
	if err != nil {
		return nil, false, err
	}
	if err := checkPreconditions(r, cur, opts); err != nil {
		return nil, false, err
	}
	if err := checkPropagation(opts.PropagationPolicy); err != nil {
		return nil, false, err
	}
	next := cur.DeepCopyObject()
	nm := next.GetObjectMeta()
	var grace *int64
	if opts.GracePeriodSeconds != nil {
		g := *opts.GracePeriodSeconds
		if g < 0 {
			g = 1 // Kubernetes treats a negative grace period as 1s
		}
		grace = &g
	}
	graceful, pending := w.beforeDelete(r, next, curRaw, &grace)
	if pending {
		return cur, false, nil
	}
	fins, changed := gcFinalizers(nm.Finalizers, opts.PropagationPolicy)
	if !graceful && !changed && len(nm.Finalizers) == 0 {
		out, err := w.remove(r, cur)
		return out, err == nil, err
	}
	nm.Finalizers = fins
	if !graceful {
		if len(fins) == 0 {
			out, err := w.remove(r, next)
			return out, err == nil, err
		}
		zero := int64(0)
		nm.DeletionGracePeriodSeconds = &zero
		if nm.DeletionTimestamp == nil {
			nm.DeletionTimestamp = api.NewTimePtr(w.s.now())
		}
		out, err := w.putIfChanged(r, next, cur, curRaw)
		return out, false, err
	}
	out, err := w.putIfChanged(r, next, cur, curRaw)
	if err != nil {
		return nil, false, err
	}
	if len(fins) > 0 || *grace > 0 {
		return out, false, nil
	}
	// A grace period of 0: written with its deletionTimestamp, then gone,
	// in the same transaction.
	gone, err := w.remove(r, out)
	return gone, err == nil, err
}

func checkPreconditions(r *api.ResourceInfo, cur api.Object, opts DeleteOptions) error {
	m := cur.GetObjectMeta()
	if opts.UID != "" && opts.UID != m.UID {
		return api.NewConflict(r.Group, r.Resource, m.Name,
			fmt.Sprintf("Precondition failed: UID in precondition: %v, UID in object meta: %v", opts.UID, m.UID))
	}
	if opts.ResourceVersion != "" && opts.ResourceVersion != m.ResourceVersion {
		return api.NewConflict(r.Group, r.Resource, m.Name,
			fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", opts.ResourceVersion, m.ResourceVersion))
	}
	return nil
}

func checkPropagation(p string) error {
	switch p {
	case "", PropagationBackground, PropagationForeground, PropagationOrphan:
		return nil
	}
	return api.NewInvalid("meta.k8s.io", "DeleteOptions", "", api.ErrorList{
		api.NotSupported("propagationPolicy", p, []string{PropagationForeground, PropagationBackground, PropagationOrphan})})
}

// podDeletionFields are what a pod's graceful deletion depends on.
type podDeletionFields struct {
	Spec struct {
		NodeName                      string `json:"nodeName"`
		TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

// beforeDelete is Kubernetes' rest.BeforeDelete with the pod strategy's
// CheckGracefulDelete: only pods are deleted gracefully. It edits obj's
// deletionTimestamp, deletionGracePeriodSeconds and generation, and sets
// *grace to the grace period in force. pending means a graceful deletion
// is already under way and this call changes nothing.
func (w *txnWriter) beforeDelete(r *api.ResourceInfo, obj api.Object, raw []byte, grace **int64) (graceful, pending bool) {
	m := obj.GetObjectMeta()
	if m.DeletionGracePeriodSeconds != nil && *m.DeletionGracePeriodSeconds < 0 {
		one := int64(1)
		m.DeletionGracePeriodSeconds = &one
	}
	if !isPods(r) {
		return false, false
	}
	now := w.s.now()
	if m.DeletionTimestamp != nil {
		if m.DeletionGracePeriodSeconds == nil || *m.DeletionGracePeriodSeconds == 0 {
			return false, false
		}
		if *grace == nil {
			return false, true
		}
		period := **grace
		if period >= *m.DeletionGracePeriodSeconds {
			return false, true
		}
		// Only a shorter grace period is taken: the deadline moves earlier,
		// but never into the past.
		ts := m.DeletionTimestamp.Add(time.Duration(period-*m.DeletionGracePeriodSeconds) * time.Second)
		if ts.Before(now) {
			ts = now
		}
		m.DeletionTimestamp = api.NewTimePtr(ts)
		m.DeletionGracePeriodSeconds = &period
		return true, false
	}
	var pod podDeletionFields
	_ = json.Unmarshal(raw, &pod) // missing fields mean an immediate deletion
	period := int64(0)
	switch {
	case *grace != nil:
		period = **grace
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == "Succeeded" || pod.Status.Phase == "Failed" {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	*grace = &period
	m.DeletionTimestamp = api.NewTimePtr(now.Add(time.Duration(period) * time.Second))
	m.DeletionGracePeriodSeconds = &period
	if m.Generation > 0 {
		m.Generation++
	}
	return true, false
}

// gcFinalizers is Kubernetes' deletionFinalizersForGarbageCollection: the
// propagation policy decides between the "orphan" and "foregroundDeletion"
// finalizers; with no policy the object's own choice stands (background
// otherwise). It reports whether the set changed.
func gcFinalizers(fins []string, policy string) ([]string, bool) {
	orphan, foreground := false, false
	switch policy {
	case PropagationOrphan:
		orphan = true
	case PropagationForeground:
		foreground = true
	case PropagationBackground:
	default:
		for _, f := range fins {
			if f == FinalizerOrphanDependents {
				orphan = true
				break
			}
			if f == FinalizerDeleteDependents {
				foreground = true
				break
			}
		}
	}
	out := make([]string, 0, len(fins)+1)
	for _, f := range fins {
		if f != FinalizerOrphanDependents && f != FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, FinalizerDeleteDependents)
	}
	if sameSet(fins, out) {
		return fins, false
	}
	return out, true
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

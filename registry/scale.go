package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// The autoscaling/v1 Scale subresource of Deployments, ReplicaSets and
// ReplicationControllers.

// HasScale reports whether res has a /scale subresource.
func HasScale(res *api.ResourceInfo) bool {
	return res.Kind == "ReplicaSet" || res.Kind == "ReplicationController" || res.Kind == "Deployment"
}

// GetScale returns the Scale of a ReplicaSet or ReplicationController.
func (r *Registry) GetScale(ctx context.Context, res *api.ResourceInfo, namespace, name string) (*api.Scale, error) {
	if !HasScale(res) {
		return nil, api.NewNotFound(res.Group, res.Resource+"/scale", name)
	}
	obj, err := r.Get(ctx, res, namespace, name)
	if err != nil {
		return nil, err
	}
	return scaleOf(obj)
}

// UpdateScale sets spec.replicas of a ReplicaSet or ReplicationController
// from s. A resourceVersion in s must be the object's.
func (r *Registry) UpdateScale(ctx context.Context, res *api.ResourceInfo, namespace, name string, s *api.Scale) (*api.Scale, error) {
	return r.UpdateScaleWith(ctx, res, namespace, name, s, WriteOptions{})
}

// UpdateScaleWith is UpdateScale with options.
func (r *Registry) UpdateScaleWith(ctx context.Context, res *api.ResourceInfo, namespace, name string, s *api.Scale, opts WriteOptions) (*api.Scale, error) {
	if !HasScale(res) {
		return nil, api.NewNotFound(res.Group, res.Resource+"/scale", name)
	}
	if s.Name != "" && s.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", s.Name, name))
	}
	if s.Spec.Replicas < 0 {
		return nil, api.NewInvalid("autoscaling", "Scale", name, api.ErrorList{
			api.Invalid("spec.replicas", int64(s.Spec.Replicas), "must be greater than or equal to 0")})
	}
	ns := namespaceOf(res, namespace)
	out, err := r.guaranteedUpdate(ctx, res, ns, name, opts, func(cur api.Object) (api.Object, error) {
		if err := checkPreconditions(res, cur, s.UID, s.ResourceVersion); err != nil {
			return nil, err
		}
		next := cur.DeepCopyObject()
		n := s.Spec.Replicas
		switch o := next.(type) {
		case *api.ReplicaSet:
			o.Spec.Replicas = &n
		case *api.ReplicationController:
			o.Spec.Replicas = &n
		case *api.Deployment:
			o.Spec.Replicas = &n
		}
		return r.prepareUpdate(res, next, cur)
	})
	if err != nil {
		return nil, err
	}
	return scaleOf(out)
}

// PatchScale applies a patch to the Scale of a ReplicaSet or
// ReplicationController, as `kubectl scale` sends it.
func (r *Registry) PatchScale(ctx context.Context, res *api.ResourceInfo, namespace, name string, pt PatchType, data []byte, opts WriteOptions) (*api.Scale, error) {
	if err := checkPatchType(pt); err != nil {
		return nil, err
	}
	cur, err := r.GetScale(ctx, res, namespace, name)
	if err != nil {
		return nil, err
	}
	m, err := toMap(cur)
	if err != nil {
		return nil, err
	}
	patched, err := applyPatch(m, pt, data, "Scale")
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(patched)
	if err != nil {
		return nil, api.NewBadRequest(err.Error())
	}
	var s api.Scale
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("unable to decode the patched Scale: %v", err))
	}
	// The patch was made against this resourceVersion: a change in between
	// is a conflict, not something to overwrite.
	if s.ResourceVersion == "" {
		s.ResourceVersion = cur.ResourceVersion
	}
	return r.UpdateScaleWith(ctx, res, namespace, name, &s, opts)
}

// scaleOf is the Scale of a ReplicaSet or ReplicationController.
func scaleOf(obj api.Object) (*api.Scale, error) {
	m := obj.GetObjectMeta()
	s := &api.Scale{TypeMeta: api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"}}
	s.Name, s.Namespace, s.UID = m.Name, m.Namespace, m.UID
	s.ResourceVersion = m.ResourceVersion
	s.CreationTimestamp = m.CreationTimestamp
	switch o := obj.(type) {
	case *api.ReplicaSet:
		s.Spec.Replicas = replicasOf(o.Spec.Replicas)
		s.Status.Replicas = o.Status.Replicas
		s.Status.Selector = formatLabelSelector(o.Spec.Selector)
	case *api.ReplicationController:
		s.Spec.Replicas = replicasOf(o.Spec.Replicas)
		s.Status.Replicas = o.Status.Replicas
		s.Status.Selector = formatMapSelector(o.Spec.Selector)
	case *api.Deployment:
		s.Spec.Replicas = replicasOf(o.Spec.Replicas)
		s.Status.Replicas = o.Status.Replicas
		s.Status.Selector = formatLabelSelector(o.Spec.Selector)
	default:
		return nil, api.NewInternalError(fmt.Errorf("%T has no scale", obj))
	}
	return s, nil
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// formatMapSelector is an equality selector in `-l` syntax, keys sorted.
func formatMapSelector(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// formatLabelSelector is a LabelSelector in `-l` syntax, as Kubernetes'
// LabelSelectorAsSelector(...).String() writes it: requirements sorted by
// key, values sorted.
func formatLabelSelector(sel *api.LabelSelector) string {
	if sel == nil {
		return ""
	}
	type req struct{ key, text string }
	var reqs []req
	for k, v := range sel.MatchLabels {
		reqs = append(reqs, req{k, k + "=" + v})
	}
	for _, e := range sel.MatchExpressions {
		vals := slices.Sorted(slices.Values(e.Values))
		switch e.Operator {
		case api.LabelSelectorOpIn:
			reqs = append(reqs, req{e.Key, e.Key + " in (" + strings.Join(vals, ",") + ")"})
		case api.LabelSelectorOpNotIn:
			reqs = append(reqs, req{e.Key, e.Key + " notin (" + strings.Join(vals, ",") + ")"})
		case api.LabelSelectorOpExists:
			reqs = append(reqs, req{e.Key, e.Key})
		case api.LabelSelectorOpDoesNotExist:
			reqs = append(reqs, req{e.Key, "!" + e.Key})
		}
	}
	slices.SortStableFunc(reqs, func(a, b req) int { return strings.Compare(a.key, b.key) })
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.text
	}
	return strings.Join(parts, ",")
}

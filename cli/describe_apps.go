package cli

import (
	"context"
	"errors"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/table"
)

// replicaSetsOf are the ReplicaSets of d's namespace that its selector
// matches and that d controls, as kubectl's describe finds them.
func replicaSetsOf(ctx context.Context, cl nodeClient, d *api.Deployment) ([]*api.ReplicaSet, error) {
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels)+len(d.Spec.Selector.MatchExpressions) == 0 {
		return nil, nil
	}
	res, ok := api.LookupResource("replicasets.apps")
	if !ok {
		return nil, errors.New("the node serves no replicasets")
	}
	objs, err := cl.List(ctx, res, d.Namespace, client.ListOptions{LabelSelector: table.FormatLabelSelector(d.Spec.Selector)})
	if err != nil {
		return nil, err
	}
	var out []*api.ReplicaSet
	for _, o := range objs {
		rs, ok := o.(*api.ReplicaSet)
		if !ok {
			continue
		}
		if ref := rs.ControllerRef(); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
	}
	return out, nil
}

package controller

import (
	"fmt"

	"github.com/wasmlet/wasmlet/api"
)

func lookupResource(name string) (*api.ResourceInfo, error) {
	r, ok := api.LookupResource(name)
	if !ok {
		return nil, fmt.Errorf("controller: the api package serves no %s", name)
	}
	return r, nil
}

// replicaSetKindOf is the ReplicaSet (apps/v1) as itself.
func replicaSetKindOf() (*replicaSetKind, error) {
	r, err := lookupResource("replicasets.apps")
	if err != nil {
		return nil, err
	}
	return &replicaSetKind{
		resource:  r,
		component: "replicaset-controller",
		view: func(o api.Object) (*api.ReplicaSet, error) {
			rs, ok := o.(*api.ReplicaSet)
			if !ok {
				return nil, fmt.Errorf("%T is not a ReplicaSet", o)
			}
			return rs, nil
		},
		setStatus: func(o api.Object, st *api.ReplicaSetStatus) error {
			rs, ok := o.(*api.ReplicaSet)
			if !ok {
				return fmt.Errorf("%T is not a ReplicaSet", o)
			}
			rs.Status = *st
			return nil
		},
	}, nil
}

// replicationControllerKindOf is the ReplicationController (v1) viewed as a
// ReplicaSet: its equality selector becomes matchLabels, and the status goes
// back field by field.
func replicationControllerKindOf() (*replicaSetKind, error) {
	r, err := lookupResource("replicationcontrollers")
	if err != nil {
		return nil, err
	}
	return &replicaSetKind{
		resource:  r,
		component: "replication-controller",
		view: func(o api.Object) (*api.ReplicaSet, error) {
			rc, ok := o.(*api.ReplicationController)
			if !ok {
				return nil, fmt.Errorf("%T is not a ReplicationController", o)
			}
			return rcAsReplicaSet(rc), nil
		},
		setStatus: func(o api.Object, st *api.ReplicaSetStatus) error {
			rc, ok := o.(*api.ReplicationController)
			if !ok {
				return fmt.Errorf("%T is not a ReplicationController", o)
			}
			rc.Status = rcStatusOf(st)
			return nil
		},
	}, nil
}

func rcAsReplicaSet(rc *api.ReplicationController) *api.ReplicaSet {
	rs := &api.ReplicaSet{
		TypeMeta:   rc.TypeMeta,
		ObjectMeta: rc.ObjectMeta,
		Spec: api.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
		},
		Status: api.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Selector != nil {
		rs.Spec.Selector = &api.LabelSelector{MatchLabels: rc.Spec.Selector}
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, api.ReplicaSetCondition{
			Type:               api.ReplicaSetConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return rs
}

func rcStatusOf(st *api.ReplicaSetStatus) api.ReplicationControllerStatus {
	out := api.ReplicationControllerStatus{
		Replicas:             st.Replicas,
		FullyLabeledReplicas: st.FullyLabeledReplicas,
		ReadyReplicas:        st.ReadyReplicas,
		AvailableReplicas:    st.AvailableReplicas,
		ObservedGeneration:   st.ObservedGeneration,
	}
	for _, c := range st.Conditions {
		out.Conditions = append(out.Conditions, api.ReplicationControllerCondition{
			Type:               api.ReplicationControllerConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return out
}

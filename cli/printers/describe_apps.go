package printers

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// deployment is kubectl's description of a Deployment. rss are the
// ReplicaSets it controls: OldReplicaSets lists those with replicas, the
// NewReplicaSet is the oldest whose template is the Deployment's, as
// kubectl finds them.
func (d *describer) deployment(dep *api.Deployment, rss []*api.ReplicaSet) {
	d.line(0, "Name:\t%s\n", dep.Name)
	d.line(0, "Namespace:\t%s\n", dep.Namespace)
	d.line(0, "CreationTimestamp:\t%s\n", d.timestamp(dep.CreationTimestamp.Time))
	d.labels("Labels", dep.Labels)
	d.annotations("Annotations", dep.Annotations)
	d.line(0, "Selector:\t%s\n", selectorString(dep.Spec.Selector))
	d.line(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
		desired(dep.Spec.Replicas), dep.Status.UpdatedReplicas, dep.Status.Replicas, dep.Status.AvailableReplicas, dep.Status.UnavailableReplicas)
	d.line(0, "StrategyType:\t%s\n", dep.Spec.Strategy.Type)
	d.line(0, "MinReadySeconds:\t%d\n", dep.Spec.MinReadySeconds)
	if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
		d.line(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", intOrStringText(ru.MaxUnavailable), intOrStringText(ru.MaxSurge))
	}
	d.podTemplate(&dep.Spec.Template)
	if len(dep.Status.Conditions) > 0 {
		d.line(0, "Conditions:\n  Type\tStatus\tReason\n")
		d.line(1, "----\t------\t------\n")
		for _, c := range dep.Status.Conditions {
			d.line(1, "%s \t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
	newRS := NewReplicaSet(dep, rss)
	var old, cur []*api.ReplicaSet
	for _, rs := range rss {
		if newRS != nil && rs.UID == newRS.UID {
			continue
		}
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 0 {
			old = append(old, rs)
		}
	}
	if newRS != nil {
		cur = append(cur, newRS)
	}
	d.line(0, "OldReplicaSets:\t%s\n", replicaSetsCreated(old))
	d.line(0, "NewReplicaSet:\t%s\n", replicaSetsCreated(cur))
}

// NewReplicaSet is the ReplicaSet of rss whose template is the
// Deployment's but for the pod-template-hash label, the oldest if several
// (ties by name), or nil.
func NewReplicaSet(dep *api.Deployment, rss []*api.ReplicaSet) *api.ReplicaSet {
	var found *api.ReplicaSet
	for _, rs := range rss {
		if !sameTemplate(&rs.Spec.Template, &dep.Spec.Template) {
			continue
		}
		if found == nil || rs.CreationTimestamp.Before(found.CreationTimestamp.Time) ||
			(rs.CreationTimestamp.Equal(found.CreationTimestamp.Time) && rs.Name < found.Name) {
			found = rs
		}
	}
	return found
}

func sameTemplate(a, b *api.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	for _, t := range []*api.PodTemplateSpec{a, b} {
		delete(t.Labels, "pod-template-hash")
		if len(t.Labels) == 0 {
			t.Labels = nil
		}
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// replicaSetsCreated is `name (current/desired replicas created)`, comma
// separated, or <none>.
func replicaSetsCreated(rss []*api.ReplicaSet) string {
	parts := make([]string, len(rss))
	for i, rs := range rss {
		parts[i] = fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, desired(rs.Spec.Replicas))
	}
	return orNone(strings.Join(parts, ", "))
}

// selectorString is a selector as labels.Selector's String writes it: an
// empty one is empty, not <none>.
func selectorString(s *api.LabelSelector) string {
	if s == nil || len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		return ""
	}
	return table.FormatLabelSelector(s)
}

func intOrStringText(v *api.IntOrString) string {
	if v == nil {
		return "0"
	}
	return v.String()
}

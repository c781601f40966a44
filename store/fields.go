package store

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wasmlet/wasmlet/api"
)

// selectable holds every field a field selector may name, for the kinds
// wasmlet serves, as Kubernetes' GetAttrs functions expose them.
type selectable struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		NodeName           string `json:"nodeName"`
		RestartPolicy      string `json:"restartPolicy"`
		SchedulerName      string `json:"schedulerName"`
		ServiceAccountName string `json:"serviceAccountName"`
		Unschedulable      bool   `json:"unschedulable"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		PodIP             string `json:"podIP"`
		NominatedNodeName string `json:"nominatedNodeName"`
		Replicas          int64  `json:"replicas"`
	} `json:"status"`
	InvolvedObject struct {
		Kind            string `json:"kind"`
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		UID             string `json:"uid"`
		APIVersion      string `json:"apiVersion"`
		ResourceVersion string `json:"resourceVersion"`
		FieldPath       string `json:"fieldPath"`
	} `json:"involvedObject"`
	Reason             string `json:"reason"`
	Type               string `json:"type"`
	ReportingComponent string `json:"reportingComponent"`
	Source             struct {
		Component string `json:"component"`
	} `json:"source"`
}

// fieldsOf returns the selectable fields of a stored object of kind r:
// exactly the labels CheckFieldSelector accepts for r.
func fieldsOf(r *api.ResourceInfo, raw []byte) map[string]string {
	var s selectable
	_ = json.Unmarshal(raw, &s) // a field that does not decode stays empty
	f := map[string]string{"metadata.name": s.Metadata.Name}
	// Kubernetes' Node and Namespace select by name only: they live in no
	// namespace.
	if !isNamespaces(r) && !isCore(r, "nodes") {
		f["metadata.namespace"] = s.Metadata.Namespace
	}
	switch {
	case isPods(r):
		f["spec.nodeName"] = s.Spec.NodeName
		f["spec.restartPolicy"] = s.Spec.RestartPolicy
		f["spec.schedulerName"] = s.Spec.SchedulerName
		f["spec.serviceAccountName"] = s.Spec.ServiceAccountName
		f["status.phase"] = s.Status.Phase
		f["status.podIP"] = s.Status.PodIP
		f["status.nominatedNodeName"] = s.Status.NominatedNodeName
	case isEvents(r):
		io := s.InvolvedObject
		f["involvedObject.kind"] = io.Kind
		f["involvedObject.namespace"] = io.Namespace
		f["involvedObject.name"] = io.Name
		f["involvedObject.uid"] = io.UID
		f["involvedObject.apiVersion"] = io.APIVersion
		f["involvedObject.resourceVersion"] = io.ResourceVersion
		f["involvedObject.fieldPath"] = io.FieldPath
		f["reason"] = s.Reason
		f["reportingComponent"] = s.ReportingComponent
		f["source"] = s.Source.Component
		f["type"] = s.Type
	case isNamespaces(r):
		f["status.phase"] = s.Status.Phase
	case isCore(r, "nodes"):
		f["spec.unschedulable"] = strconv.FormatBool(s.Spec.Unschedulable)
	case r.Resource == "replicasets" || r.Resource == "replicationcontrollers":
		f["status.replicas"] = strconv.FormatInt(s.Status.Replicas, 10)
	}
	return f
}

// objectFields is fieldsOf for a decoded object.
func objectFields(r *api.ResourceInfo, obj api.Object) map[string]string {
	raw, err := json.Marshal(obj)
	if err != nil {
		m := obj.GetObjectMeta()
		return map[string]string{"metadata.name": m.Name, "metadata.namespace": m.Namespace}
	}
	return fieldsOf(r, raw)
}

// CheckFieldSelector refuses a field selector that names a field r cannot
// be selected by, with Kubernetes' BadRequest (`field label not supported:
// status.phse`), so that a typo selects nothing instead of everything: a
// field the object lacks would otherwise compare as "", which every
// `!=` term matches. Lists, watches and deletions of collections check
// their selector with it before they read anything.
func CheckFieldSelector(r *api.ResourceInfo, sel api.FieldSelector) error {
	if sel == nil || sel.Empty() {
		return nil
	}
	labels := fieldsOf(r, nil) // the labels of r, every value empty
	for _, f := range api.FieldSelectorFields(sel) {
		if _, ok := labels[f]; !ok {
			return api.NewBadRequest(fmt.Sprintf("field label not supported: %s", f))
		}
	}
	return nil
}

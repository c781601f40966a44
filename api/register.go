package api

// The kinds wasmlet serves, in the order of discovery and of `get all`.
func init() {
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Pod", Resource: "pods", Singular: "pod",
		ShortNames: []string{"po"}, Namespaced: true, Categories: []string{"all"},
		New: func() Object { return &Pod{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "ReplicationController", Resource: "replicationcontrollers",
		Singular: "replicationcontroller", ShortNames: []string{"rc"}, Namespaced: true, Categories: []string{"all"},
		New: func() Object { return &ReplicationController{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Service", Resource: "services",
		Singular: "service", ShortNames: []string{"svc"}, Namespaced: true, Categories: []string{"all"},
		New: func() Object { return &Service{} }})
	registerResource(&ResourceInfo{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments",
		Singular: "deployment", ShortNames: []string{"deploy"}, Namespaced: true, Categories: []string{"all"},
		New: func() Object { return &Deployment{} }})
	registerResource(&ResourceInfo{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets",
		Singular: "replicaset", ShortNames: []string{"rs"}, Namespaced: true, Categories: []string{"all"},
		New: func() Object { return &ReplicaSet{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Endpoints", Resource: "endpoints",
		Singular: "endpoints", ShortNames: []string{"ep"}, Namespaced: true,
		New: func() Object { return &Endpoints{} }})
	registerResource(&ResourceInfo{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice", Resource: "endpointslices",
		Singular: "endpointslice", Namespaced: true,
		New: func() Object { return &EndpointSlice{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "ConfigMap", Resource: "configmaps",
		Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true,
		New: func() Object { return &ConfigMap{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Secret", Resource: "secrets",
		Singular: "secret", Namespaced: true,
		New: func() Object { return &Secret{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Event", Resource: "events", Singular: "event",
		ShortNames: []string{"ev"}, Namespaced: true,
		New: func() Object { return &Event{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Namespace", Resource: "namespaces", Singular: "namespace",
		ShortNames: []string{"ns"}, Namespaced: false,
		New: func() Object { return &Namespace{} }})
	registerResource(&ResourceInfo{Group: "", Version: "v1", Kind: "Node", Resource: "nodes", Singular: "node",
		ShortNames: []string{"no"}, Namespaced: false,
		New: func() Object { return &Node{} }})
}

func (o *Pod) DeepCopyObject() Object                   { return o.DeepCopy() }
func (o *ReplicaSet) DeepCopyObject() Object            { return deepCopy(o) }
func (o *ReplicationController) DeepCopyObject() Object { return deepCopy(o) }
func (o *Event) DeepCopyObject() Object                 { return deepCopy(o) }
func (o *Namespace) DeepCopyObject() Object             { return deepCopy(o) }
func (o *Node) DeepCopyObject() Object                  { return deepCopy(o) }
func (o *Scale) DeepCopyObject() Object                 { return deepCopy(o) }

// DeepCopy returns a copy that shares no memory with the receiver.
func (o *ReplicaSet) DeepCopy() *ReplicaSet { return deepCopy(o) }

// DeepCopy returns a copy that shares no memory with the receiver.
func (o *ReplicationController) DeepCopy() *ReplicationController { return deepCopy(o) }

// DeepCopy returns a copy that shares no memory with the receiver.
func (o *PodTemplateSpec) DeepCopy() *PodTemplateSpec { return deepCopy(o) }

// DeepCopy returns a copy that shares no memory with the receiver.
func (o *LabelSelector) DeepCopy() *LabelSelector { return deepCopy(o) }

func (o *Deployment) DeepCopyObject() Object    { return deepCopy(o) }
func (o *Service) DeepCopyObject() Object       { return deepCopy(o) }
func (o *Endpoints) DeepCopyObject() Object     { return deepCopy(o) }
func (o *EndpointSlice) DeepCopyObject() Object { return deepCopy(o) }
func (o *ConfigMap) DeepCopyObject() Object     { return deepCopy(o) }
func (o *Secret) DeepCopyObject() Object        { return deepCopy(o) }

// DeepCopy returns a copy that shares no memory with the receiver.
func (o *Deployment) DeepCopy() *Deployment { return deepCopy(o) }

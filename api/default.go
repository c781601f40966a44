package api

import "strings"

// Defaults that Kubernetes applies (pkg/apis/core/v1/defaults.go and
// pkg/apis/apps/v1/defaults.go), restricted to the fields wasmlet has.

const (
	// DefaultTerminationGracePeriodSeconds is a pod's grace period when its
	// spec names none.
	DefaultTerminationGracePeriodSeconds int64 = 30
	// DefaultSchedulerName is the scheduler every pod names by default.
	DefaultSchedulerName = "default-scheduler"
	// TerminationMessagePathDefault is where a container writes why it ended.
	TerminationMessagePathDefault = "/dev/termination-log"
	// NamespaceNameLabel is set on every namespace to its name.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
)

// Default fills the fields of obj that Kubernetes defaults when they are
// unset. It never overwrites a set field and may be called more than once.
// Objects of kinds without defaults are left alone.
func Default(obj Object) {
	switch o := obj.(type) {
	case *Pod:
		defaultPodSpec(&o.Spec)
	case *ReplicaSet:
		defaultReplicaSet(o)
	case *Deployment:
		defaultDeployment(o)
	case *ReplicationController:
		defaultReplicationController(o)
	case *Namespace:
		defaultNamespace(o)
	case *Service:
		defaultService(o)
	case *Secret:
		defaultSecret(o)
	case *Node:
		if o.Status.Allocatable == nil && o.Status.Capacity != nil {
			o.Status.Allocatable = make(ResourceList, len(o.Status.Capacity))
			for k, v := range o.Status.Capacity {
				o.Status.Allocatable[k] = v
			}
		}
	}
	if tm := obj.GetTypeMeta(); tm.Kind == "" {
		if r, ok := ResourceOf(obj); ok {
			tm.Kind, tm.APIVersion = r.Kind, r.APIVersion()
		}
	}
}

func defaultReplicaSet(rs *ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptrTo(int32(1))
	}
	defaultPodSpec(&rs.Spec.Template.Spec)
}

func defaultReplicationController(rc *ReplicationController) {
	if rc.Spec.Template != nil {
		if labels := rc.Spec.Template.Labels; labels != nil {
			if len(rc.Spec.Selector) == 0 {
				rc.Spec.Selector = cloneMap(labels)
			}
			if len(rc.Labels) == 0 {
				rc.Labels = cloneMap(labels)
			}
		}
		defaultPodSpec(&rc.Spec.Template.Spec)
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = ptrTo(int32(1))
	}
}

func defaultNamespace(ns *Namespace) {
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[NamespaceNameLabel] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = NamespaceActive
	}
}

func defaultPodSpec(s *PodSpec) {
	if s.DNSPolicy == "" {
		s.DNSPolicy = DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptrTo(DefaultTerminationGracePeriodSeconds)
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = ptrTo(true)
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i], s.HostNetwork)
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i], s.HostNetwork)
	}
}

func defaultVolume(v *Volume) {
	if v.HostPath == nil && v.EmptyDir == nil && v.Secret == nil && v.ConfigMap == nil {
		v.EmptyDir = &EmptyDirVolumeSource{}
	}
	defaultConfigVolume(v)
	if v.HostPath != nil && v.HostPath.Type == nil {
		v.HostPath.Type = ptrTo(HostPathUnset)
	}
}

func defaultContainer(c *Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	// Requests default to limits, resource by resource.
	for name, q := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = ResourceList{}
			}
			c.Resources.Requests[name] = q
		}
	}
	for _, p := range []*Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		defaultProbe(p)
	}
	if c.Lifecycle != nil {
		for _, h := range []*LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil {
				defaultHTTPGet(h.HTTPGet)
			}
		}
	}
}

func defaultProbe(p *Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	// Kubernetes defaults a grpc probe's service to "" (the server's
	// overall health); clients count on it being set: kubectl 1.32's
	// describe dereferences it.
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = new(string)
	}
}

func defaultHTTPGet(h *HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = URISchemeHTTP
	}
}

// defaultPullPolicy applies Kubernetes' rule (Always for a reference that may
// change under the same name, IfNotPresent otherwise) to module references:
// an http(s) URL not pinned with @sha256: may serve new content at any time,
// as may anything tagged :latest or a registry image without a tag; a path
// or file:// URL on the node is read again only when its content changes,
// as an image present on a node is.
func defaultPullPolicy(image string) PullPolicy {
	lower := strings.ToLower(image)
	if reg, err := IsRegistryImage(image); err == nil && reg && !registryImageTagged(image) {
		return PullAlways // no tag is :latest
	}
	switch {
	case strings.HasSuffix(lower, ":latest"):
		return PullAlways
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		if strings.Contains(image, "@sha256:") {
			return PullIfNotPresent
		}
		return PullAlways
	}
	return PullIfNotPresent
}

func ptrTo[T any](v T) *T { return &v }

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

package api

import "encoding/json"

// A hand-written deep copy of Pod: pods are copied on every read of the
// store, every informer hand-out and every status write, and this is several
// times faster than the reflective copy (BenchmarkDeepCopyPod).
// TestDeepCopyPodCoversEveryField fails when a field added to these types is
// not copied here.

// DeepCopy returns a copy of the pod that shares no memory with it.
func (o *Pod) DeepCopy() *Pod {
	if o == nil {
		return nil
	}
	c := *o
	c.ObjectMeta = *o.ObjectMeta.DeepCopy()
	o.Spec.copyInto(&c.Spec)
	o.Status.copyInto(&c.Status)
	return &c
}

// DeepCopy returns a copy of the metadata that shares no memory with it.
func (m *ObjectMeta) DeepCopy() *ObjectMeta {
	if m == nil {
		return nil
	}
	c := *m
	c.DeletionTimestamp = copyPtr(m.DeletionTimestamp)
	c.DeletionGracePeriodSeconds = copyPtr(m.DeletionGracePeriodSeconds)
	c.Labels = copyStringMap(m.Labels)
	c.Annotations = copyStringMap(m.Annotations)
	if m.OwnerReferences != nil {
		c.OwnerReferences = make([]OwnerReference, len(m.OwnerReferences))
		for i, r := range m.OwnerReferences {
			r.Controller = copyPtr(r.Controller)
			r.BlockOwnerDeletion = copyPtr(r.BlockOwnerDeletion)
			c.OwnerReferences[i] = r
		}
	}
	c.Finalizers = copySlice(m.Finalizers)
	if m.ManagedFields != nil {
		c.ManagedFields = make([]json.RawMessage, len(m.ManagedFields))
		for i, f := range m.ManagedFields {
			c.ManagedFields[i] = copySlice(f)
		}
	}
	return &c
}

func (s *PodSpec) copyInto(c *PodSpec) {
	*c = *s
	if s.Volumes != nil {
		c.Volumes = make([]Volume, len(s.Volumes))
		for i, v := range s.Volumes {
			if v.HostPath != nil {
				h := *v.HostPath
				h.Type = copyPtr(h.Type)
				v.HostPath = &h
			}
			if v.EmptyDir != nil {
				e := *v.EmptyDir
				e.SizeLimit = copyPtr(e.SizeLimit)
				v.EmptyDir = &e
			}
			if v.Secret != nil {
				sv := *v.Secret
				sv.Items = copyKeyToPaths(sv.Items)
				sv.DefaultMode = copyPtr(sv.DefaultMode)
				sv.Optional = copyPtr(sv.Optional)
				v.Secret = &sv
			}
			if v.ConfigMap != nil {
				cv := *v.ConfigMap
				cv.Items = copyKeyToPaths(cv.Items)
				cv.DefaultMode = copyPtr(cv.DefaultMode)
				cv.Optional = copyPtr(cv.Optional)
				v.ConfigMap = &cv
			}
			c.Volumes[i] = v
		}
	}
	c.InitContainers = copyContainers(s.InitContainers)
	c.Containers = copyContainers(s.Containers)
	c.TerminationGracePeriodSeconds = copyPtr(s.TerminationGracePeriodSeconds)
	c.ActiveDeadlineSeconds = copyPtr(s.ActiveDeadlineSeconds)
	c.NodeSelector = copyStringMap(s.NodeSelector)
	c.ImagePullSecrets = copySlice(s.ImagePullSecrets)
	c.AutomountServiceAccountToken = copyPtr(s.AutomountServiceAccountToken)
	c.SecurityContext = copyPtr(s.SecurityContext)
	c.Priority = copyPtr(s.Priority)
	c.ReadinessGates = copySlice(s.ReadinessGates)
	c.EnableServiceLinks = copyPtr(s.EnableServiceLinks)
	c.PreemptionPolicy = copyPtr(s.PreemptionPolicy)
	c.SetHostnameAsFQDN = copyPtr(s.SetHostnameAsFQDN)
}

func copyContainers(cs []Container) []Container {
	if cs == nil {
		return nil
	}
	out := make([]Container, len(cs))
	for i := range cs {
		s, c := &cs[i], &out[i]
		*c = *s
		c.Command = copySlice(s.Command)
		c.Args = copySlice(s.Args)
		c.Ports = copySlice(s.Ports)
		if s.Env != nil {
			c.Env = make([]EnvVar, len(s.Env))
			for j, e := range s.Env {
				if e.ValueFrom != nil {
					vf := *e.ValueFrom
					vf.FieldRef = copyPtr(vf.FieldRef)
					if vf.ConfigMapKeyRef != nil {
						r := *vf.ConfigMapKeyRef
						r.Optional = copyPtr(r.Optional)
						vf.ConfigMapKeyRef = &r
					}
					if vf.SecretKeyRef != nil {
						r := *vf.SecretKeyRef
						r.Optional = copyPtr(r.Optional)
						vf.SecretKeyRef = &r
					}
					if vf.ResourceFieldRef != nil {
						r := *vf.ResourceFieldRef
						r.Divisor = copyPtr(r.Divisor)
						vf.ResourceFieldRef = &r
					}
					e.ValueFrom = &vf
				}
				c.Env[j] = e
			}
		}
		if s.EnvFrom != nil {
			c.EnvFrom = make([]EnvFromSource, len(s.EnvFrom))
			for j, e := range s.EnvFrom {
				if e.ConfigMapRef != nil {
					r := *e.ConfigMapRef
					r.Optional = copyPtr(r.Optional)
					e.ConfigMapRef = &r
				}
				if e.SecretRef != nil {
					r := *e.SecretRef
					r.Optional = copyPtr(r.Optional)
					e.SecretRef = &r
				}
				c.EnvFrom[j] = e
			}
		}
		c.Resources.Limits = copyResourceList(s.Resources.Limits)
		c.Resources.Requests = copyResourceList(s.Resources.Requests)
		c.RestartPolicy = copyPtr(s.RestartPolicy)
		c.VolumeMounts = copySlice(s.VolumeMounts)
		c.LivenessProbe = copyProbe(s.LivenessProbe)
		c.ReadinessProbe = copyProbe(s.ReadinessProbe)
		c.StartupProbe = copyProbe(s.StartupProbe)
		if s.Lifecycle != nil {
			l := Lifecycle{PostStart: copyLifecycleHandler(s.Lifecycle.PostStart), PreStop: copyLifecycleHandler(s.Lifecycle.PreStop)}
			c.Lifecycle = &l
		}
	}
	return out
}

func copyKeyToPaths(items []KeyToPath) []KeyToPath {
	if items == nil {
		return nil
	}
	out := make([]KeyToPath, len(items))
	for i, k := range items {
		k.Mode = copyPtr(k.Mode)
		out[i] = k
	}
	return out
}

func copyProbe(p *Probe) *Probe {
	if p == nil {
		return nil
	}
	c := *p
	c.Exec = copyExec(p.Exec)
	c.HTTPGet = copyHTTPGet(p.HTTPGet)
	c.TCPSocket = copyPtr(p.TCPSocket)
	if p.GRPC != nil {
		g := *p.GRPC
		g.Service = copyPtr(g.Service)
		c.GRPC = &g
	}
	c.TerminationGracePeriodSeconds = copyPtr(p.TerminationGracePeriodSeconds)
	return &c
}

func copyLifecycleHandler(h *LifecycleHandler) *LifecycleHandler {
	if h == nil {
		return nil
	}
	return &LifecycleHandler{Exec: copyExec(h.Exec), HTTPGet: copyHTTPGet(h.HTTPGet), TCPSocket: copyPtr(h.TCPSocket), Sleep: copyPtr(h.Sleep)}
}

func copyExec(e *ExecAction) *ExecAction {
	if e == nil {
		return nil
	}
	return &ExecAction{Command: copySlice(e.Command)}
}

func copyHTTPGet(h *HTTPGetAction) *HTTPGetAction {
	if h == nil {
		return nil
	}
	c := *h
	c.HTTPHeaders = copySlice(h.HTTPHeaders)
	return &c
}

func (s *PodStatus) copyInto(c *PodStatus) {
	*c = *s
	c.Conditions = copySlice(s.Conditions)
	c.HostIPs = copySlice(s.HostIPs)
	c.PodIPs = copySlice(s.PodIPs)
	c.StartTime = copyPtr(s.StartTime)
	c.InitContainerStatuses = copyContainerStatuses(s.InitContainerStatuses)
	c.ContainerStatuses = copyContainerStatuses(s.ContainerStatuses)
}

func copyContainerStatuses(ss []ContainerStatus) []ContainerStatus {
	if ss == nil {
		return nil
	}
	out := make([]ContainerStatus, len(ss))
	for i, s := range ss {
		s.State = copyContainerState(s.State)
		s.LastTerminationState = copyContainerState(s.LastTerminationState)
		s.Started = copyPtr(s.Started)
		out[i] = s
	}
	return out
}

func copyContainerState(s ContainerState) ContainerState {
	return ContainerState{Waiting: copyPtr(s.Waiting), Running: copyPtr(s.Running), Terminated: copyPtr(s.Terminated)}
}

// copyPtr copies what p points to; for types without pointers inside.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// copySlice copies a slice of values without pointers inside.
func copySlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func copyStringMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func copyResourceList(m ResourceList) ResourceList {
	if m == nil {
		return nil
	}
	c := make(ResourceList, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

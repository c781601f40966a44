package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"path"
	"reflect"
	"slices"
	"strings"
)

// Validation with Kubernetes' rules and messages
// (pkg/apis/core/validation, pkg/apis/apps/validation), for the fields
// wasmlet has. Every error of an object is returned, in Kubernetes' order
// where it matters to a reader (metadata, then spec in field order).

// Validate checks a new object of any kind wasmlet serves. Call Default first,
// as the API server does: validation assumes defaulted fields.
func Validate(obj Object) ErrorList {
	switch o := obj.(type) {
	case *Pod:
		errs := validateObjectMeta(&o.ObjectMeta, true, nameIsDNSSubdomain)
		return append(errs, validatePodSpec(&o.Spec, "spec")...)
	case *ReplicaSet:
		errs := validateObjectMeta(&o.ObjectMeta, true, nameIsDNSSubdomain)
		return append(errs, validateReplicaSetSpec(&o.Spec, "spec")...)
	case *ReplicationController:
		errs := validateObjectMeta(&o.ObjectMeta, true, nameIsDNSSubdomain)
		return append(errs, validateReplicationControllerSpec(&o.Spec, "spec")...)
	case *Deployment:
		return validateDeployment(o)
	case *Namespace:
		return validateObjectMeta(&o.ObjectMeta, false, nameIsDNSLabel)
	case *Node:
		errs := validateObjectMeta(&o.ObjectMeta, false, nameIsDNSSubdomain)
		return append(errs, validateNodeSpec(&o.Spec)...)
	case *Event:
		return validateEvent(o)
	case *Service, *Endpoints, *EndpointSlice:
		return validateServiceKinds(o)
	case *ConfigMap:
		return validateConfigMap(o)
	case *Secret:
		return validateSecret(o)
	}
	return nil
}

// ValidateUpdate checks newObj as a replacement of oldObj: newObj must be
// valid, and the fields Kubernetes makes immutable must be unchanged.
func ValidateUpdate(newObj, oldObj Object) ErrorList {
	errs := validateObjectMetaUpdate(newObj.GetObjectMeta(), oldObj.GetObjectMeta())
	errs = append(errs, Validate(newObj)...)
	switch n := newObj.(type) {
	case *Pod:
		if o, ok := oldObj.(*Pod); ok {
			errs = append(errs, validatePodSpecUpdate(&n.Spec, &o.Spec)...)
			// The class is the pod's from its creation on, as Kubernetes
			// keeps it; a pod stored without one may be given it.
			if o.Status.QOSClass != "" && n.Status.QOSClass != o.Status.QOSClass {
				errs = append(errs, Invalid("status.qosClass", n.Status.QOSClass, "field is immutable"))
			}
		}
	case *ReplicaSet:
		if o, ok := oldObj.(*ReplicaSet); ok && !reflect.DeepEqual(n.Spec.Selector, o.Spec.Selector) {
			errs = append(errs, Invalid("spec.selector", n.Spec.Selector, "field is immutable"))
		}
	case *Deployment:
		if o, ok := oldObj.(*Deployment); ok {
			errs = append(errs, validateDeploymentUpdate(n, o)...)
		}
	case *ConfigMap:
		if o, ok := oldObj.(*ConfigMap); ok {
			errs = append(errs, validateConfigMapUpdate(n, o)...)
		}
	case *Secret:
		if o, ok := oldObj.(*Secret); ok {
			errs = append(errs, validateSecretUpdate(n, o)...)
		}
	case *Service, *EndpointSlice:
		errs = append(errs, validateServiceKindsUpdate(newObj, oldObj)...)
	case *Event:
		if o, ok := oldObj.(*Event); ok && n.InvolvedObject != o.InvolvedObject {
			errs = append(errs, Invalid("involvedObject", n.InvolvedObject, "field is immutable"))
		}
	}
	return errs
}

func validateObjectMeta(m *ObjectMeta, namespaced bool, nameFn nameFunc) ErrorList {
	var errs ErrorList
	if m.GenerateName != "" {
		for _, msg := range nameFn(m.GenerateName, true) {
			errs = append(errs, Invalid("metadata.generateName", m.GenerateName, msg))
		}
	}
	if m.Name == "" {
		errs = append(errs, Required("metadata.name", "name or generateName is required"))
	} else {
		for _, msg := range nameFn(m.Name, false) {
			errs = append(errs, Invalid("metadata.name", m.Name, msg))
		}
	}
	if namespaced {
		if m.Namespace == "" {
			errs = append(errs, Required("metadata.namespace", ""))
		} else {
			for _, msg := range IsDNS1123Label(m.Namespace) {
				errs = append(errs, Invalid("metadata.namespace", m.Namespace, msg))
			}
		}
	} else if m.Namespace != "" {
		errs = append(errs, Forbidden("metadata.namespace", "not allowed on this type"))
	}
	if m.Generation < 0 {
		errs = append(errs, Invalid("metadata.generation", m.Generation, "must be greater than or equal to 0"))
	}
	errs = append(errs, ValidateLabels(m.Labels, "metadata.labels")...)
	errs = append(errs, ValidateAnnotations(m.Annotations, "metadata.annotations")...)
	errs = append(errs, validateOwnerReferences(m.OwnerReferences, "metadata.ownerReferences")...)
	for i, f := range m.Finalizers {
		p := fmt.Sprintf("metadata.finalizers[%d]", i)
		msgs := IsQualifiedName(f)
		for _, msg := range msgs {
			errs = append(errs, Invalid(p, f, msg))
		}
		if len(msgs) == 0 && !strings.Contains(f, "/") && f != string(FinalizerKubernetes) && f != "orphan" && f != "foregroundDeletion" {
			errs = append(errs, Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

func validateOwnerReferences(refs []OwnerReference, p string) ErrorList {
	var errs ErrorList
	var controllers []string
	for i, r := range refs {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if r.APIVersion == "" {
			errs = append(errs, Invalid(ip+".apiVersion", r.APIVersion, "version must not be empty"))
		}
		if r.Kind == "" {
			errs = append(errs, Invalid(ip+".kind", r.Kind, "must not be empty"))
		}
		if r.Name == "" {
			errs = append(errs, Invalid(ip+".name", r.Name, "must not be empty"))
		}
		if r.UID == "" {
			errs = append(errs, Invalid(ip+".uid", r.UID, "must not be empty"))
		}
		if r.Controller != nil && *r.Controller {
			controllers = append(controllers, fmt.Sprintf("%s/%s", r.Kind, r.Name))
		}
	}
	if len(controllers) > 1 {
		errs = append(errs, Invalid(p, refs, fmt.Sprintf("Only one reference can have Controller set to true. Found \"true\" in references for %s", strings.Join(controllers, " and "))))
	}
	return errs
}

func validateObjectMetaUpdate(n, o *ObjectMeta) ErrorList {
	var errs ErrorList
	immutable := func(field string, nv, ov any) {
		if !reflect.DeepEqual(nv, ov) {
			errs = append(errs, Invalid(field, nv, "field is immutable"))
		}
	}
	immutable("metadata.name", n.Name, o.Name)
	immutable("metadata.namespace", n.Namespace, o.Namespace)
	immutable("metadata.uid", n.UID, o.UID)
	if !n.CreationTimestamp.Equal(o.CreationTimestamp.Time) {
		errs = append(errs, Invalid("metadata.creationTimestamp", n.CreationTimestamp.UTC().Format("2006-01-02 15:04:05 -0700 MST"), "field is immutable"))
	}
	if o.DeletionTimestamp != nil && (n.DeletionTimestamp == nil || !n.DeletionTimestamp.Equal(o.DeletionTimestamp.Time)) {
		errs = append(errs, Invalid("metadata.deletionTimestamp", n.DeletionTimestamp, "field is immutable; may only be changed via deletion"))
	}
	if n.Generation < o.Generation {
		errs = append(errs, Invalid("metadata.generation", n.Generation, "must not be decremented"))
	}
	return errs
}

// MaxContainers bounds spec.containers and spec.initContainers of a pod
// (and of a template), each. Kubernetes has no such bound: the size of an
// object bounds it there, but not the status the node writes for every
// container, nor what the node spends on each (an instance, its logs, its
// stdin). 100 is far above what real pods carry.
const MaxContainers = 100

// tooMany is Kubernetes' field.TooMany.
func tooMany(field string, n, max int) *FieldError {
	return &FieldError{Type: ErrorTypeTooMany, Field: field, BadValue: int64(n),
		Detail: fmt.Sprintf("must have at most %d items", max)}
}

// validatePodSpec checks a pod's spec, or a template's at p.
func validatePodSpec(s *PodSpec, p string) ErrorList {
	var errs ErrorList
	// Over the bound, the containers are not checked one by one: that
	// would be as many errors, each a line of the answer.
	if len(s.InitContainers) > MaxContainers || len(s.Containers) > MaxContainers {
		if n := len(s.InitContainers); n > MaxContainers {
			errs = append(errs, tooMany(p+".initContainers", n, MaxContainers))
		}
		if n := len(s.Containers); n > MaxContainers {
			errs = append(errs, tooMany(p+".containers", n, MaxContainers))
		}
		return errs
	}
	volumes, verrs := validateVolumes(s.Volumes, p+".volumes")
	errs = append(errs, verrs...)
	names := map[string]bool{}
	hostPorts := map[string]bool{}
	for i := range s.InitContainers {
		errs = append(errs, validateContainer(&s.InitContainers[i], fmt.Sprintf("%s.initContainers[%d]", p, i), true, s, volumes, names, hostPorts)...)
	}
	if len(s.Containers) == 0 {
		errs = append(errs, Required(p+".containers", ""))
	}
	for i := range s.Containers {
		errs = append(errs, validateContainer(&s.Containers[i], fmt.Sprintf("%s.containers[%d]", p, i), false, s, volumes, names, hostPorts)...)
	}
	switch s.RestartPolicy {
	case RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever:
	case "":
		errs = append(errs, Required(p+".restartPolicy", ""))
	default:
		errs = append(errs, NotSupported(p+".restartPolicy", s.RestartPolicy, []string{"Always", "OnFailure", "Never"}))
	}
	switch s.DNSPolicy {
	case DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault:
	case DNSNone:
		errs = append(errs, Required(p+".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
	case "":
		errs = append(errs, Required(p+".dnsPolicy", ""))
	default:
		errs = append(errs, NotSupported(p+".dnsPolicy", s.DNSPolicy, []string{"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}))
	}
	errs = append(errs, ValidateLabels(s.NodeSelector, p+".nodeSelector")...)
	if s.ServiceAccountName != "" {
		for _, msg := range IsDNS1123Subdomain(s.ServiceAccountName) {
			errs = append(errs, Invalid(p+".serviceAccountName", s.ServiceAccountName, msg))
		}
	}
	if s.NodeName != "" {
		for _, msg := range IsDNS1123Subdomain(s.NodeName) {
			errs = append(errs, Invalid(p+".nodeName", s.NodeName, msg))
		}
	}
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, Invalid(p+".terminationGracePeriodSeconds", *g, "must be greater than or equal to 0"))
	}
	if d := s.ActiveDeadlineSeconds; d != nil && (*d < 1 || *d > 2147483647) {
		errs = append(errs, Invalid(p+".activeDeadlineSeconds", *d, "must be between 1 and 2147483647, inclusive"))
	}
	if s.Hostname != "" {
		for _, msg := range IsDNS1123Label(s.Hostname) {
			errs = append(errs, Invalid(p+".hostname", s.Hostname, msg))
		}
	}
	if s.Subdomain != "" {
		for _, msg := range IsDNS1123Label(s.Subdomain) {
			errs = append(errs, Invalid(p+".subdomain", s.Subdomain, msg))
		}
	}
	for i, g := range s.ReadinessGates {
		for _, msg := range IsQualifiedName(string(g.ConditionType)) {
			errs = append(errs, Invalid(fmt.Sprintf("%s.readinessGates[%d].conditionType", p, i), string(g.ConditionType), msg))
		}
	}
	if s.PreemptionPolicy != nil && *s.PreemptionPolicy != PreemptLowerPriority && *s.PreemptionPolicy != PreemptNever {
		errs = append(errs, NotSupported(p+".preemptionPolicy", *s.PreemptionPolicy, []string{"Never", "PreemptLowerPriority"}))
	}
	return errs
}

func validateVolumes(vols []Volume, p string) (map[string]bool, ErrorList) {
	var errs ErrorList
	names := map[string]bool{}
	for i, v := range vols {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if v.Name == "" {
			errs = append(errs, Required(ip+".name", ""))
		} else {
			for _, msg := range IsDNS1123Label(v.Name) {
				errs = append(errs, Invalid(ip+".name", v.Name, msg))
			}
			if names[v.Name] {
				errs = append(errs, Duplicate(ip+".name", v.Name))
			}
			names[v.Name] = true
		}
		n := 0
		if v.HostPath != nil {
			n++
			if v.HostPath.Path == "" {
				errs = append(errs, Required(ip+".hostPath.path", ""))
			} else if slices.Contains(strings.Split(v.HostPath.Path, "/"), "..") {
				errs = append(errs, Invalid(ip+".hostPath.path", v.HostPath.Path, "must not contain '..'"))
			}
			if t := v.HostPath.Type; t != nil {
				switch *t {
				case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate, HostPathFile, HostPathSocket, HostPathCharDev, HostPathBlockDev:
				default:
					errs = append(errs, NotSupported(ip+".hostPath.type", *t, []string{"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"}))
				}
			}
		}
		if v.EmptyDir != nil {
			if n > 0 {
				errs = append(errs, Forbidden(ip+".emptyDir", "may not specify more than 1 volume type"))
			}
			n++
			if l := v.EmptyDir.SizeLimit; l != nil && l.Cmp(Quantity{}) < 0 {
				errs = append(errs, Invalid(ip+".emptyDir.sizeLimit", l.String(), "must be greater than or equal to 0"))
			}
			switch v.EmptyDir.Medium {
			case StorageMediumDefault, StorageMediumMemory:
			default:
				errs = append(errs, NotSupported(ip+".emptyDir.medium", v.EmptyDir.Medium, []string{"", "Memory"}))
			}
		}
		n, errs = validateConfigVolumes(&v.VolumeSource, ip, n, errs)
		if n == 0 {
			errs = append(errs, Required(ip, "must specify a volume type"))
		}
	}
	return names, errs
}

func validateContainer(c *Container, p string, init bool, spec *PodSpec, volumes, names, hostPorts map[string]bool) ErrorList {
	var errs ErrorList
	if c.Name == "" {
		errs = append(errs, Required(p+".name", ""))
	} else {
		for _, msg := range IsDNS1123Label(c.Name) {
			errs = append(errs, Invalid(p+".name", c.Name, msg))
		}
		if names[c.Name] {
			errs = append(errs, Duplicate(p+".name", c.Name))
		}
		names[c.Name] = true
	}
	if c.Image == "" {
		errs = append(errs, Required(p+".image", ""))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, Invalid(p+".image", c.Image, "must not have leading or trailing whitespace"))
	}
	sidecar := c.RestartPolicy != nil && *c.RestartPolicy == ContainerRestartPolicyAlways
	if c.RestartPolicy != nil {
		if !init {
			errs = append(errs, Forbidden(p+".restartPolicy", "may not be set for non-init containers"))
		} else if !sidecar {
			errs = append(errs, NotSupported(p+".restartPolicy", *c.RestartPolicy, []string{"Always"}))
		}
	}
	if init && !sidecar {
		const why = "may not be set for init containers without restartPolicy=Always"
		if c.Lifecycle != nil {
			errs = append(errs, Forbidden(p+".lifecycle", why))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, Forbidden(p+".livenessProbe", why))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, Forbidden(p+".readinessProbe", why))
		}
		if c.StartupProbe != nil {
			errs = append(errs, Forbidden(p+".startupProbe", why))
		}
	}
	errs = append(errs, validateContainerPorts(c.Ports, p+".ports", hostPorts)...)
	errs = append(errs, validateEnv(c.Env, p+".env")...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, p+".envFrom")...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, p+".volumeMounts", volumes)...)
	errs = append(errs, validateResources(&c.Resources, p+".resources")...)
	if !(init && !sidecar) {
		errs = append(errs, validateProbe(c.LivenessProbe, p+".livenessProbe", true)...)
		errs = append(errs, validateProbe(c.ReadinessProbe, p+".readinessProbe", false)...)
		errs = append(errs, validateProbe(c.StartupProbe, p+".startupProbe", true)...)
		if c.ReadinessProbe != nil && c.ReadinessProbe.TerminationGracePeriodSeconds != nil {
			errs = append(errs, Invalid(p+".readinessProbe.terminationGracePeriodSeconds", *c.ReadinessProbe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
		if c.Lifecycle != nil {
			grace := DefaultTerminationGracePeriodSeconds
			if spec.TerminationGracePeriodSeconds != nil {
				grace = *spec.TerminationGracePeriodSeconds
			}
			errs = append(errs, validateLifecycleHandler(c.Lifecycle.PostStart, p+".lifecycle.postStart", grace)...)
			errs = append(errs, validateLifecycleHandler(c.Lifecycle.PreStop, p+".lifecycle.preStop", grace)...)
		}
	}
	switch c.ImagePullPolicy {
	case PullAlways, PullIfNotPresent, PullNever:
	case "":
		errs = append(errs, Required(p+".imagePullPolicy", ""))
	default:
		errs = append(errs, NotSupported(p+".imagePullPolicy", c.ImagePullPolicy, []string{"Always", "IfNotPresent", "Never"}))
	}
	switch c.TerminationMessagePolicy {
	case TerminationMessageReadFile, TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, Required(p+".terminationMessagePolicy", "must be 'File' or 'FallbackToLogsOnError'"))
	default:
		errs = append(errs, Invalid(p+".terminationMessagePolicy", c.TerminationMessagePolicy, "must be 'File' or 'FallbackToLogsOnError'"))
	}
	if c.StdinOnce && !c.Stdin {
		errs = append(errs, Forbidden(p+".stdinOnce", "may not be set without stdin"))
	}
	return errs
}

func validateContainerPorts(ports []ContainerPort, p string, hostPorts map[string]bool) ErrorList {
	var errs ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if port.Name != "" {
			for _, msg := range IsValidPortName(port.Name) {
				errs = append(errs, Invalid(ip+".name", port.Name, msg))
			}
			if names[port.Name] {
				errs = append(errs, Duplicate(ip+".name", port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, Required(ip+".containerPort", ""))
		} else {
			for _, msg := range isValidPortNum(port.ContainerPort) {
				errs = append(errs, Invalid(ip+".containerPort", port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range isValidPortNum(port.HostPort) {
				errs = append(errs, Invalid(ip+".hostPort", port.HostPort, msg))
			}
			key := fmt.Sprintf("%s/%d/%s", port.HostIP, port.HostPort, port.Protocol)
			if hostPorts[key] {
				errs = append(errs, Duplicate(ip+".hostPort", fmt.Sprintf("%d/%s", port.HostPort, port.Protocol)))
			}
			hostPorts[key] = true
		}
		switch port.Protocol {
		case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		case "":
			errs = append(errs, Required(ip+".protocol", ""))
		default:
			errs = append(errs, NotSupported(ip+".protocol", port.Protocol, []string{"SCTP", "TCP", "UDP"}))
		}
		if port.HostIP != "" && net.ParseIP(port.HostIP) == nil {
			errs = append(errs, Invalid(ip+".hostIP", port.HostIP, "must be a valid IP address"))
		}
	}
	return errs
}

// The pod fields the downward API can put into a variable.
var envFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}

func validateEnv(env []EnvVar, p string) ErrorList {
	var errs ErrorList
	for i, e := range env {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if e.Name == "" {
			errs = append(errs, Required(ip+".name", ""))
		} else {
			for _, msg := range isEnvVarName(e.Name) {
				errs = append(errs, Invalid(ip+".name", e.Name, msg))
			}
		}
		if e.ValueFrom == nil {
			continue
		}
		vp := ip + ".valueFrom"
		n := 0
		if f := e.ValueFrom.FieldRef; f != nil {
			n++
			switch {
			case f.APIVersion == "":
				errs = append(errs, Required(vp+".fieldRef.apiVersion", ""))
			case f.FieldPath == "":
				errs = append(errs, Required(vp+".fieldRef.fieldPath", ""))
			case f.APIVersion != "v1":
				errs = append(errs, Invalid(vp+".fieldRef.apiVersion", f.APIVersion, "unsupported fieldRef apiVersion"))
			default:
				errs = append(errs, validateDownwardField(f.FieldPath, vp+".fieldRef.fieldPath")...)
			}
		}
		if r := e.ValueFrom.ResourceFieldRef; r != nil {
			n++
			switch r.Resource {
			case "":
				errs = append(errs, Required(vp+".resourceFieldRef.resource", ""))
			case "limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage":
			default:
				errs = append(errs, NotSupported(vp+".resourceFieldRef.resource", r.Resource, []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"}))
			}
		}
		n, errs = validateEnvKeyRefs(e.ValueFrom, vp, n, errs)
		switch {
		case n == 0:
			errs = append(errs, Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case e.Value != "":
			errs = append(errs, Invalid(vp, "", "may not be specified when `value` is not empty"))
		case n > 1:
			errs = append(errs, Invalid(vp, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateDownwardField(f, p string) ErrorList {
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, ok := strings.CutPrefix(f, prefix+"['"); ok && strings.HasSuffix(rest, "']") {
			key := strings.TrimSuffix(rest, "']")
			var errs ErrorList
			for _, msg := range IsQualifiedName(strings.ToLower(key)) {
				errs = append(errs, Invalid(p, key, msg))
			}
			return errs
		}
	}
	if slices.Contains(envFieldPaths, f) && f != "metadata.labels" && f != "metadata.annotations" {
		return nil
	}
	return ErrorList{NotSupported(p, f, envFieldPaths)}
}

func validateVolumeMounts(mounts []VolumeMount, p string, volumes map[string]bool) ErrorList {
	var errs ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if m.Name == "" {
			errs = append(errs, Required(ip+".name", ""))
		} else if !volumes[m.Name] {
			errs = append(errs, &FieldError{Type: ErrorTypeNotFound, Field: ip + ".name", BadValue: m.Name})
		}
		if m.MountPath == "" {
			errs = append(errs, Required(ip+".mountPath", ""))
		} else if paths[m.MountPath] {
			errs = append(errs, Invalid(ip+".mountPath", m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			if path.IsAbs(m.SubPath) {
				errs = append(errs, Invalid(ip+".subPath", m.SubPath, "must be a relative path"))
			}
			if slices.Contains(strings.Split(m.SubPath, "/"), "..") {
				errs = append(errs, Invalid(ip+".subPath", m.SubPath, "must not contain '..'"))
			}
		}
	}
	return errs
}

func validateResources(r *ResourceRequirements, p string) ErrorList {
	var errs ErrorList
	check := func(list ResourceList, lp string) {
		for _, name := range sortedKeys(list) {
			q := list[name]
			kp := lp + "[" + string(name) + "]"
			msgs := IsQualifiedName(string(name))
			for _, msg := range msgs {
				errs = append(errs, Invalid(kp, name, msg))
			}
			if len(msgs) == 0 && !isStandardContainerResource(name) {
				errs = append(errs, Invalid(kp, name, "must be a standard resource for containers"))
			}
			if q.Cmp(Quantity{}) < 0 {
				errs = append(errs, Invalid(kp, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, p+".limits")
	check(r.Requests, p+".requests")
	for _, name := range sortedKeys(r.Requests) {
		if l, ok := r.Limits[name]; ok && r.Requests[name].Cmp(l) > 0 {
			errs = append(errs, Invalid(p+".requests", r.Requests[name].String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, l.String())))
		}
	}
	return errs
}

func isStandardContainerResource(n ResourceName) bool {
	s := string(n)
	return n == ResourceCPU || n == ResourceMemory || n == ResourceEphemeralStorage ||
		strings.HasPrefix(s, "hugepages-") || strings.Contains(s, "/")
}

func validateProbe(pr *Probe, p string, mustSucceedOnce bool) ErrorList {
	if pr == nil {
		return nil
	}
	var errs ErrorList
	errs = append(errs, validateHandlers(p, []handlerField{
		{"exec", pr.Exec != nil}, {"httpGet", pr.HTTPGet != nil}, {"tcpSocket", pr.TCPSocket != nil}, {"grpc", pr.GRPC != nil},
	})...)
	if pr.Exec != nil {
		errs = append(errs, validateExec(pr.Exec, p+".exec")...)
	}
	if pr.HTTPGet != nil {
		errs = append(errs, validateHTTPGet(pr.HTTPGet, p+".httpGet")...)
	}
	if pr.TCPSocket != nil {
		errs = append(errs, validatePortNumOrName(pr.TCPSocket.Port, p+".tcpSocket.port")...)
	}
	if pr.GRPC != nil {
		for _, msg := range isValidPortNum(pr.GRPC.Port) {
			errs = append(errs, Invalid(p+".grpc.port", pr.GRPC.Port, msg))
		}
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold},
	} {
		if f.v < 0 {
			errs = append(errs, Invalid(p+"."+f.name, int64(f.v), "must be greater than or equal to 0"))
		}
	}
	if mustSucceedOnce && pr.SuccessThreshold != 1 {
		errs = append(errs, Invalid(p+".successThreshold", pr.SuccessThreshold, "must be 1"))
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, Invalid(p+".terminationGracePeriodSeconds", *g, "must be greater than 0"))
	}
	return errs
}

type handlerField struct {
	name string
	set  bool
}

// validateHandlers requires exactly one handler, naming the second one set.
func validateHandlers(p string, hs []handlerField) ErrorList {
	n := 0
	var errs ErrorList
	for _, h := range hs {
		if !h.set {
			continue
		}
		if n > 0 {
			errs = append(errs, Forbidden(p+"."+h.name, "may not specify more than 1 handler type"))
		}
		n++
	}
	if n == 0 {
		errs = append(errs, Required(p, "must specify a handler type"))
	}
	return errs
}

func validateExec(e *ExecAction, p string) ErrorList {
	if len(e.Command) == 0 {
		return ErrorList{Required(p+".command", "")}
	}
	return nil
}

func validateHTTPGet(h *HTTPGetAction, p string) ErrorList {
	var errs ErrorList
	if h.Path == "" {
		errs = append(errs, Required(p+".path", ""))
	}
	errs = append(errs, validatePortNumOrName(h.Port, p+".port")...)
	if h.Scheme != URISchemeHTTP && h.Scheme != URISchemeHTTPS {
		errs = append(errs, NotSupported(p+".scheme", h.Scheme, []string{"HTTP", "HTTPS"}))
	}
	for i, hd := range h.HTTPHeaders {
		for _, msg := range isHTTPHeaderName(hd.Name) {
			errs = append(errs, Invalid(fmt.Sprintf("%s.httpHeaders[%d].name", p, i), hd.Name, msg))
		}
	}
	return errs
}

func validatePortNumOrName(port IntOrString, p string) ErrorList {
	var errs ErrorList
	if port.Type == Int {
		for _, msg := range isValidPortNum(port.IntVal) {
			errs = append(errs, Invalid(p, port.IntVal, msg))
		}
		return errs
	}
	for _, msg := range IsValidPortName(port.StrVal) {
		errs = append(errs, Invalid(p, port.StrVal, msg))
	}
	return errs
}

func validateLifecycleHandler(h *LifecycleHandler, p string, grace int64) ErrorList {
	if h == nil {
		return nil
	}
	errs := validateHandlers(p, []handlerField{
		{"exec", h.Exec != nil}, {"httpGet", h.HTTPGet != nil}, {"tcpSocket", h.TCPSocket != nil}, {"sleep", h.Sleep != nil},
	})
	if h.Exec != nil {
		errs = append(errs, validateExec(h.Exec, p+".exec")...)
	}
	if h.HTTPGet != nil {
		errs = append(errs, validateHTTPGet(h.HTTPGet, p+".httpGet")...)
	}
	if h.TCPSocket != nil {
		errs = append(errs, validatePortNumOrName(h.TCPSocket.Port, p+".tcpSocket.port")...)
	}
	if h.Sleep != nil && (h.Sleep.Seconds <= 0 || h.Sleep.Seconds > grace) {
		errs = append(errs, Invalid(p+".sleep.seconds", h.Sleep.Seconds,
			fmt.Sprintf("must be greater than 0 and less than terminationGracePeriodSeconds (%d)", grace)))
	}
	return errs
}

// podUpdatableFields is Kubernetes' list in its message.
const podUpdatableFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

func validatePodSpecUpdate(n, o *PodSpec) ErrorList {
	var errs ErrorList
	if o.ActiveDeadlineSeconds != nil {
		if n.ActiveDeadlineSeconds == nil {
			errs = append(errs, Invalid("spec.activeDeadlineSeconds", n.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		} else if *n.ActiveDeadlineSeconds > *o.ActiveDeadlineSeconds {
			errs = append(errs, Invalid("spec.activeDeadlineSeconds", *n.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	// Compare the old spec with the new one's updatable fields put in it.
	m := deepCopy(o)
	if len(m.Containers) == len(n.Containers) {
		for i := range m.Containers {
			m.Containers[i].Image = n.Containers[i].Image
		}
	}
	if len(m.InitContainers) == len(n.InitContainers) {
		for i := range m.InitContainers {
			m.InitContainers[i].Image = n.InitContainers[i].Image
		}
	}
	m.ActiveDeadlineSeconds = n.ActiveDeadlineSeconds
	if g := o.TerminationGracePeriodSeconds; g != nil && *g < 0 && n.TerminationGracePeriodSeconds != nil && *n.TerminationGracePeriodSeconds == 1 {
		m.TerminationGracePeriodSeconds = n.TerminationGracePeriodSeconds
	}
	if !reflect.DeepEqual(m, n) {
		errs = append(errs, Forbidden("spec", "pod updates may not change fields other than "+podUpdatableFields+"\n"+specDiff(m, n)))
	}
	return errs
}

// specDiff names the fields that differ, one line each, as a reader of the
// error needs: the path, the old value and the new one in JSON.
func specDiff(o, n *PodSpec) string {
	var lines []string
	diffValues("spec", reflect.ValueOf(*o), reflect.ValueOf(*n), &lines)
	return strings.Join(lines, "\n")
}

func diffValues(p string, o, n reflect.Value, lines *[]string) {
	if len(*lines) >= 20 {
		return
	}
	if reflect.DeepEqual(o.Interface(), n.Interface()) {
		return
	}
	switch o.Kind() {
	case reflect.Struct:
		if o.Type() != reflect.TypeFor[Quantity]() && o.Type() != reflect.TypeFor[IntOrString]() {
			for i := 0; i < o.NumField(); i++ {
				f := o.Type().Field(i)
				name := jsonName(f)
				fp := p
				if name != "" {
					fp = p + "." + name
				}
				diffValues(fp, o.Field(i), n.Field(i), lines)
			}
			return
		}
	case reflect.Pointer:
		if !o.IsNil() && !n.IsNil() {
			diffValues(p, o.Elem(), n.Elem(), lines)
			return
		}
	case reflect.Slice:
		if o.Len() == n.Len() {
			for i := 0; i < o.Len(); i++ {
				diffValues(fmt.Sprintf("%s[%d]", p, i), o.Index(i), n.Index(i), lines)
			}
			return
		}
	}
	*lines = append(*lines, fmt.Sprintf("  %s: %s -> %s", p, jsonText(o), jsonText(n)))
}

func validateReplicaSetSpec(s *ReplicaSetSpec, p string) ErrorList {
	var errs ErrorList
	if s.Replicas != nil && *s.Replicas < 0 {
		errs = append(errs, Invalid(p+".replicas", int64(*s.Replicas), "must be greater than or equal to 0"))
	}
	if s.MinReadySeconds < 0 {
		errs = append(errs, Invalid(p+".minReadySeconds", int64(s.MinReadySeconds), "must be greater than or equal to 0"))
	}
	if s.Selector == nil {
		errs = append(errs, Required(p+".selector", ""))
	} else {
		errs = append(errs, validateLabelSelector(s.Selector, p+".selector")...)
		if len(s.Selector.MatchLabels)+len(s.Selector.MatchExpressions) == 0 {
			errs = append(errs, Invalid(p+".selector", s.Selector, "empty selector is invalid for deployment"))
		}
	}
	sel, err := LabelSelectorAsSelector(s.Selector)
	if err != nil {
		return append(errs, Invalid(p+".selector", s.Selector, "invalid label selector"))
	}
	return append(errs, validateTemplate(&s.Template, sel, p+".template", "ReplicaSet")...)
}

func validateReplicationControllerSpec(s *ReplicationControllerSpec, p string) ErrorList {
	var errs ErrorList
	if s.Replicas != nil && *s.Replicas < 0 {
		errs = append(errs, Invalid(p+".replicas", int64(*s.Replicas), "must be greater than or equal to 0"))
	}
	if s.MinReadySeconds < 0 {
		errs = append(errs, Invalid(p+".minReadySeconds", int64(s.MinReadySeconds), "must be greater than or equal to 0"))
	}
	if len(s.Selector) == 0 {
		errs = append(errs, Required(p+".selector", ""))
	} else {
		errs = append(errs, ValidateLabels(s.Selector, p+".selector")...)
	}
	if s.Template == nil {
		return append(errs, Required(p+".template", ""))
	}
	return append(errs, validateTemplate(s.Template, SelectorFromSet(s.Selector), p+".template", "ReplicationController")...)
}

// validateTemplate checks the pod template of a ReplicaSet or a
// ReplicationController.
func validateTemplate(t *PodTemplateSpec, sel Selector, p, kind string) ErrorList {
	var errs ErrorList
	if !sel.Empty() && !sel.Matches(t.Labels) {
		errs = append(errs, Invalid(p+".metadata.labels", t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, ValidateLabels(t.Labels, p+".labels")...)
	errs = append(errs, ValidateAnnotations(t.Annotations, p+".annotations")...)
	errs = append(errs, validatePodSpec(&t.Spec, p+".spec")...)
	if t.Spec.RestartPolicy != RestartPolicyAlways && t.Spec.RestartPolicy != "" {
		errs = append(errs, NotSupported(p+".spec.restartPolicy", t.Spec.RestartPolicy, []string{"Always"}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, Forbidden(p+".spec.activeDeadlineSeconds", "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

func validateLabelSelector(s *LabelSelector, p string) ErrorList {
	var errs ErrorList
	for i, r := range s.MatchExpressions {
		ip := fmt.Sprintf("%s.matchExpressions[%d]", p, i)
		switch r.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, Required(ip+".values", "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, Forbidden(ip+".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, Invalid(ip+".operator", r.Operator, "not a valid selector operator"))
		}
		for _, msg := range IsQualifiedName(r.Key) {
			errs = append(errs, Invalid(ip+".key", r.Key, msg))
		}
		for j, v := range r.Values {
			for _, msg := range IsValidLabelValue(v) {
				errs = append(errs, Invalid(fmt.Sprintf("%s.values[%d]", ip, j), v, msg))
			}
		}
	}
	return append(errs, ValidateLabels(s.MatchLabels, p+".matchLabels")...)
}

func validateNodeSpec(s *NodeSpec) ErrorList {
	var errs ErrorList
	for i, c := range s.PodCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, Invalid(fmt.Sprintf("spec.podCIDRs[%d]", i), c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
		}
	}
	for i, t := range s.Taints {
		ip := fmt.Sprintf("spec.taints[%d]", i)
		for _, msg := range IsQualifiedName(t.Key) {
			errs = append(errs, Invalid(ip+".key", t.Key, msg))
		}
		switch t.Effect {
		case TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute:
		case "":
			errs = append(errs, Required(ip+".effect", ""))
		default:
			errs = append(errs, NotSupported(ip+".effect", t.Effect, []string{"NoExecute", "NoSchedule", "PreferNoSchedule"}))
		}
	}
	return errs
}

func validateEvent(e *Event) ErrorList {
	errs := validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	if ns := e.InvolvedObject.Namespace; ns != "" && ns != e.Namespace {
		errs = append(errs, Invalid("involvedObject.namespace", ns, "does not match event.namespace"))
	}
	if e.Type != "" && e.Type != EventTypeNormal && e.Type != EventTypeWarning {
		errs = append(errs, NotSupported("type", e.Type, []string{EventTypeNormal, EventTypeWarning}))
	}
	return errs
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" && !f.Anonymous {
		return f.Name
	}
	return name
}

func jsonText(v reflect.Value) string {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprintf("%v", v.Interface())
	}
	return string(b)
}

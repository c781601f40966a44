package printers

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// pod is kubectl's description of a pod.
func (d *describer) pod(pod *api.Pod) {
	d.line(0, "Name:\t%s\n", pod.Name)
	d.line(0, "Namespace:\t%s\n", pod.Namespace)
	if pod.Spec.Priority != nil {
		d.line(0, "Priority:\t%d\n", *pod.Spec.Priority)
	}
	if pod.Spec.PriorityClassName != "" {
		d.line(0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
	}
	if pod.Spec.ServiceAccountName != "" {
		d.line(0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
	}
	if pod.Spec.NodeName == "" {
		d.line(0, "Node:\t<none>\n")
	} else {
		d.line(0, "Node:\t%s\n", pod.Spec.NodeName+"/"+pod.Status.HostIP)
	}
	if pod.Status.StartTime != nil {
		d.line(0, "Start Time:\t%s\n", d.timestamp(pod.Status.StartTime.Time))
	}
	d.labels("Labels", pod.Labels)
	d.annotations("Annotations", pod.Annotations)
	if pod.DeletionTimestamp != nil && pod.Status.Phase != api.PodFailed && pod.Status.Phase != api.PodSucceeded {
		// The deletion timestamp is the kill deadline, in the future while
		// the pod terminates: kubectl prints its age, `<invalid>`.
		d.line(0, "Status:\tTerminating (lasts %s)\n", d.since(pod.DeletionTimestamp.Time))
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			d.line(0, "Termination Grace Period:\t%ds\n", *g)
		}
	} else {
		d.line(0, "Status:\t%s\n", pod.Status.Phase)
	}
	if pod.Status.Reason != "" {
		d.line(0, "Reason:\t%s\n", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		d.line(0, "Message:\t%s\n", pod.Status.Message)
	}
	d.line(0, "IP:\t%s\n", pod.Status.PodIP)
	if len(pod.Status.PodIPs) == 0 {
		d.line(0, "IPs:\t<none>\n")
	} else {
		d.line(0, "IPs:\n")
		for _, ip := range pod.Status.PodIPs {
			d.line(1, "IP:\t%s\n", ip.IP)
		}
	}
	if ref := pod.ControllerRef(); ref != nil {
		d.line(0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	if pod.Status.NominatedNodeName != "" {
		d.line(0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
	}
	if len(pod.Spec.InitContainers) > 0 {
		d.containers("Init Containers", pod.Spec.InitContainers, pod.Status.InitContainerStatuses, pod, "")
	}
	d.containers("Containers", pod.Spec.Containers, pod.Status.ContainerStatuses, pod, "")
	if len(pod.Spec.ReadinessGates) > 0 {
		d.line(0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			status := "<none>"
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					status = string(c.Status)
					break
				}
			}
			d.line(1, "%s \t%s \n", g.ConditionType, status)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		d.line(0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			d.line(1, "%s \t%s \n", c.Type, c.Status)
		}
	}
	d.volumes(pod.Spec.Volumes, "")
	d.line(0, "QoS Class:\t%s\n", api.GetPodQOS(pod))
	d.labels("Node-Selectors", pod.Spec.NodeSelector)
	// The node adds no tolerations: it has no taints to tolerate.
	d.line(0, "Tolerations:\t<none>\n")
}

// podTemplate is the Pod Template section of a controller.
func (d *describer) podTemplate(t *api.PodTemplateSpec) {
	d.line(0, "Pod Template:\n")
	if t == nil {
		d.line(1, "<unset>")
		return
	}
	d.labels("  Labels", t.Labels)
	if len(t.Annotations) > 0 {
		d.annotations("  Annotations", t.Annotations)
	}
	if t.Spec.ServiceAccountName != "" {
		d.line(1, "Service Account:\t%s\n", t.Spec.ServiceAccountName)
	}
	if len(t.Spec.InitContainers) > 0 {
		d.containers("Init Containers", t.Spec.InitContainers, nil, nil, "  ")
	}
	d.containers("Containers", t.Spec.Containers, nil, nil, "  ")
	d.volumes(t.Spec.Volumes, "  ")
	if t.Spec.PriorityClassName != "" {
		d.line(1, "Priority Class Name:\t%s\n", t.Spec.PriorityClassName)
	}
	d.labels("  Node-Selectors", t.Spec.NodeSelector)
	d.line(0, "  Tolerations:\t<none>\n")
}

// containers describes each container with its status when it has one; pod
// is nil for a template (environment variables from the pod's fields are
// then left empty). space indents the section in a template.
func (d *describer) containers(label string, containers []api.Container, statuses []api.ContainerStatus, pod *api.Pod, space string) {
	byName := map[string]api.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	none := ""
	if len(containers) == 0 {
		none = " <none>"
	}
	d.line(0, "%s%s:%s\n", space, label, none)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for i := range containers {
		c := &containers[i]
		status, ok := byName[c.Name]
		d.line(1, "%s%s:\n", nameIndent, c.Name)
		if ok {
			d.line(2, "Container ID:\t%s\n", status.ContainerID)
		}
		d.line(2, "Image:\t%s\n", c.Image)
		if ok {
			d.line(2, "Image ID:\t%s\n", status.ImageID)
		}
		ports, hostPorts := containerPorts(c.Ports)
		if strings.Contains(ports, ",") {
			d.line(2, "Ports:\t%s\n", ports)
		} else {
			d.line(2, "Port:\t%s\n", orNone(ports))
		}
		if strings.Contains(hostPorts, ",") {
			d.line(2, "Host Ports:\t%s\n", hostPorts)
		} else {
			d.line(2, "Host Port:\t%s\n", orNone(hostPorts))
		}
		d.lines("Command", c.Command)
		d.lines("Args", c.Args)
		if ok {
			d.containerState("State", status.State)
			if status.LastTerminationState.Terminated != nil {
				d.containerState("Last State", status.LastTerminationState)
			}
			d.line(2, "Ready:\t%s\n", boolTitle(status.Ready))
			d.line(2, "Restart Count:\t%d\n", status.RestartCount)
		}
		d.resources(c.Resources, 2)
		for _, p := range []struct {
			name  string
			probe *api.Probe
		}{{"Liveness", c.LivenessProbe}, {"Readiness", c.ReadinessProbe}, {"Startup", c.StartupProbe}} {
			if p.probe != nil {
				d.line(2, "%s:\t%s\n", p.name, DescribeProbe(p.probe))
			}
		}
		d.envFrom(c)
		d.env(c, pod)
		d.mounts(c.VolumeMounts)
	}
}

// containerPorts is the Port and Host Port lines: `8080/TCP, 9090/UDP`,
// without the ports' names, as kubectl 1.32 prints them.
func containerPorts(ports []api.ContainerPort) (string, string) {
	var cp, hp []string
	for _, p := range ports {
		cp = append(cp, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		hp = append(hp, fmt.Sprintf("%d/%s", p.HostPort, p.Protocol))
	}
	return strings.Join(cp, ", "), strings.Join(hp, ", ")
}

// lines is `Command:` or `Args:` with one argument a line, an argument with
// newlines over several.
func (d *describer) lines(title string, args []string) {
	if len(args) == 0 {
		return
	}
	d.line(2, "%s:\n", title)
	for _, a := range args {
		for _, s := range strings.Split(a, "\n") {
			d.line(3, "%s\n", s)
		}
	}
}

func (d *describer) containerState(title string, s api.ContainerState) {
	switch {
	case s.Running != nil:
		d.line(2, "%s:\tRunning\n", title)
		d.line(3, "Started:\t%s\n", d.timestamp(s.Running.StartedAt.Time))
	case s.Waiting != nil:
		d.line(2, "%s:\tWaiting\n", title)
		if s.Waiting.Reason != "" {
			d.line(3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	case s.Terminated != nil:
		t := s.Terminated
		d.line(2, "%s:\tTerminated\n", title)
		if t.Reason != "" {
			d.line(3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			d.line(3, "Message:\t%s\n", t.Message)
		}
		d.line(3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			d.line(3, "Signal:\t%d\n", t.Signal)
		}
		d.line(3, "Started:\t%s\n", d.timestamp(t.StartedAt.Time))
		d.line(3, "Finished:\t%s\n", d.timestamp(t.FinishedAt.Time))
	default:
		d.line(2, "%s:\tWaiting\n", title)
	}
}

func (d *describer) resources(r api.ResourceRequirements, level int) {
	for _, part := range []struct {
		title string
		list  api.ResourceList
	}{{"Limits", r.Limits}, {"Requests", r.Requests}} {
		if len(part.list) == 0 {
			continue
		}
		d.line(level, "%s:\n", part.title)
		for _, name := range slices.Sorted(maps.Keys(part.list)) {
			d.line(level+1, "%s:\t%s\n", name, part.list[name].String())
		}
	}
}

// DescribeProbe is a probe in one line, as describe prints it:
// `http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3`.
func DescribeProbe(p *api.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
	switch {
	case p.Exec != nil:
		return fmt.Sprintf("exec %v %s", p.Exec.Command, attrs)
	case p.HTTPGet != nil:
		u := &url.URL{Scheme: strings.ToLower(string(p.HTTPGet.Scheme)), Path: p.HTTPGet.Path}
		if port := p.HTTPGet.Port.String(); port != "" {
			u.Host = net.JoinHostPort(p.HTTPGet.Host, port)
		} else {
			u.Host = p.HTTPGet.Host
		}
		return fmt.Sprintf("http-get %s %s", u.String(), attrs)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.TCPSocket.Host, p.TCPSocket.Port.String(), attrs)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GRPC.Port, service, attrs)
	}
	return "unknown " + attrs
}

// env is the Environment section. Values taken from the pod's fields are
// resolved against pod (left empty in a template), values taken from the
// container's resources against its limits and requests.
func (d *describer) env(c *api.Container, pod *api.Pod) {
	if len(c.Env) == 0 {
		d.line(2, "Environment:\t<none>\n")
		return
	}
	d.line(2, "Environment:\n")
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			for i, s := range strings.Split(e.Value, "\n") {
				if i == 0 {
					d.line(3, "%s:\t%s\n", e.Name, s)
				} else {
					d.line(3, "\t%s\n", s)
				}
			}
		case e.ValueFrom.FieldRef != nil:
			f := e.ValueFrom.FieldRef
			value := ""
			if pod != nil {
				value = podField(pod, f.FieldPath)
			}
			d.line(3, "%s:\t%s (%s:%s)\n", e.Name, value, f.APIVersion, f.FieldPath)
		case e.ValueFrom.ResourceFieldRef != nil:
			f := e.ValueFrom.ResourceFieldRef
			value := containerResource(c, f)
			if value == "0" && (f.Resource == "limits.cpu" || f.Resource == "limits.memory") {
				value = "node allocatable"
			}
			d.line(3, "%s:\t%s (%s)\n", e.Name, value, f.Resource)
		default:
			d.envKeyRef(e)
		}
	}
}

// podField is the value the downward API gives fieldPath of pod.
func podField(pod *api.Pod, path string) string {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")]
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")]
	}
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return pod.UID
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP":
		return pod.Status.HostIP
	case "status.podIP":
		return pod.Status.PodIP
	case "status.podIPs":
		ips := make([]string, len(pod.Status.PodIPs))
		for i, ip := range pod.Status.PodIPs {
			ips[i] = ip.IP
		}
		return strings.Join(ips, ",")
	}
	return ""
}

// containerResource is the value a resourceFieldRef gives: the limit or
// request divided by the divisor, rounded up; "0" when it is not set.
func containerResource(c *api.Container, f *api.ResourceFieldSelector) string {
	kind, name, _ := strings.Cut(f.Resource, ".")
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, ok := list[api.ResourceName(name)]
	if !ok {
		return "0"
	}
	divisor := api.NewQuantity(1, api.DecimalSI)
	if f.Divisor != nil && !f.Divisor.IsZero() {
		divisor = *f.Divisor
	}
	if name == string(api.ResourceCPU) {
		return strconv.FormatInt(ceilDiv(q.MilliValue(), divisor.MilliValue()), 10)
	}
	return strconv.FormatInt(ceilDiv(q.Value(), divisor.Value()), 10)
}

func ceilDiv(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

func (d *describer) mounts(mounts []api.VolumeMount) {
	if len(mounts) == 0 {
		d.line(2, "Mounts:\t<none>\n")
		return
	}
	d.line(2, "Mounts:\n")
	sorted := slices.Clone(mounts)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].MountPath < sorted[j].MountPath })
	for _, m := range sorted {
		flags := []string{"rw"}
		if m.ReadOnly {
			flags[0] = "ro"
		}
		if m.SubPath != "" {
			flags = append(flags, fmt.Sprintf("path=%q", m.SubPath))
		}
		d.line(3, "%s from %s (%s)\n", m.MountPath, m.Name, strings.Join(flags, ","))
	}
}

func (d *describer) volumes(volumes []api.Volume, space string) {
	if len(volumes) == 0 {
		d.line(0, "%sVolumes:\t<none>\n", space)
		return
	}
	d.line(0, "%sVolumes:\n", space)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, v := range volumes {
		d.line(1, "%s%s:\n", nameIndent, v.Name)
		switch {
		case v.HostPath != nil:
			typ := "<none>"
			if v.HostPath.Type != nil {
				typ = string(*v.HostPath.Type)
			}
			d.line(2, "Type:\tHostPath (bare host directory volume)\n")
			d.line(2, "Path:\t%s\n", v.HostPath.Path)
			d.line(2, "HostPathType:\t%s\n", typ)
		case v.EmptyDir != nil:
			limit := "<unset>"
			if l := v.EmptyDir.SizeLimit; l != nil && l.Cmp(api.Quantity{}) > 0 {
				limit = l.String()
			}
			d.line(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			d.line(2, "Medium:\t%s\n", v.EmptyDir.Medium)
			d.line(2, "SizeLimit:\t%s\n", limit)
		case v.Secret != nil, v.ConfigMap != nil:
			d.configVolume(v)
		default:
			d.line(1, "<unknown>\n")
		}
	}
}

// boolTitle is `True` or `False`, as describe prints a container's
// readiness.
func boolTitle(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

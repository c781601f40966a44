package printers

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
)

// PodCounts is the Pods Status line of a controller: its pods by phase.
type PodCounts struct {
	Running, Waiting, Succeeded, Failed int
}

// CountPods counts, by phase, the pods whose controller is the object with
// uid; pods without a controller or with another one are not counted, as
// kubectl does not count them.
func CountPods(pods []*api.Pod, uid string) PodCounts {
	var c PodCounts
	for _, p := range pods {
		ref := p.ControllerRef()
		if ref == nil || ref.UID != uid {
			continue
		}
		switch p.Status.Phase {
		case api.PodRunning:
			c.Running++
		case api.PodPending:
			c.Waiting++
		case api.PodSucceeded:
			c.Succeeded++
		case api.PodFailed:
			c.Failed++
		}
	}
	return c
}

func (d *describer) replicaSet(rs *api.ReplicaSet, pods PodCounts) {
	d.line(0, "Name:\t%s\n", rs.Name)
	d.line(0, "Namespace:\t%s\n", rs.Namespace)
	d.line(0, "Selector:\t%s\n", table.FormatLabelSelector(rs.Spec.Selector))
	d.labels("Labels", rs.Labels)
	d.annotations("Annotations", rs.Annotations)
	if ref := rs.ControllerRef(); ref != nil {
		d.line(0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	d.line(0, "Replicas:\t%d current / %d desired\n", rs.Status.Replicas, desired(rs.Spec.Replicas))
	d.podsStatus(pods)
	d.podTemplate(&rs.Spec.Template)
	if len(rs.Status.Conditions) > 0 {
		d.line(0, "Conditions:\n  Type\tStatus\tReason\n")
		d.line(1, "----\t------\t------\n")
		for _, c := range rs.Status.Conditions {
			d.line(1, "%s \t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
}

func (d *describer) replicationController(rc *api.ReplicationController, pods PodCounts) {
	d.line(0, "Name:\t%s\n", rc.Name)
	d.line(0, "Namespace:\t%s\n", rc.Namespace)
	d.line(0, "Selector:\t%s\n", table.FormatLabels(rc.Spec.Selector))
	d.labels("Labels", rc.Labels)
	d.annotations("Annotations", rc.Annotations)
	d.line(0, "Replicas:\t%d current / %d desired\n", rc.Status.Replicas, desired(rc.Spec.Replicas))
	d.podsStatus(pods)
	d.podTemplate(rc.Spec.Template)
	if len(rc.Status.Conditions) > 0 {
		d.line(0, "Conditions:\n  Type\tStatus\tReason\n")
		d.line(1, "----\t------\t------\n")
		for _, c := range rc.Status.Conditions {
			d.line(1, "%s \t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
}

func (d *describer) podsStatus(c PodCounts) {
	d.line(0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed\n",
		c.Running, c.Waiting, c.Succeeded, c.Failed)
}

// desired is spec.replicas, 1 when unset (its default).
func desired(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// node is kubectl's description of a node. pods are the pods bound to it;
// those that have ended are not counted.
func (d *describer) node(node *api.Node, pods []*api.Pod) {
	d.line(0, "Name:\t%s\n", node.Name)
	d.line(0, "Roles:\t%s\n", orNone(strings.Join(table.NodeRoles(node), ",")))
	d.labels("Labels", node.Labels)
	d.annotations("Annotations", node.Annotations)
	d.line(0, "CreationTimestamp:\t%s\n", d.timestamp(node.CreationTimestamp.Time))
	d.taints(node.Spec.Taints)
	d.line(0, "Unschedulable:\t%v\n", node.Spec.Unschedulable)
	// kubectl reads the node's heartbeat Lease here; the node serves no
	// Leases (its heartbeat is the Ready condition), and kubectl says so
	// in these words, which wasmlet's describe repeats.
	d.line(0, "Lease:\tFailed to get lease: the server could not find the requested resource\n")
	if len(node.Status.Conditions) > 0 {
		d.line(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		d.line(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range node.Status.Conditions {
			d.line(1, "%s \t%s \t%s \t%s \t%s \t%s\n", c.Type, c.Status,
				d.timestamp(c.LastHeartbeatTime.Time), d.timestamp(c.LastTransitionTime.Time), c.Reason, c.Message)
		}
	}
	d.line(0, "Addresses:\n")
	for _, a := range node.Status.Addresses {
		d.line(1, "%s:\t%s\n", a.Type, a.Address)
	}
	for _, part := range []struct {
		title string
		list  api.ResourceList
	}{{"Capacity", node.Status.Capacity}, {"Allocatable", node.Status.Allocatable}} {
		if len(part.list) == 0 {
			continue
		}
		d.line(0, "%s:\n", part.title)
		for _, name := range slices.Sorted(maps.Keys(part.list)) {
			d.line(0, "  %s:\t%s\n", name, part.list[name].String())
		}
	}
	info := node.Status.NodeInfo
	d.line(0, "System Info:\n")
	d.line(0, "  Machine ID:\t%s\n", info.MachineID)
	d.line(0, "  System UUID:\t%s\n", info.SystemUUID)
	d.line(0, "  Boot ID:\t%s\n", info.BootID)
	d.line(0, "  Kernel Version:\t%s\n", info.KernelVersion)
	d.line(0, "  OS Image:\t%s\n", info.OSImage)
	d.line(0, "  Operating System:\t%s\n", info.OperatingSystem)
	d.line(0, "  Architecture:\t%s\n", info.Architecture)
	d.line(0, "  Container Runtime Version:\t%s\n", info.ContainerRuntimeVersion)
	d.line(0, "  Kubelet Version:\t%s\n", info.KubeletVersion)
	d.line(0, "  Kube-Proxy Version:\t%s\n", info.KubeProxyVersion)
	if node.Spec.PodCIDR != "" {
		d.line(0, "PodCIDR:\t%s\n", node.Spec.PodCIDR)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		d.line(0, "PodCIDRs:\t%s\n", strings.Join(node.Spec.PodCIDRs, ","))
	}
	if node.Spec.ProviderID != "" {
		d.line(0, "ProviderID:\t%s\n", node.Spec.ProviderID)
	}
	d.nodeResources(node, pods)
}

// taints is one `key=value:effect` a line, sorted by effect and key.
func (d *describer) taints(taints []api.Taint) {
	d.raw("Taints:\t")
	if len(taints) == 0 {
		d.raw("<none>\n")
		return
	}
	sorted := slices.Clone(taints)
	sort.SliceStable(sorted, func(i, j int) bool {
		return string(sorted[i].Effect)+","+sorted[i].Key < string(sorted[j].Effect)+","+sorted[j].Key
	})
	for i, t := range sorted {
		if i > 0 {
			d.raw("\t")
		}
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		d.raw(s + "\n")
	}
}

// nodeResources is the Non-terminated Pods table and the Allocated
// resources summary: each pod's cpu and memory requests and limits, and
// their share of what the node can allocate.
func (d *describer) nodeResources(node *api.Node, all []*api.Pod) {
	var pods []*api.Pod
	for _, p := range all {
		if p.Status.Phase != api.PodSucceeded && p.Status.Phase != api.PodFailed {
			pods = append(pods, p)
		}
	}
	alloc := node.Status.Capacity
	if len(node.Status.Allocatable) > 0 {
		alloc = node.Status.Allocatable
	}
	d.line(0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	d.line(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
	d.line(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
	totalReq, totalLim := resourceSum{}, resourceSum{}
	for _, p := range pods {
		req, lim := podResources(p, false), podResources(p, true)
		totalReq.add(req)
		totalLim.add(lim)
		d.line(1, "%s\t%s\t\t%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name,
			share(req.get(api.ResourceCPU), alloc, api.ResourceCPU),
			share(lim.get(api.ResourceCPU), alloc, api.ResourceCPU),
			share(req.get(api.ResourceMemory), alloc, api.ResourceMemory),
			share(lim.get(api.ResourceMemory), alloc, api.ResourceMemory),
			d.since(p.CreationTimestamp.Time))
	}
	d.line(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
	d.line(1, "Resource\tRequests\tLimits\n")
	d.line(1, "--------\t--------\t------\n")
	for _, name := range []api.ResourceName{api.ResourceCPU, api.ResourceMemory, api.ResourceEphemeralStorage} {
		d.line(1, "%s\t%s\t%s\n", name, share(totalReq.get(name), alloc, name), share(totalLim.get(name), alloc, name))
	}
	for _, name := range slices.Sorted(maps.Keys(alloc)) {
		switch {
		case name == api.ResourceCPU, name == api.ResourceMemory, name == api.ResourceEphemeralStorage,
			name == api.ResourcePods, strings.HasPrefix(string(name), "hugepages-"):
			continue
		}
		d.line(1, "%s\t%s\t%s\n", name, totalReq.get(name), totalLim.get(name))
	}
}

// share is `250m (12%)`: q and its part of what the node can allocate of
// name, rounded down; 0% when the node reports none.
func share(q api.Quantity, alloc api.ResourceList, name api.ResourceName) string {
	a, ok := alloc[name]
	pct := int64(0)
	if ok {
		if name == api.ResourceCPU {
			if m := a.MilliValue(); m != 0 {
				pct = int64(float64(q.MilliValue()) / float64(m) * 100)
			}
		} else if v := a.Value(); v != 0 {
			pct = int64(float64(q.Value()) / float64(v) * 100)
		}
	}
	return fmt.Sprintf("%s (%d%%)", q.String(), pct)
}

// resourceSum adds quantities by resource, in thousandths, keeping the
// format of the first quantity of each resource.
type resourceSum map[api.ResourceName]struct {
	milli  int64
	format api.Format
}

func (s resourceSum) addQuantity(name api.ResourceName, q api.Quantity) {
	v, ok := s[name]
	if !ok {
		v.format = q.Format()
	}
	v.milli += q.MilliValue()
	s[name] = v
}

func (s resourceSum) add(o resourceSum) {
	for name, v := range o {
		cur, ok := s[name]
		if !ok {
			cur.format = v.format
		}
		cur.milli += v.milli
		s[name] = cur
	}
}

// max keeps, for each resource of o, the larger of the two amounts.
func (s resourceSum) max(o resourceSum) {
	for name, v := range o {
		if cur, ok := s[name]; !ok || v.milli > cur.milli {
			s[name] = v
		}
	}
}

func (s resourceSum) get(name api.ResourceName) api.Quantity {
	v, ok := s[name]
	if !ok {
		return api.Quantity{}
	}
	if v.milli%1000 == 0 {
		return api.NewQuantity(v.milli/1000, v.format)
	}
	return api.NewMilliQuantity(v.milli, v.format)
}

// podResources is what a pod asks for (limits when limits is set,
// requests otherwise): the sum over its containers, or the largest init
// container's when that is more, as Kubernetes counts a pod.
func podResources(p *api.Pod, limits bool) resourceSum {
	list := func(c *api.Container) api.ResourceList {
		if limits {
			return c.Resources.Limits
		}
		return c.Resources.Requests
	}
	sum := resourceSum{}
	for i := range p.Spec.Containers {
		for name, q := range list(&p.Spec.Containers[i]) {
			sum.addQuantity(name, q)
		}
	}
	for i := range p.Spec.InitContainers {
		one := resourceSum{}
		for name, q := range list(&p.Spec.InitContainers[i]) {
			one.addQuantity(name, q)
		}
		sum.max(one)
	}
	return sum
}

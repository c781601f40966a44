package table

import (
	"slices"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

type nodePrinter struct{}

func (nodePrinter) columns(wide bool) []string {
	c := []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}
	if wide {
		c = append(c, "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME")
	}
	return c
}

func (nodePrinter) row(obj api.Object, now time.Time, wide bool) []string {
	node := obj.(*api.Node)
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type == api.NodeReady {
			status = "NotReady"
			if c.Status == api.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	info := node.Status.NodeInfo
	row := []string{node.Name, status, orNone(strings.Join(NodeRoles(node), ",")),
		age(node.CreationTimestamp, now), info.KubeletVersion}
	if wide {
		row = append(row, nodeAddress(node, api.NodeInternalIP), nodeAddress(node, api.NodeExternalIP),
			orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion))
	}
	return row
}

// NodeRoles are the names after `node-role.kubernetes.io/` in the node's
// label keys, and the value of `kubernetes.io/role`, sorted.
func NodeRoles(node *api.Node) []string {
	var roles []string
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if r := strings.TrimPrefix(k, "node-role.kubernetes.io/"); r != "" {
				roles = append(roles, r)
			}
		case k == "kubernetes.io/role" && v != "":
			roles = append(roles, v)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

func nodeAddress(node *api.Node, typ api.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

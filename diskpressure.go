package wasmlet

import (
	"fmt"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/events"
)

// recordDiskPressure makes the store's refusals for want of disk space
// events about the node, with the kubelet's reasons (NodeHasDiskPressure,
// NodeHasNoDiskPressure). An event is a write: the store lets the node's
// own writes use its reserve, and drops the event when even that is gone.
// Damage found in the store while it runs is a StoreDamaged event.
func (n *Node) recordDiskPressure() {
	if n.cfg.inMemory {
		return
	}
	rec := events.NewRecorder(n.st, "kubelet", n.cfg.nodeName, n.clock).WithLogger(n.log)
	node := &api.Node{
		TypeMeta:   api.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: n.cfg.nodeName},
	}
	n.st.NotifyDiskPressure(func(pressure bool, message string) {
		if pressure {
			rec.Event(node, events.Warning, "NodeHasDiskPressure", message)
			return
		}
		rec.Event(node, events.Normal, "NodeHasNoDiskPressure",
			fmt.Sprintf("Node %s status is now: NodeHasNoDiskPressure", n.cfg.nodeName))
	})
	// Damage found in the store while it is open (a table changed on
	// disk): the reads that meet it fail with a 500, and the node says
	// so once per file.
	n.st.NotifyDamage(func(message string) {
		rec.Event(node, events.Warning, "StoreDamaged", message)
	})
}

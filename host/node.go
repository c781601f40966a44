package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/version"
)

const (
	// nodeHeartbeatPeriod is how often the Node's Ready condition is
	// renewed (the kubelet's nodeStatusUpdateFrequency).
	nodeHeartbeatPeriod = 10 * time.Second
	// maxPods is the node's pod capacity.
	maxPods = 1000
)

func nodesResource() *api.ResourceInfo {
	r, ok := api.LookupResource("nodes")
	if !ok {
		panic("host: the api package serves no nodes resource")
	}
	return r
}

// registerNode creates the node's v1 Node, or brings an existing one up to
// date (a restarted node keeps its uid and creationTimestamp).
func (h *Host) registerNode(ctx context.Context) error {
	now := h.clock.Now()
	want := h.nodeObject(now)
	_, err := h.st.Create(ctx, want)
	if err == nil {
		return nil
	}
	if !api.IsAlreadyExists(err) {
		return fmt.Errorf("host: registering node %s: %w", h.opts.NodeName, err)
	}
	_, err = h.st.GuaranteedUpdate(ctx, nodesResource(), "", h.opts.NodeName, func(o api.Object) (api.Object, error) {
		n, ok := o.(*api.Node)
		if !ok {
			return nil, fmt.Errorf("nodes/%s is not a Node", h.opts.NodeName)
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			n.Labels[k] = v
		}
		old := n.Status.Conditions
		n.Status = clone(want.Status)
		for i := range n.Status.Conditions {
			for _, c := range old {
				if c.Type == n.Status.Conditions[i].Type && c.Status == n.Status.Conditions[i].Status {
					n.Status.Conditions[i].LastTransitionTime = c.LastTransitionTime
				}
			}
		}
		return n, nil
	})
	if err != nil {
		return fmt.Errorf("host: updating node %s: %w", h.opts.NodeName, err)
	}
	return nil
}

// heartbeat renews the Ready condition's heartbeat every 10 s: one write
// per period for the whole node, whatever the number of pods. The images
// the node holds (status.images) are written with it, and at once when a
// pull or a removal changed them.
func (h *Host) heartbeat(ctx context.Context) {
	next := h.clock.Now().Add(nodeHeartbeatPeriod)
	t := h.clock.NewTimer(nodeHeartbeatPeriod)
	defer t.Stop()
	for {
		beat := false
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			beat = true
		case <-h.images.changed:
		}
		now := api.NewTime(h.clock.Now())
		images := h.images.statusImages()
		_, err := h.st.GuaranteedUpdate(ctx, nodesResource(), "", h.opts.NodeName, func(o api.Object) (api.Object, error) {
			n, ok := o.(*api.Node)
			if !ok {
				return nil, fmt.Errorf("nodes/%s is not a Node", h.opts.NodeName)
			}
			if !beat && reflect.DeepEqual(n.Status.Images, images) {
				return nil, errNoChange
			}
			n.Status.Images = images
			for i := range n.Status.Conditions {
				if beat && n.Status.Conditions[i].Type == api.NodeReady {
					n.Status.Conditions[i].LastHeartbeatTime = now
				}
			}
			return n, nil
		})
		if errors.Is(err, errNoChange) {
			err = nil
		}
		if api.IsNotFound(err) {
			err = h.registerNode(ctx)
		}
		if err != nil && ctx.Err() == nil {
			h.log.Warn("node heartbeat", "err", err)
		}
		if !beat {
			continue
		}
		// The next beat is on the schedule, not a period after this write.
		next = next.Add(nodeHeartbeatPeriod)
		if !next.After(h.clock.Now()) {
			next = h.clock.Now().Add(nodeHeartbeatPeriod)
		}
		t.Reset(next.Sub(h.clock.Now()))
	}
}

func (h *Host) nodeObject(now time.Time) *api.Node {
	t := api.NewTime(now)
	hostname, _ := os.Hostname()
	if hostname == "" {
		hostname = h.opts.NodeName
	}
	mem := machineMemory()
	resources := api.ResourceList{
		api.ResourcePods:   quantity(strconv.Itoa(maxPods)),
		api.ResourceMemory: quantity(strconv.FormatUint(mem/1024, 10) + "Ki"),
		api.ResourceCPU:    quantity(strconv.Itoa(runtime.NumCPU())),
	}
	return &api.Node{
		TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name: h.opts.NodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname":  h.opts.NodeName,
				"kubernetes.io/os":        runtime.GOOS,
				"kubernetes.io/arch":      runtime.GOARCH,
				"beta.kubernetes.io/os":   runtime.GOOS,
				"beta.kubernetes.io/arch": runtime.GOARCH,
			},
		},
		Spec: api.NodeSpec{PodCIDR: h.opts.PodCIDR, PodCIDRs: []string{h.opts.PodCIDR}},
		Status: api.NodeStatus{
			Capacity:    resources,
			Allocatable: clone(resources),
			Phase:       "",
			Conditions: []api.NodeCondition{{
				Type:               api.NodeReady,
				Status:             api.ConditionTrue,
				LastHeartbeatTime:  t,
				LastTransitionTime: t,
				Reason:             "KubeletReady",
				Message:            "kubelet is posting ready status",
			}},
			Images: h.images.statusImages(),
			Addresses: []api.NodeAddress{
				{Type: api.NodeInternalIP, Address: "127.0.0.1"},
				{Type: api.NodeHostName, Address: hostname},
			},
			NodeInfo: api.NodeSystemInfo{
				MachineID:               readTrimmed("/etc/machine-id"),
				BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
				KernelVersion:           readTrimmed("/proc/sys/kernel/osrelease"),
				OSImage:                 osImage(),
				ContainerRuntimeVersion: version.RuntimeVersion,
				KubeletVersion:          version.Version,
				OperatingSystem:         runtime.GOOS,
				Architecture:            runtime.GOARCH,
			},
		},
	}
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// osImage is PRETTY_NAME of /etc/os-release, as the kubelet reports it.
func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return runtime.GOOS
}

// machineMemory is MemTotal of /proc/meminfo in bytes (0 when unknown).
func machineMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			fields := strings.Fields(v)
			if len(fields) > 0 {
				n, _ := strconv.ParseUint(fields[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

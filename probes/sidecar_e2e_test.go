package probes_test

import (
	"context"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestSidecarStartupProbe: a sidecar init container with a startup probe
// runs, unstarted, and the pod's container waits until the probe has
// passed; then both run, the sidecar started and ready.
func TestSidecarStartupProbe(t *testing.T) {
	n := startNode(t)
	name := podName(t)
	always := api.ContainerRestartPolicyAlways
	grace := int64(5)
	image := examples.MustBuild(t, "liveness")
	tmp := []api.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	p := &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{
			InitContainers: []api.Container{{
				Name: "proxy", Image: image, Args: []string{"run"}, RestartPolicy: &always,
				Env:          []api.EnvVar{{Name: "HEALTHY_FOR", Value: "1h"}},
				VolumeMounts: tmp,
				StartupProbe: &api.Probe{
					ProbeHandler:        api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
					InitialDelaySeconds: 5, PeriodSeconds: 1, FailureThreshold: 30, SuccessThreshold: 1, TimeoutSeconds: 30,
				},
			}},
			Containers:                    []api.Container{{Name: "app", Image: image, Args: []string{"run"}, VolumeMounts: tmp}},
			RestartPolicy:                 api.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			Volumes:                       []api.Volume{{Name: "tmp", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}},
		},
	}
	api.Default(p)
	if _, err := n.st.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	proxy := func(p *api.Pod) *api.ContainerStatus {
		if len(p.Status.InitContainerStatuses) != 1 {
			return nil
		}
		return &p.Status.InitContainerStatuses[0]
	}
	// The probe's initial delay has not passed on the node's clock: the
	// sidecar runs unstarted, and the container waits.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		p := n.pod(name)
		if cs := proxy(p); cs != nil && cs.State.Running != nil {
			if cs.Started == nil || *cs.Started || cs.Ready {
				t.Fatalf("sidecar before its startup probe passed: %+v", cs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sidecar does not run: %+v; events %q", p.Status, n.events(name))
		}
	}
	time.Sleep(200 * time.Millisecond)
	p = n.pod(name)
	if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Waiting == nil || cs[0].State.Waiting.Reason != "PodInitializing" || p.Status.Phase != api.PodPending {
		t.Fatalf("the container before the sidecar started: phase %s, %+v", p.Status.Phase, cs)
	}
	p = n.until("the container running", time.Minute, running)
	if cs := proxy(p); cs.State.Running == nil || cs.Started == nil || !*cs.Started || !cs.Ready {
		t.Errorf("sidecar once the container runs: %+v", cs)
	}
	if n.clk.Since(t0) < 5*time.Second {
		t.Errorf("the container started %v after the pod, before the startup probe's delay of 5s", n.clk.Since(t0))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == api.PodInitialized && c.Status != api.ConditionTrue {
			t.Errorf("Initialized %+v", c)
		}
	}
}

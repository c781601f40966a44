package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/internal/version"
)

// result is what one run of a probe's mechanism found ([k8s] pkg/probe).
type result int

const (
	resultUnknown result = iota
	resultSuccess
	resultWarning // a success with something to say (a redirect not followed)
	resultFailure
)

func (r result) String() string {
	switch r {
	case resultSuccess:
		return "success"
	case resultWarning:
		return "warning"
	case resultFailure:
		return "failure"
	default:
		return "unknown"
	}
}

// maxProbeRetries is how many times a probe that errored is tried in a row.
const maxProbeRetries = 3

// Event reasons of the prober and of the hooks, as the kubelet writes them.
const (
	reasonUnhealthy         = "Unhealthy"
	reasonProbeWarning      = "ProbeWarning"
	reasonFailedPreStopHook = "FailedPreStopHook"
	reasonHTTPFallback      = "LifecycleHTTPFallback"
)

// probe runs a probe of an instance, retrying errors, records its event,
// and returns its verdict; an error means the run is to be thrown away.
func (m *Manager) probe(ctx context.Context, typ probeType, p *api.Probe, in *instance) (bool, error) {
	var (
		res    result
		output string
		err    error
	)
	for range maxProbeRetries {
		res, output, err = m.runProbe(ctx, p, in)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		m.log.Debug("probe errored", "type", typ, "pod", in.pod.Namespace+"/"+in.pod.Name, "container", in.spec.Name, "err", err)
		m.recorder.Eventf(in.pod, events.Warning, reasonUnhealthy, "%s probe errored and resulted in %s state: %s", typ, res, err)
		return false, err
	}
	switch res {
	case resultSuccess:
		return true, nil
	case resultWarning:
		m.recorder.Eventf(in.pod, events.Warning, reasonProbeWarning, "%s probe warning: %s", typ, output)
		return true, nil
	case resultFailure:
		m.log.Debug("probe failed", "type", typ, "pod", in.pod.Namespace+"/"+in.pod.Name, "container", in.spec.Name, "output", output)
		m.recorder.Eventf(in.pod, events.Warning, reasonUnhealthy, "%s probe failed: %s", typ, output)
		return false, nil
	default:
		return false, nil
	}
}

// runProbe runs a probe's mechanism once.
func (m *Manager) runProbe(ctx context.Context, p *api.Probe, in *instance) (result, string, error) {
	timeout := timeoutOf(p)
	pod, _ := in.probedPod()
	podIP := pod.Status.PodIP
	switch {
	case p.Exec != nil:
		return m.execProbe(ctx, pod, in.spec.Name, expandCommand(p.Exec.Command, in.spec.Env), timeout)
	case p.HTTPGet != nil:
		req, err := newHTTPRequest(p.HTTPGet, in.spec, podIP, "probe")
		if err != nil {
			return resultUnknown, "", err
		}
		return m.httpProbe(ctx, req, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, in.spec)
		if err != nil {
			return resultUnknown, "", err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		return m.tcpProbe(ctx, host, port, timeout)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return m.grpcProbe(ctx, podIP, int(p.GRPC.Port), service, timeout)
	default:
		return resultUnknown, "", fmt.Errorf("missing probe handler for %s:%s", podString(in.pod), in.spec.Name)
	}
}

// userAgent is kube-<purpose>/<major>.<minor> of the Kubernetes release
// followed.
func userAgent(purpose string) string {
	v := strings.TrimPrefix(version.KubernetesCompat, "v")
	if s := strings.Split(v, "."); len(s) >= 2 {
		return fmt.Sprintf("kube-%s/%s.%s", purpose, s[0], s[1])
	}
	return "kube-" + purpose
}

// errTimeout is the cause of a probe's context that ended at its timeout.
var errTimeout = errors.New("probe timeout")

// withTimeout is context.WithTimeout on the Manager's clock.
func (m *Manager) withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := m.clock.AfterFunc(d, func() { cancel(errTimeout) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// timedOut reports whether ctx ended at its timeout.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errTimeout)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

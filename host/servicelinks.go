package host

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
)

// appendServiceLinks adds to a container's environment the variables the
// kubelet gives it for each Service of its namespace that has a cluster
// IP when the container starts ({SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT,
// {SVC}_SERVICE_PORT_{NAME} and the Docker link ones: links, from
// serviceLinks). A variable the container sets itself wins; its own
// values' $(VAR) saw them already (containerEnv).
// Guests have no DNS resolver through WASI preview 1: these variables are
// how a guest finds a Service (docs/guest-abi.md). vars gets them too, so
// that command and args may name them.
func appendServiceLinks(env []string, vars map[string]string, links []string) []string {
	seen := make(map[string]bool, len(vars))
	for k := range vars {
		seen[k] = true
	}
	for _, kv := range links {
		name, value, _ := strings.Cut(kv, "=")
		if seen[name] {
			continue
		}
		seen[name] = true
		vars[name] = value
		env = append(env, kv)
	}
	return env
}

// serviceLinks is the variables (NAME=value) of the Services of the pod's
// namespace, none when the pod sets enableServiceLinks false.
func (h *Host) serviceLinks(pod *api.Pod) []string {
	if pod.Spec.EnableServiceLinks != nil && !*pod.Spec.EnableServiceLinks {
		return nil
	}
	res, ok := api.ResourceOf(&api.Service{})
	if !ok {
		return nil
	}
	objs, _, err := h.st.List(context.Background(), res, pod.Namespace, store.ListOptions{})
	if err != nil {
		return nil // as a kubelet whose service lister is not synced yet
	}
	var svcs []*api.Service
	for _, o := range objs {
		if s, ok := o.(*api.Service); ok {
			svcs = append(svcs, s)
		}
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	return ServiceLinkEnv(svcs)
}

// ServiceLinkEnv is the kubelet's environment variables (NAME=value) for
// services, in order: those without a cluster IP (headless,
// ExternalName) give none.
func ServiceLinkEnv(svcs []*api.Service) []string {
	var env []string
	for _, s := range svcs {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == api.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := envVarName(s.Name)
		env = append(env,
			prefix+"_SERVICE_HOST="+ip,
			prefix+"_SERVICE_PORT="+strconv.Itoa(int(s.Spec.Ports[0].Port)))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				env = append(env, prefix+"_SERVICE_PORT_"+envVarName(p.Name)+"="+strconv.Itoa(int(p.Port)))
			}
		}
		for i, p := range s.Spec.Ports {
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(api.ProtocolTCP)
			}
			lower := strings.ToLower(proto)
			url := lower + "://" + net.JoinHostPort(ip, strconv.Itoa(int(p.Port)))
			if i == 0 {
				env = append(env, prefix+"_PORT="+url)
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			env = append(env,
				pp+"="+url,
				pp+"_PROTO="+lower,
				pp+"_PORT="+strconv.Itoa(int(p.Port)),
				pp+"_ADDR="+ip)
		}
	}
	return env
}

func envVarName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

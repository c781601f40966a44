package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
)

// containerConfig is the WASI configuration of an instance of c in pod:
// argv, environment, mounts and memory limit (the listeners are bound by
// the caller).
func (h *Host) containerConfig(pod *api.Pod, c *api.Container, podIP string) (wasi.Config, error) {
	var cfg wasi.Config
	cfg.Clock = nil // guests see the real clock (DESIGN section 4)

	env := make([]string, 0, len(c.Env)+4)
	vars := map[string]string{}
	for _, e := range c.Env {
		v := expandVars(e.Value, vars)
		vars[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	env = append(env,
		"HOSTNAME="+pod.Name,
		"POD_NAME="+pod.Name,
		"POD_NAMESPACE="+pod.Namespace,
		"POD_IP="+podIP,
	)
	cfg.Env = env

	var args []string
	if len(c.Command) == 0 {
		args = append(args, c.Name)
	} else {
		for _, a := range c.Command {
			args = append(args, expandVars(a, vars))
		}
	}
	for _, a := range c.Args {
		args = append(args, expandVars(a, vars))
	}
	cfg.Args = args

	for _, m := range c.VolumeMounts {
		dir, err := h.volumeDir(pod, m.Name)
		if err != nil {
			return cfg, err
		}
		if m.SubPath != "" {
			dir = filepath.Join(dir, filepath.Clean("/"+m.SubPath))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return cfg, fmt.Errorf("volume %q subPath %q: %w", m.Name, m.SubPath, err)
			}
		}
		cfg.Mounts = append(cfg.Mounts, wasi.Mount{GuestPath: m.MountPath, HostDir: dir, ReadOnly: m.ReadOnly})
	}

	cfg.CPUMilli = h.cpuLimit(c)
	limit, err := h.memoryLimit(c)
	if err != nil {
		return cfg, err
	}
	cfg.MemoryLimitBytes = limit
	return cfg, nil
}

// expandVars replaces $(NAME) with the value of an earlier variable, as
// Kubernetes expands command, args and env values; $$ escapes a $, and an
// unknown reference stays as written.
func expandVars(s string, vars map[string]string) string {
	if len(s) < 2 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			out = append(out, s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			out = append(out, '$')
			i++
		case '(':
			end := -1
			for j := i + 2; j < len(s); j++ {
				if s[j] == ')' {
					end = j
					break
				}
			}
			if end < 0 {
				out = append(out, s[i:]...)
				return string(out)
			}
			name := s[i+2 : end]
			if v, ok := vars[name]; ok {
				out = append(out, v...)
			} else {
				out = append(out, s[i:end+1]...)
			}
			i = end
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

// volumeDir is the directory on the node of the pod's volume name:
// emptyDir under DataDir/pods/<uid>/volumes/<name> (kept across container
// restarts, removed with the pod), hostPath as given (the API checked it
// against the allowed directories).
func (h *Host) volumeDir(pod *api.Pod, name string) (string, error) {
	for _, v := range pod.Spec.Volumes {
		if v.Name != name {
			continue
		}
		switch {
		case v.EmptyDir != nil:
			dir := filepath.Join(h.podsDir, pod.UID, "volumes", name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("volume %q: %w", name, err)
			}
			return dir, nil
		case v.HostPath != nil:
			dir := v.HostPath.Path
			if v.HostPath.Type != nil && *v.HostPath.Type == api.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return "", fmt.Errorf("volume %q: %w", name, err)
				}
			}
			fi, err := os.Stat(dir)
			if err != nil {
				return "", fmt.Errorf("volume %q: hostPath %s: %w", name, dir, err)
			}
			if !fi.IsDir() {
				return "", fmt.Errorf("volume %q: hostPath %s is not a directory", name, dir)
			}
			return dir, nil
		default:
			return "", fmt.Errorf("volume %q: only emptyDir and hostPath volumes are supported", name)
		}
	}
	return "", fmt.Errorf("volumeMount %q: no volume of that name in the pod", name)
}

// bindListeners opens one TCP listener per TCP containerPort on the pod's
// IP, in declaration order.
func bindListeners(c *api.Container, podIP string) ([]wasi.Listener, error) {
	var ls []wasi.Listener
	closeAll := func() {
		for _, l := range ls {
			l.L.Close()
		}
	}
	for _, p := range c.Ports {
		if p.Protocol != "" && p.Protocol != api.ProtocolTCP {
			continue
		}
		addr := net.JoinHostPort(podIP, strconv.Itoa(int(p.ContainerPort)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("container port %d: listen tcp %s: %w", p.ContainerPort, addr, unwrapOp(err))
		}
		ls = append(ls, wasi.Listener{Name: p.Name, L: l})
	}
	return ls, nil
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

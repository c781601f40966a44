package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/host/wasi"
)

// containerConfig is the WASI configuration of an instance of c in pod:
// argv, environment, mounts and limits (the listeners are bound by the
// caller). The mounts' directories are open in it: the caller hands it to
// the runtime's Start, or releases it (wasi.Config.Release).
func (h *Host) containerConfig(pod *api.Pod, c *api.Container, podIP string) (cfg wasi.Config, err error) {
	defer func() {
		if err != nil {
			cfg.Release()
		}
	}()
	cfg.Clock = nil // guests see the real clock (DESIGN section 4)

	links := h.serviceLinks(pod)
	env, vars, err := h.containerEnv(pod, c, links)
	if err != nil {
		return cfg, err
	}
	env = append(env,
		"HOSTNAME="+pod.Name,
		"POD_NAME="+pod.Name,
		"POD_NAMESPACE="+pod.Namespace,
		"POD_IP="+podIP,
	)
	env = appendServiceLinks(env, vars, links)
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
		root, quota, err := h.mountRoot(pod, m)
		if err != nil {
			return cfg, err
		}
		// configMap and secret volumes are read-only whatever the mount says, as on Kubernetes.
		readOnly := m.ReadOnly || slices.ContainsFunc(pod.Spec.Volumes, func(v api.Volume) bool { return v.Name == m.Name && isConfigVolume(&v) })
		cfg.Mounts = append(cfg.Mounts, wasi.Mount{GuestPath: m.MountPath, Root: root, ReadOnly: readOnly, Quota: quota})
	}
	cfg.MaxOpenFiles = h.opts.Limits.OpenFiles

	cfg.CPUMilli = h.cpuLimit(c)
	limit, err := h.memoryLimit(c)
	if err != nil {
		return cfg, err
	}
	cfg.MemoryLimitBytes = limit
	cfg.MemoryPool = h.memory
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

// Volumes are handed to the WASI layer as open directories (os.Root), never
// as paths, and every path the node builds for a guest is resolved under a
// root it cannot leave, at the time it is used: the emptyDir under the
// directory of the pods, a subPath under its volume, a hostPath under the
// allowed directory that holds it. os.Root resolves each name a component
// at a time, itself, and refuses `..` and symbolic links that would leave
// the root, so that what a guest made in its volume before (links,
// renamed directories) can lead the node nowhere outside it
// (docs/RATIONALE.md, "Containment").
const (
	// volumeDirMode is the mode of the directories the node makes for a
	// pod: its own, volumes/ and each emptyDir's (made private whatever
	// their mode was). What a guest creates inside follows the layer's
	// modes.
	volumeDirMode = 0o700
	// subPathMode is the mode of a subPath directory the node makes inside
	// a volume, as the layer makes a guest's directories.
	subPathMode = 0o755
)

// mountRoot opens the directory of the volumeMount m of pod: its volume's,
// or its subPath's, resolved inside the volume. The quota is the volume's
// (nil for a hostPath).
func (h *Host) mountRoot(pod *api.Pod, m api.VolumeMount) (*os.Root, *wasi.Quota, error) {
	vol, quota, err := h.volumeRoot(pod, m.Name)
	if err != nil {
		return nil, nil, err
	}
	if m.SubPath == "" {
		return vol, quota, nil
	}
	defer vol.Close()
	// The API refuses these; the node does not rely on it.
	if path.IsAbs(m.SubPath) || slices.Contains(strings.Split(m.SubPath, "/"), "..") {
		return nil, nil, fmt.Errorf("volume %q subPath %q: must be a relative path without '..'", m.Name, m.SubPath)
	}
	if err := quota.MkdirAll(vol, m.SubPath, subPathMode); err != nil {
		return nil, nil, fmt.Errorf("volume %q subPath %q: %w", m.Name, m.SubPath, err)
	}
	sub, err := vol.OpenRoot(m.SubPath)
	if err != nil {
		return nil, nil, fmt.Errorf("volume %q subPath %q: %w", m.Name, m.SubPath, err)
	}
	return sub, quota, nil
}

// volumeRoot opens the directory on the node of the pod's volume name:
// emptyDir under DataDir/pods/<uid>/volumes/<name> (kept across container
// restarts, removed with the pod) with its quota, hostPath under the
// allowed directory that holds it.
func (h *Host) volumeRoot(pod *api.Pod, name string) (*os.Root, *wasi.Quota, error) {
	for _, v := range pod.Spec.Volumes {
		if v.Name != name {
			continue
		}
		switch {
		case v.EmptyDir != nil:
			root, err := h.emptyDirRoot(pod.UID, name)
			if err != nil {
				return nil, nil, fmt.Errorf("volume %q: %w", name, err)
			}
			limit := h.opts.Limits.EmptyDir
			if l := v.EmptyDir.SizeLimit; l != nil && l.Value() > 0 {
				limit = l.Value()
			}
			quota, err := h.volumes.quota(pod.UID, name, root, limit)
			if err != nil {
				root.Close()
				return nil, nil, fmt.Errorf("volume %q: %w", name, err)
			}
			return root, quota, nil
		case v.HostPath != nil:
			create := v.HostPath.Type != nil && *v.HostPath.Type == api.HostPathDirectoryOrCreate
			root, err := h.hostPathRoot(v.HostPath.Path, create)
			if err != nil {
				return nil, nil, fmt.Errorf("volume %q: %w", name, err)
			}
			return root, nil, nil
		case isConfigVolume(&v):
			root, err := h.configVolumeRoot(pod.UID, name)
			return root, nil, err
		default:
			return nil, nil, fmt.Errorf("volume %q: only emptyDir, hostPath, configMap and secret volumes are supported", name)
		}
	}
	return nil, nil, fmt.Errorf("volumeMount %q: no volume of that name in the pod", name)
}

// emptyDirRoot opens (making it) the directory of the emptyDir volume name
// of the pod uid, under the directory of the pods. Nothing on that path is
// within a guest's reach: a guest reaches only inside its volumes.
func (h *Host) emptyDirRoot(uid, name string) (*os.Root, error) {
	if !pathComponent(uid) || !pathComponent(name) {
		return nil, fmt.Errorf("pod UID %q or volume name %q cannot name a directory", uid, name)
	}
	pods, err := os.OpenRoot(h.podsDir)
	if err != nil {
		return nil, err
	}
	defer pods.Close()
	rel := filepath.Join(uid, "volumes", name)
	if err := pods.MkdirAll(rel, volumeDirMode); err != nil {
		return nil, err
	}
	root, err := pods.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	if err := chmodRoot(root, volumeDirMode); err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// pathComponent reports whether s names one entry of a directory. The
// API allows only such names (DNS labels, the UIDs it makes); the node
// checks again rather than rely on it: a name with a slash or `..` would
// still stay under the root it is resolved in, but could reach another
// pod's directory there.
func pathComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsRune(s, '/')
}

// chmodRoot sets the mode of root's directory itself, through its open
// directory rather than a path.
func chmodRoot(root *os.Root, mode os.FileMode) error {
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(mode)
}

// hostPathRoot opens the hostPath dir under the allowed directory that
// holds it (the API checked that one does, when the pod was created): a
// hostPath that is, or passes through, a symbolic link leading out of that
// directory is refused now, whatever it was when the pod was created.
// With create, the missing directories are made (DirectoryOrCreate).
func (h *Host) hostPathRoot(dir string, create bool) (*os.Root, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("hostPath %s is not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	var lastErr error
	for _, allowed := range h.opts.AllowedHostPaths {
		rel, ok := pathUnder(dir, allowed)
		if !ok {
			continue
		}
		r, err := openUnder(allowed, rel, create)
		if err == nil {
			return r, nil
		}
		lastErr = fmt.Errorf("hostPath %s: %w", dir, err)
	}
	if lastErr == nil {
		return nil, fmt.Errorf("hostPath %s is not under a directory this node allows", dir)
	}
	return nil, lastErr
}

// openUnder opens rel under the directory base, resolved inside it.
func openUnder(base, rel string, create bool) (*os.Root, error) {
	b, err := os.OpenRoot(base)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if create {
		if err := b.MkdirAll(rel, 0o755); err != nil {
			return nil, err
		}
	}
	return b.OpenRoot(rel)
}

// pathUnder returns p relative to dir when p is dir or below it (both
// clean and absolute).
func pathUnder(p, dir string) (string, bool) {
	if dir == "" || !filepath.IsAbs(dir) {
		return "", false
	}
	dir = filepath.Clean(dir)
	switch {
	case p == dir:
		return ".", true
	case dir == "/":
		return p[1:], true
	case strings.HasPrefix(p, dir+"/"):
		return p[len(dir)+1:], true
	}
	return "", false
}

// volumeQuotas are the quotas of the pods' emptyDir volumes, by pod UID
// and volume name. Each is measured at its first mount since the node
// started, then shared by every mount of the volume (each container of the
// pod, its exec probes, its restarts) until the pod is removed.
type volumeQuotas struct {
	mu   sync.Mutex
	pods map[string]map[string]*volumeQuota
}

type volumeQuota struct {
	mu sync.Mutex // held while the volume is measured
	q  *wasi.Quota
}

// quota returns the quota of the pod uid's volume name, whose directory is
// root, measuring the volume the first time.
func (v *volumeQuotas) quota(uid, name string, root *os.Root, limit int64) (*wasi.Quota, error) {
	v.mu.Lock()
	if v.pods == nil {
		v.pods = map[string]map[string]*volumeQuota{}
	}
	vols := v.pods[uid]
	if vols == nil {
		vols = map[string]*volumeQuota{}
		v.pods[uid] = vols
	}
	vq := vols[name]
	if vq == nil {
		vq = &volumeQuota{}
		vols[name] = vq
	}
	v.mu.Unlock()

	vq.mu.Lock()
	defer vq.mu.Unlock()
	if vq.q == nil {
		q, err := wasi.NewQuota(root, limit)
		if err != nil {
			return nil, err
		}
		vq.q = q
	}
	return vq.q, nil
}

// forget drops the quotas of the pod uid, whose volumes are gone.
func (v *volumeQuotas) forget(uid string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.pods, uid)
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

package host

// configMap and secret volumes: a directory of the pod on the node,
// DataDir/pods/<uid>/volumes/<name>, holding one file per key, which the
// guest mounts read-only and the worker rewrites when the object changes.
//
// A guest holds its mount as an open directory, so a new version cannot be
// a new directory swapped in for it: the swap happens inside. As on the
// kubelet, each version is a directory of its own, "..<time>", a relative
// symbolic link "..data" names the current one, and each top-level name of
// the volume is a link through it ("key" -> "..data/key"). A new version
// is written whole into a new directory, then "..data" is replaced by a
// rename, which is atomic: a guest opening "key" reads the old file or the
// new one, never half of one, and a file it holds open stays the version
// it opened. The links never leave the volume, so the WASI layer, which
// resolves every path under the mount's root, follows them.
//
// Everything is made through an os.Root of the volume's directory, whose
// names come from the API and are checked again here.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/events"
)

const (
	// configDataLink names the current version of a config volume.
	configDataLink = "..data"
	configTmpLink  = "..data_tmp"
)

// configVolumeState is a worker's knowledge of its pod's config volumes.
type configVolumeState struct {
	mu  sync.Mutex
	due bool // an object they use changed

	// Owned by the worker's goroutine.
	refreshed time.Time // when they were last written from the store
	ready     bool      // each has been written once
}

func (s *configVolumeState) markDue() {
	s.mu.Lock()
	s.due = true
	s.mu.Unlock()
}

func (s *configVolumeState) takeDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.due
	s.due = false
	return due
}

func isConfigVolume(v *api.Volume) bool { return v.ConfigMap != nil || v.Secret != nil }

// syncConfigVolumes writes the pod's configMap and secret volumes when they
// were never written, when an object they use changed, or a resync period
// after the last time, as the kubelet's volume manager remounts them on
// its sync. It reports whether the containers may start: every config
// volume has been written once. A volume that cannot be written is a
// FailedMount event; one that was written before keeps its files.
func (w *podWorker) syncConfigVolumes(pod *api.Pod, now time.Time) bool {
	st := &w.configVolumes
	due := st.takeDue()
	if !slices.ContainsFunc(pod.Spec.Volumes, func(v api.Volume) bool { return isConfigVolume(&v) }) {
		st.ready = true
		return true
	}
	if st.ready && !due && now.Sub(st.refreshed) < resyncPeriod {
		return true
	}
	ready := true
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !isConfigVolume(v) {
			continue
		}
		if err := w.h.writeConfigVolume(pod, v); err != nil {
			w.h.recorder.Eventf(pod, events.Warning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", v.Name, err)
			if !w.h.configVolumeWritten(pod.UID, v.Name) {
				ready = false
			}
		}
	}
	st.ready, st.refreshed = ready, now
	if !ready {
		st.refreshed = time.Time{}
		w.wakeAt(now.Add(podSyncRetryPeriod))
	}
	return ready
}

// configFile is one file of a config volume.
type configFile struct {
	data []byte
	mode int32
}

// configPayload is what the volume v of a pod in ns holds now: its path
// in the volume to each file, as the kubelet's configMap and secret
// volume plugins make it.
func (h *Host) configPayload(ns string, v *api.Volume) (map[string]configFile, error) {
	src := h.configSources(ns)
	var (
		data        = map[string][]byte{}
		items       []api.KeyToPath
		defaultMode = api.DefaultVolumeMode
		optional    bool
		missingKey  func(string) error
	)
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		items, optional = s.Items, isTrue(s.Optional)
		if s.DefaultMode != nil {
			defaultMode = *s.DefaultMode
		}
		missingKey = func(k string) error { return fmt.Errorf("configmap references non-existent config key: %s", k) }
		cm, err := src.configMap(s.Name)
		if err != nil {
			if optional && isSourceNotFound(err) {
				return map[string]configFile{}, nil
			}
			return nil, err
		}
		for k, d := range cm.Data {
			data[k] = []byte(d)
		}
		for k, d := range cm.BinaryData {
			data[k] = d
		}
	case v.Secret != nil:
		s := v.Secret
		items, optional = s.Items, isTrue(s.Optional)
		if s.DefaultMode != nil {
			defaultMode = *s.DefaultMode
		}
		missingKey = func(k string) error { return fmt.Errorf("references non-existent secret key: %s", k) }
		sec, err := src.secret(s.SecretName)
		if err != nil {
			if optional && isSourceNotFound(err) {
				return map[string]configFile{}, nil
			}
			return nil, err
		}
		data = secretData(sec)
	default:
		return nil, fmt.Errorf("volume %q is neither a configMap nor a secret", v.Name)
	}
	out := map[string]configFile{}
	if len(items) == 0 {
		for k, d := range data {
			out[k] = configFile{d, defaultMode}
		}
	} else {
		for _, it := range items {
			d, ok := data[it.Key]
			if !ok {
				if optional {
					continue
				}
				return nil, missingKey(it.Key)
			}
			mode := defaultMode
			if it.Mode != nil {
				mode = *it.Mode
			}
			out[it.Path] = configFile{d, mode}
		}
	}
	for p, f := range out {
		if !payloadPath(p) {
			return nil, fmt.Errorf("%q cannot be a file of the volume: a path must be relative, without '.' or '..' elements, and not start with '..'", p)
		}
		if f.mode < 0 || f.mode > 0o777 {
			return nil, fmt.Errorf("file %q: mode %#o is not between 0 and 0777", p, f.mode)
		}
	}
	return out, nil
}

// payloadPath reports whether p may name a file of a config volume: the
// API refuses the others, and the node does not rely on it.
func payloadPath(p string) bool {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
	}
	return true
}

// hostFileMode is the mode of a config volume's file on the node: the
// owner's bits of its mode, and always readable by the node, whose user
// reads it for the guest. Group and others get nothing: a Secret's files
// are never readable by another user of the machine. A WASI guest sees no
// modes.
func hostFileMode(mode int32) os.FileMode { return os.FileMode(mode)&0o700 | 0o400 }

// configVolumeDir opens (making it) the directory of the pod's config
// volume name, private to the node's user.
func (h *Host) configVolumeDir(uid, name string) (*os.Root, error) {
	// emptyDirRoot makes and opens DataDir/pods/<uid>/volumes/<name>,
	// mode 0700, checking both names.
	return h.emptyDirRoot(uid, name)
}

// configVolumeWritten reports whether the pod's config volume name holds
// a version (written by this node process or an earlier one).
func (h *Host) configVolumeWritten(uid, name string) bool {
	if !pathComponent(uid) || !pathComponent(name) {
		return false
	}
	_, err := os.Lstat(path.Join(h.podsDir, uid, "volumes", name, configDataLink))
	return err == nil
}

// configVolumeRoot opens the pod's config volume name for a mount; the
// worker wrote it before any container started.
func (h *Host) configVolumeRoot(uid, name string) (*os.Root, error) {
	if !h.configVolumeWritten(uid, name) {
		return nil, fmt.Errorf("volume %q is not set up yet", name)
	}
	return h.configVolumeDir(uid, name)
}

// writeConfigVolume brings the pod's volume v up to date with its object.
func (h *Host) writeConfigVolume(pod *api.Pod, v *api.Volume) error {
	payload, err := h.configPayload(pod.Namespace, v)
	if err != nil {
		return err
	}
	root, err := h.configVolumeDir(pod.UID, v.Name)
	if err != nil {
		return err
	}
	defer root.Close()
	return writeConfigPayload(root, payload, h.clock.Now(), mountsSubPath(pod, v.Name))
}

// mountsSubPath reports whether a container of pod mounts a subPath of
// the volume name. Such a mount is the version directory of when the
// container started, which is not updated, as on Kubernetes, and must not
// go away under it: the volume's old versions are then kept until the pod
// goes.
func mountsSubPath(pod *api.Pod, name string) bool {
	for _, cs := range [][]api.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, m := range c.VolumeMounts {
				if m.Name == name && m.SubPath != "" {
					return true
				}
			}
		}
	}
	return false
}

// writeConfigPayload makes payload the content of the config volume whose
// directory is root, unless it already is; keepOld keeps the versions it
// replaces.
func writeConfigPayload(root *os.Root, payload map[string]configFile, now time.Time, keepOld bool) error {
	old, err := root.Readlink(configDataLink)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if old != "" && (!strings.HasPrefix(old, "..") || strings.Contains(old, "/")) {
		return fmt.Errorf("%s leads to %q, not to a version of the volume", configDataLink, old)
	}
	if old != "" && payloadIs(root, old, payload) {
		return nil
	}

	// The new version, whole, before anything points at it.
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		return err
	}
	version := fmt.Sprintf("..%s.%09d", now.UTC().Format("2006_01_02_15_04_05"), n.Int64())
	if err := root.Mkdir(version, 0o700); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(payload)) {
		f := payload[p]
		name := version + "/" + p
		if dir := path.Dir(name); dir != version {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return err
			}
		}
		if err := writeConfigFile(root, name, f.data, hostFileMode(f.mode)); err != nil {
			return err
		}
	}

	// The swap: a new link renamed over the old one.
	if err := root.Remove(configTmpLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := root.Symlink(version, configTmpLink); err != nil {
		return err
	}
	if err := root.Rename(configTmpLink, configDataLink); err != nil {
		return err
	}

	// The names the guest sees, each a link through ..data; names of the
	// old version that the new one lacks go.
	top := map[string]bool{}
	for p := range payload {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		target := configDataLink + "/" + name
		if t, err := root.Readlink(name); err == nil && t == target {
			continue
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		if err := root.Symlink(target, name); err != nil {
			return err
		}
	}
	dir, err := root.Open(".")
	if err != nil {
		return err
	}
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == configDataLink || name == version:
		case keepOld && strings.HasPrefix(name, "..20"):
		case strings.HasPrefix(name, ".."), !top[name]:
			// Old versions (and one a crash left half written), and
			// names the payload no longer has.
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeConfigFile(root *os.Root, name string, data []byte, mode os.FileMode) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // whatever the umask took away
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var errPayloadDiffers = errors.New("the volume holds another payload")

// payloadIs reports whether the version directory holds exactly payload,
// with the modes it would be written with.
func payloadIs(root *os.Root, version string, payload map[string]configFile) bool {
	seen := 0
	err := fs.WalkDir(root.FS(), version, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel := strings.TrimPrefix(p, version+"/")
		f, ok := payload[rel]
		if !ok || !d.Type().IsRegular() {
			return errPayloadDiffers
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != hostFileMode(f.mode) || info.Size() != int64(len(f.data)) {
			return errPayloadDiffers
		}
		data, err := root.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.data) {
			return errPayloadDiffers
		}
		seen++
		return nil
	})
	return err == nil && seen == len(payload)
}

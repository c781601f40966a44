package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/oci"
	"github.com/wasmlet/wasmlet/store"
)

// The node's registry images as the kubelet shows and removes them: listed
// in the Node's status.images, removed on request through the node proxy
// (`wasmlet rmi`), and by image garbage collection (imagegc.go). Module
// files and http(s) URLs are not images the node holds and are not listed.

// maxNodeImages is how many images status.images lists, the largest first
// (the kubelet's nodeStatusMaxImages).
const maxNodeImages = 50

// nodeImage is one image of the node: the references of the store that
// resolved to one manifest of one repository.
type nodeImage struct {
	repo     string // "127.0.0.1:5000/hello"
	digest   string // manifest digest
	refs     []string
	module   string // module digest
	size     int64
	pulled   time.Time // the earliest pull of its references
	lastUsed time.Time // the latest use of any of them
}

// repoDigest is the image's repo@digest name.
func (im *nodeImage) repoDigest() string { return im.repo + "@" + im.digest }

// names are the image's names as status.images lists them: repo@digest,
// then each repo:tag, with Docker Hub named docker.io as containerd does.
func (im *nodeImage) names() []string {
	out := []string{displayName(im.repoDigest())}
	for _, r := range im.refs {
		if !strings.Contains(r, "@") {
			out = append(out, displayName(r))
		}
	}
	return out
}

func displayName(ref string) string {
	if rest, ok := strings.CutPrefix(ref, "index.docker.io/"); ok {
		return "docker.io/" + rest
	}
	return ref
}

// repository is the repository of a fully qualified reference.
func repository(ref string) string {
	r, err := oci.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Context().Name()
}

// registryStore is the store of registry images, opened when it was not
// yet; nil when the node keeps none.
func (m *imageManager) registryStore() *oci.Store {
	p, err := m.puller()
	if err != nil {
		return nil
	}
	return p.Store
}

// Stored reports whether a pull of the registry image under policy takes
// it from the node's store without asking the registry: the kubelet's
// "already present on machine", also for the first start after a node
// restart, before the module is compiled again.
func (m *imageManager) Stored(image string, policy api.PullPolicy) bool {
	if policy == api.PullAlways {
		return false
	}
	if reg, err := api.IsRegistryImage(image); err != nil || !reg {
		return false
	}
	ref, err := oci.ParseReference(image)
	if err != nil {
		return false
	}
	st := m.registryStore()
	if st == nil {
		return false
	}
	_, ok := st.Lookup(ref.Name())
	return ok
}

// AsksRegistry reports whether every pull of image under policy asks the
// registry: a registry image under Always.
func (m *imageManager) AsksRegistry(image string, policy api.PullPolicy) bool {
	reg, err := api.IsRegistryImage(image)
	return err == nil && reg && policy == api.PullAlways
}

// imagesChanged tells the node status that the images changed.
func (m *imageManager) imagesChanged() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// nodeImages groups the store's references by repository and manifest.
func (m *imageManager) nodeImages() []nodeImage {
	st := m.registryStore()
	if st == nil {
		return nil
	}
	byName := map[string]*nodeImage{}
	var out []*nodeImage
	for _, im := range st.Images() {
		repo := repository(im.Reference)
		key := repo + "@" + im.Digest
		g := byName[key]
		if g == nil {
			g = &nodeImage{repo: repo, digest: im.Digest, module: im.Module, size: im.Size, pulled: im.Pulled}
			byName[key] = g
			out = append(out, g)
		}
		g.refs = append(g.refs, im.Reference)
		if im.Pulled.Before(g.pulled) {
			g.pulled = im.Pulled
		}
		if im.LastUsed.After(g.lastUsed) {
			g.lastUsed = im.LastUsed
		}
	}
	list := make([]nodeImage, len(out))
	for i, g := range out {
		list[i] = *g
	}
	return list
}

// statusImages is status.images: the largest images first, at most
// maxNodeImages of them.
func (m *imageManager) statusImages() []api.ContainerImage {
	ims := m.sortedImages()
	if len(ims) > maxNodeImages {
		ims = ims[:maxNodeImages]
	}
	var out []api.ContainerImage
	for i := range ims {
		out = append(out, api.ContainerImage{Names: ims[i].names(), SizeBytes: ims[i].size})
	}
	return out
}

// sortedImages are the node's images, the largest first.
func (m *imageManager) sortedImages() []nodeImage {
	ims := m.nodeImages()
	sort.SliceStable(ims, func(i, j int) bool {
		if ims[i].size != ims[j].size {
			return ims[i].size > ims[j].size
		}
		return ims[i].repoDigest() < ims[j].repoDigest()
	})
	return ims
}

// listImages is the node proxy's GET /images: every image of the node,
// the largest first, with the times status.images has no field for.
func (m *imageManager) listImages() *api.NodeImageList {
	list := &api.NodeImageList{TypeMeta: api.TypeMeta{Kind: "NodeImageList", APIVersion: "v1"}, Items: []api.NodeImage{}}
	for _, im := range m.sortedImages() {
		list.Items = append(list.Items, api.NodeImage{Names: im.names(), SizeBytes: im.size, Pulled: im.pulled, LastUsed: im.lastUsed})
	}
	return list
}

// imageUsers maps each registry reference the node's pods name (fully
// qualified) to those pods ("namespace/name"). A pod uses its images until
// it is deleted, whatever its phase, as a container that exited still holds
// its image on a cluster node until it is removed.
func (h *Host) imageUsers(ctx context.Context) (map[string][]string, error) {
	objs, _, err := h.st.List(ctx, podsResource(), "", store.ListOptions{})
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, o := range objs {
		p, ok := o.(*api.Pod)
		if !ok || p.Spec.NodeName != h.opts.NodeName {
			continue
		}
		pod := p.Namespace + "/" + p.Name
		for _, c := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
			if reg, err := api.IsRegistryImage(c.Image); err != nil || !reg {
				continue
			}
			ref, err := oci.ParseReference(c.Image)
			if err != nil {
				continue
			}
			if n := ref.Name(); !slices.Contains(users[n], pod) {
				users[n] = append(users[n], pod)
			}
		}
	}
	return users, nil
}

// usedBy lists the pods that use im.
func (im *nodeImage) usedBy(users map[string][]string) []string {
	var pods []string
	for _, n := range append([]string{im.repoDigest()}, im.refs...) {
		for _, p := range users[n] {
			if !slices.Contains(pods, p) {
				pods = append(pods, p)
			}
		}
	}
	sort.Strings(pods)
	return pods
}

// findImage finds the image that name names: one of its references, its
// repo@digest, or a prefix of its digest ("sha256:…" or the hex alone) as
// `wasmlet images` prints it.
func findImage(ims []nodeImage, name string) (*nodeImage, error) {
	if ref, err := oci.ParseReference(name); err == nil {
		for i := range ims {
			if ims[i].repoDigest() == ref.Name() || slices.Contains(ims[i].refs, ref.Name()) {
				return &ims[i], nil
			}
		}
	}
	hexPart := strings.TrimPrefix(name, "sha256:")
	if len(hexPart) < 4 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return nil, nil
	}
	var found *nodeImage
	for i := range ims {
		if strings.HasPrefix(strings.TrimPrefix(ims[i].digest, "sha256:"), hexPart) {
			if found != nil && found.digest != ims[i].digest {
				return nil, api.NewBadRequest(fmt.Sprintf("%s names more than one image: %s and %s", name, found.repoDigest(), ims[i].repoDigest()))
			}
			if found == nil {
				found = &ims[i]
			}
		}
	}
	return found, nil
}

// removeImageRefs removes the references of im from the store, and says
// how many bytes of modules that freed.
func (m *imageManager) removeImageRefs(im *nodeImage) (freed int64, err error) {
	st := m.registryStore()
	if st == nil {
		return 0, nil
	}
	defer m.imagesChanged()
	for _, r := range im.refs {
		if err := st.Remove(r); err != nil {
			return freed, err
		}
	}
	m.forgetImage(im)
	if !st.Has(im.module) {
		freed = im.size
		m.dropModule(strings.TrimPrefix(im.module, "sha256:"))
	}
	return freed, nil
}

// forgetImage forgets that the pod images naming im were pulled, so that
// the next pod naming one pulls it again.
func (m *imageManager) forgetImage(im *nodeImage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for image := range m.known {
		if reg, err := api.IsRegistryImage(image); err != nil || !reg {
			continue
		}
		if ref, err := oci.ParseReference(image); err == nil && (ref.Name() == im.repoDigest() || slices.Contains(im.refs, ref.Name())) {
			delete(m.known, image)
		}
	}
}

// dropModule releases the module compiled from a removed image, so that
// its machine code leaves memory with the image; kept while another image
// (a module file with the same bytes, another reference) still names it,
// or while it is being compiled. Instances already running keep the code
// they run.
func (m *imageManager) dropModule(digest string) {
	m.mu.Lock()
	for _, d := range m.known {
		if d == digest {
			m.mu.Unlock()
			return
		}
	}
	e, ok := m.compiled[digest]
	if ok {
		select {
		case <-e.done:
			delete(m.compiled, digest)
		default:
			ok = false
		}
	}
	m.mu.Unlock()
	if !ok || e.err != nil {
		return
	}
	if c, ok := e.mod.(interface{ Close(context.Context) error }); ok {
		c.Close(context.Background())
	}
}

// RemoveImage removes a registry image from the node, as `crictl rmi`
// does: refused (Conflict) while a pod of the node names it.
func (h *Host) RemoveImage(ctx context.Context, name string) ([]string, error) {
	h.images.removeMu.Lock()
	defer h.images.removeMu.Unlock()
	im, err := findImage(h.images.nodeImages(), name)
	if err != nil {
		return nil, err
	}
	if im == nil {
		return nil, api.NewNotFound("", "images", name)
	}
	users, err := h.imageUsers(ctx)
	if err != nil {
		return nil, err
	}
	if pods := im.usedBy(users); len(pods) > 0 {
		return nil, api.NewConflict("", "images", name, fmt.Sprintf("the image is in use by pod %s", strings.Join(pods, ", ")))
	}
	names := im.names()
	if _, err := h.images.removeImageRefs(im); err != nil {
		return nil, err
	}
	h.log.Info("image removed", "image", im.repoDigest(), "references", im.refs)
	return names, nil
}

// NodeProxy answers what the API server proxies to the node under
// /api/v1/nodes/{name}/proxy/, as a kubelet answers its API server's
// proxy: GET /images lists the node's images with their last use
// (`wasmlet images`), DELETE /images?image=NAME removes one (`wasmlet
// rmi`). The
// API server authenticates the request before it gets here.
func (h *Host) NodeProxy() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/images", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			b, _ := json.Marshal(h.images.listImages())
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
			return
		}
		if r.Method != http.MethodDelete {
			writeProxyStatus(w, api.NewMethodNotSupported("", "images", strings.ToLower(r.Method)))
			return
		}
		name := r.URL.Query().Get("image")
		if name == "" || len(name) > 1024 {
			writeProxyStatus(w, api.NewBadRequest("image is required: DELETE .../proxy/images?image=NAME"))
			return
		}
		names, err := h.RemoveImage(r.Context(), name)
		if err != nil {
			st, ok := err.(*api.Status)
			if !ok {
				st = api.NewInternalError(err)
			}
			writeProxyStatus(w, st)
			return
		}
		writeProxyStatus(w, &api.Status{TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Success",
			Code: http.StatusOK, Message: "Deleted: " + strings.Join(names, ", ")})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProxyStatus(w, api.NewNotFound("", "nodes/proxy", r.URL.Path))
	})
	return mux
}

func writeProxyStatus(w http.ResponseWriter, st *api.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Status == "" {
		st.Status = "Failure"
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	w.Write(b)
}

package host

// ConfigMaps and Secrets as the kubelet uses them: a container's
// environment from env valueFrom configMapKeyRef/secretKeyRef and envFrom
// (this file), and configMap and secret volumes (configvolumes.go).
//
// The node reads them from the store when it needs them (a container's
// start, a volume's refresh), never from a cache that could be behind the
// store. A watch of both kinds wakes the worker of every pod that uses an
// object when it is created, changed or deleted: a container waiting in
// CreateContainerConfigError for a missing ConfigMap starts as soon as the
// ConfigMap exists, and a volume is rewritten at once, not at the next
// resync (docs/RATIONALE.md, "ConfigMaps and Secrets on the node").

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/events"
	"github.com/wasmlet/wasmlet/store"
)

// ReasonInvalidEnvironmentVariableNames is the kubelet's event for keys of
// an envFrom that cannot name a variable and were left out.
const ReasonInvalidEnvironmentVariableNames = "InvalidEnvironmentVariableNames"

func configMapsResource() *api.ResourceInfo { return mustResource("configmaps") }
func secretsResource() *api.ResourceInfo    { return mustResource("secrets") }

func mustResource(name string) *api.ResourceInfo {
	r, ok := api.LookupResource(name)
	if !ok {
		panic("host: the api package serves no " + name + " resource")
	}
	return r
}

// sourceNotFoundError is a ConfigMap or Secret a pod names that does not
// exist, in the kubelet's words: `configmap "x" not found`.
type sourceNotFoundError struct{ kind, name string }

func (e *sourceNotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.kind, e.name) }

func isSourceNotFound(err error) bool {
	var nf *sourceNotFoundError
	return errors.As(err, &nf)
}

// configSources reads the ConfigMaps and Secrets of one namespace, each
// once, so that one container's variables come from one version of each.
type configSources struct {
	h       *Host
	ctx     context.Context
	ns      string
	cms     map[string]*api.ConfigMap
	secrets map[string]*api.Secret
}

func (h *Host) configSources(ns string) *configSources {
	return &configSources{h: h, ctx: h.workloads, ns: ns, cms: map[string]*api.ConfigMap{}, secrets: map[string]*api.Secret{}}
}

func (s *configSources) configMap(name string) (*api.ConfigMap, error) {
	if cm, ok := s.cms[name]; ok {
		return cm, nil
	}
	o, err := s.h.st.Get(s.ctx, configMapsResource(), s.ns, name)
	if api.IsNotFound(err) {
		return nil, &sourceNotFoundError{"configmap", name}
	}
	if err != nil {
		return nil, err
	}
	cm, ok := o.(*api.ConfigMap)
	if !ok {
		return nil, fmt.Errorf("configmap %q: the store holds a %T", name, o)
	}
	s.cms[name] = cm
	return cm, nil
}

func (s *configSources) secret(name string) (*api.Secret, error) {
	if sec, ok := s.secrets[name]; ok {
		return sec, nil
	}
	o, err := s.h.st.Get(s.ctx, secretsResource(), s.ns, name)
	if api.IsNotFound(err) {
		return nil, &sourceNotFoundError{"secret", name}
	}
	if err != nil {
		return nil, err
	}
	sec, ok := o.(*api.Secret)
	if !ok {
		return nil, fmt.Errorf("secret %q: the store holds a %T", name, o)
	}
	s.secrets[name] = sec
	return sec, nil
}

// secretData is a Secret's data, with stringData merged over it as the API
// server merges it on write (so that an object written past the API still
// reads as a cluster would serve it).
func secretData(s *api.Secret) map[string][]byte {
	if len(s.StringData) == 0 {
		return s.Data
	}
	out := maps.Clone(s.Data)
	if out == nil {
		out = map[string][]byte{}
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// containerEnv is the environment a container starts with, as the kubelet
// builds it: every envFrom source in order (its keys, prefixed, that can
// name a variable), then env in order, each entry replacing a variable of
// the same name in place; a value's $(VAR) sees the variables set before
// it, or a Service's variable (links, NAME=value). A missing object or
// key that is not optional is an error (the
// container waits in CreateContainerConfigError); an optional one leaves
// its variables out. It returns the variables as NAME=value in order, and
// their values by name for command and args.
func (h *Host) containerEnv(pod *api.Pod, c *api.Container, links []string) ([]string, map[string]string, error) {
	src := h.configSources(pod.Namespace)
	var names []string
	vars := map[string]string{}
	// scope is what a $(VAR) sees: the Services' variables, then the
	// container's own as they are set, as the kubelet expands them.
	scope := make(map[string]string, len(links))
	for _, kv := range links {
		name, value, _ := strings.Cut(kv, "=")
		scope[name] = value
	}
	set := func(name, value string) {
		if _, ok := vars[name]; !ok {
			names = append(names, name)
		}
		vars[name] = value
		scope[name] = value
	}
	for _, ef := range c.EnvFrom {
		var (
			kind, name string
			optional   bool
			values     map[string]string
		)
		switch {
		case ef.ConfigMapRef != nil:
			kind, name, optional = "configMap", ef.ConfigMapRef.Name, isTrue(ef.ConfigMapRef.Optional)
			cm, err := src.configMap(name)
			if err != nil {
				if optional && isSourceNotFound(err) {
					continue
				}
				return nil, nil, err
			}
			values = cm.Data
		case ef.SecretRef != nil:
			kind, name, optional = "secret", ef.SecretRef.Name, isTrue(ef.SecretRef.Optional)
			sec, err := src.secret(name)
			if err != nil {
				if optional && isSourceNotFound(err) {
					continue
				}
				return nil, nil, err
			}
			values = map[string]string{}
			for k, v := range secretData(sec) {
				values[k] = string(v)
			}
		default:
			continue
		}
		var invalid []string
		for _, k := range slices.Sorted(maps.Keys(values)) {
			v := ef.Prefix + k
			if len(api.IsEnvVarName(v)) > 0 {
				invalid = append(invalid, v)
				continue
			}
			set(v, values[k])
		}
		if len(invalid) > 0 {
			h.recorder.Eventf(pod, events.Warning, ReasonInvalidEnvironmentVariableNames,
				"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, name)
		}
	}
	for _, e := range c.Env {
		v := e.Value
		if v != "" {
			v = expandVars(v, scope)
		} else if e.ValueFrom != nil {
			val, ok, err := src.keyRef(e.ValueFrom)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
			v = val
		}
		set(e.Name, v)
	}
	env := make([]string, 0, len(names)+4)
	for _, n := range names {
		env = append(env, n+"="+vars[n])
	}
	return env, vars, nil
}

// keyRef is the value of a configMapKeyRef or secretKeyRef; ok is false
// when an optional object or key is missing. Other sources are not the
// node's yet and read as empty.
func (s *configSources) keyRef(from *api.EnvVarSource) (value string, ok bool, err error) {
	switch {
	case from.ConfigMapKeyRef != nil:
		r := from.ConfigMapKeyRef
		cm, err := s.configMap(r.Name)
		if err != nil {
			if isTrue(r.Optional) && isSourceNotFound(err) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, s.ns, r.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		r := from.SecretKeyRef
		sec, err := s.secret(r.Name)
		if err != nil {
			if isTrue(r.Optional) && isSourceNotFound(err) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := secretData(sec)[r.Key]
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, s.ns, r.Name)
		}
		return string(v), true, nil
	}
	return "", true, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// usesConfigSource reports whether pod names the ConfigMap or Secret (kind
// "ConfigMap" or "Secret") name in a volume, an env or an envFrom of any of
// its containers; an empty name matches any object of the kind.
func usesConfigSource(pod *api.Pod, kind, name string) bool {
	is := func(n string) bool { return name == "" || n == name }
	for _, v := range pod.Spec.Volumes {
		if (kind == "ConfigMap" && v.ConfigMap != nil && is(v.ConfigMap.Name)) ||
			(kind == "Secret" && v.Secret != nil && is(v.Secret.SecretName)) {
			return true
		}
	}
	for _, cs := range [][]api.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, ef := range c.EnvFrom {
				if (kind == "ConfigMap" && ef.ConfigMapRef != nil && is(ef.ConfigMapRef.Name)) ||
					(kind == "Secret" && ef.SecretRef != nil && is(ef.SecretRef.Name)) {
					return true
				}
			}
			for _, e := range c.Env {
				if f := e.ValueFrom; f != nil &&
					((kind == "ConfigMap" && f.ConfigMapKeyRef != nil && is(f.ConfigMapKeyRef.Name)) ||
						(kind == "Secret" && f.SecretKeyRef != nil && is(f.SecretKeyRef.Name))) {
					return true
				}
			}
		}
	}
	return false
}

// watchConfigSources wakes the workers of the pods that use a ConfigMap
// or a Secret when one is created, changed or deleted, until ctx ends.
func (h *Host) watchConfigSources(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range []*api.ResourceInfo{configMapsResource(), secretsResource()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.watchConfigKind(ctx, r)
		}()
	}
	wg.Wait()
}

func (h *Host) watchConfigKind(ctx context.Context, r *api.ResourceInfo) {
	for ctx.Err() == nil {
		w, err := h.st.Watch(ctx, r, "", store.ListOptions{ResourceVersion: h.st.ResourceVersion()})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("watching "+r.Resource, "err", err)
			t := h.clock.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C():
			}
			t.Stop()
			continue
		}
		// What changed while no watch ran was missed: every user looks again.
		h.configSourceChanged(r.Kind, "", "")
		h.configWatchLoop(ctx, w, r.Kind)
		w.Stop()
	}
}

func (h *Host) configWatchLoop(ctx context.Context, w store.Watch, kind string) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == store.Error {
				return
			}
			m := ev.Object.GetObjectMeta()
			h.configSourceChanged(kind, m.Namespace, m.Name)
		}
	}
}

// configSourceChanged wakes the workers of the pods that use the object
// (every object of the kind when name is empty), marking their config
// volumes due for a refresh.
func (h *Host) configSourceChanged(kind, ns, name string) {
	h.mu.Lock()
	ws := make([]*podWorker, 0, len(h.workers))
	for _, w := range h.workers {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		pod := w.pod
		w.mu.Unlock()
		if pod == nil || (ns != "" && pod.Namespace != ns) || !usesConfigSource(pod, kind, name) {
			continue
		}
		w.configVolumes.markDue()
		w.kick()
	}
}

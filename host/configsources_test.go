package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/store"
	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// The tests below run the readconfig guest, which prints the variables and
// files it is given, on the real WASI layer; ConfigMaps and Secrets are
// written to the store as the API server writes them.

func (n *testNode) putConfigMap(name string, data map[string]string) {
	n.t.Helper()
	cm := &api.ConfigMap{TypeMeta: api.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"}, Data: data}
	n.put(configMapsResource(), cm, func(o api.Object) { o.(*api.ConfigMap).Data = data })
}

func (n *testNode) putSecret(name string, data map[string]string) {
	n.t.Helper()
	bytes := map[string][]byte{}
	for k, v := range data {
		bytes[k] = []byte(v)
	}
	s := &api.Secret{TypeMeta: api.TypeMeta{Kind: "Secret", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"}, Data: bytes, Type: api.SecretTypeOpaque}
	n.put(secretsResource(), s, func(o api.Object) { o.(*api.Secret).Data = bytes })
}

// put creates obj, or updates the stored one with change.
func (n *testNode) put(r *api.ResourceInfo, obj api.Object, change func(api.Object)) {
	n.t.Helper()
	ctx := context.Background()
	m := obj.GetObjectMeta()
	if _, err := n.st.Get(ctx, r, m.Namespace, m.Name); api.IsNotFound(err) {
		if _, err := n.st.Create(ctx, obj); err != nil {
			n.t.Fatal(err)
		}
		return
	}
	if _, err := n.st.GuaranteedUpdate(ctx, r, m.Namespace, m.Name, func(o api.Object) (api.Object, error) {
		change(o)
		return o, nil
	}); err != nil {
		n.t.Fatal(err)
	}
}

func readconfigPod(t *testing.T, policy api.RestartPolicy, args ...string) api.PodSpec {
	t.Helper()
	spec := examplePod(t, "readconfig", policy)
	spec.Containers[0].Args = args
	return spec
}

// readconfigImage is the guest, compiled before the test waits for pods
// in its 20 s guards (under the race detector the compile alone can take
// longer on a loaded machine).
func (n *testNode) readconfigImage() string {
	n.t.Helper()
	image := examples.MustBuild(n.t, "readconfig")
	if _, err := n.h.images.Pull(context.Background(), image); err != nil {
		n.t.Fatal(err)
	}
	return image
}

func cmKey(name, key string, optional bool) *api.EnvVarSource {
	return &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{LocalObjectReference: api.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func secretKey(name, key string, optional bool) *api.EnvVarSource {
	return &api.EnvVarSource{SecretKeyRef: &api.SecretKeySelector{LocalObjectReference: api.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func logLines(t *testing.T, n *testNode, pod string) []string {
	t.Helper()
	out, err := n.logs(pod, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

func TestRealEnvFromConfigMapsAndSecrets(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.readconfigImage()
	n.putConfigMap("web-config", map[string]string{"GREETING": "Hi", "COLOR": "blue"})
	n.putSecret("creds", map[string]string{"password": "s3cret", "USER": "admin"})
	// Written past the API, which would refuse the key: the node skips it.
	n.putConfigMap("odd", map[string]string{"bad=key": "x", "GOOD": "y"})

	yes := true
	spec := readconfigPod(t, api.RestartPolicyNever, "env", "GREETING", "COLOR", "CFG_GREETING", "CFG_COLOR", "MSG",
		"PASSWORD", "USER", "S_password", "GOOD", "OPT_KEY", "OPT_OBJECT", "OPT_SECRET", "FROM_MISSING")
	c := &spec.Containers[0]
	c.EnvFrom = []api.EnvFromSource{
		{ConfigMapRef: &api.ConfigMapEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "web-config"}}},
		{Prefix: "CFG_", ConfigMapRef: &api.ConfigMapEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "web-config"}}},
		{SecretRef: &api.SecretEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "creds"}}},
		{Prefix: "S_", SecretRef: &api.SecretEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "creds"}}},
		{ConfigMapRef: &api.ConfigMapEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "odd"}}},
		{ConfigMapRef: &api.ConfigMapEnvSource{LocalObjectReference: api.LocalObjectReference{Name: "missing"}, Optional: &yes}},
	}
	c.Env = []api.EnvVar{
		{Name: "GREETING", Value: "Hello"}, // env wins over envFrom
		{Name: "MSG", Value: "$(GREETING) in $(COLOR), $(CFG_GREETING)"},
		{Name: "PASSWORD", ValueFrom: secretKey("creds", "password", false)},
		{Name: "OPT_KEY", ValueFrom: cmKey("web-config", "nokey", true)},
		{Name: "OPT_OBJECT", ValueFrom: cmKey("missing", "k", true)},
		{Name: "OPT_SECRET", ValueFrom: secretKey("missing", "k", true)},
	}
	n.createPod("env", spec)
	n.waitPod("env", "Succeeded", phaseIs(api.PodSucceeded))

	want := []string{
		"GREETING=Hello", "COLOR=blue", "CFG_GREETING=Hi", "CFG_COLOR=blue", "MSG=Hello in blue, Hi",
		"PASSWORD=s3cret", "USER=admin", "S_password=s3cret", "GOOD=y",
		"OPT_KEY is not set", "OPT_OBJECT is not set", "OPT_SECRET is not set", "FROM_MISSING is not set",
	}
	if got := logLines(t, n, "env"); !slices.Equal(got, want) {
		t.Errorf("the guest's environment:\n%q\nwant\n%q", got, want)
	}
	n.waitEvent("env", "Warning InvalidEnvironmentVariableNames Keys [bad=key] from the EnvFrom configMap default/odd were skipped since they are considered invalid environment variable names.")
}

func TestRealMissingConfigWaitsUntilItExists(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	image := n.readconfigImage()
	spec := api.PodSpec{RestartPolicy: api.RestartPolicyAlways, Containers: []api.Container{
		{Name: "fromcm", Image: image, Args: []string{"env", "GREETING", "wait"}, Env: []api.EnvVar{{Name: "GREETING", ValueFrom: cmKey("later", "greeting", false)}}},
		{Name: "fromsecret", Image: image, Args: []string{"env", "TOKEN", "wait"}, Env: []api.EnvVar{{Name: "TOKEN", ValueFrom: secretKey("later-secret", "token", false)}}},
	}}
	n.createPod("waits", spec)
	waiting := func(container, message string) func(*api.Pod) bool {
		return func(p *api.Pod) bool {
			cs := containerStatus(p, container)
			return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerConfigError" && cs.State.Waiting.Message == message
		}
	}
	n.waitPod("waits", "configmap not found", waiting("fromcm", `configmap "later" not found`))
	n.waitPod("waits", "secret not found", waiting("fromsecret", `secret "later-secret" not found`))
	n.waitEvent("waits", `Warning Failed Error: configmap "later" not found`)
	n.waitEvent("waits", `Warning Failed Error: secret "later-secret" not found`)

	// The objects appear without the keys, then with them: each change
	// wakes the worker, without its 10 s retry (the clock does not move).
	n.putConfigMap("later", map[string]string{"other": "x"})
	n.putSecret("later-secret", map[string]string{"other": "x"})
	n.waitPod("waits", "key not found", waiting("fromcm", "couldn't find key greeting in ConfigMap default/later"))
	n.waitPod("waits", "secret key not found", waiting("fromsecret", "couldn't find key token in Secret default/later-secret"))
	n.putConfigMap("later", map[string]string{"greeting": "Hi"})
	n.putSecret("later-secret", map[string]string{"token": "t0k3n"})
	p := n.waitPod("waits", "running", func(p *api.Pod) bool { return isRunning("fromcm")(p) && isRunning("fromsecret")(p) })
	if p.Status.Phase != api.PodRunning {
		t.Errorf("phase %s", p.Status.Phase)
	}
	for _, c := range []string{"fromcm", "fromsecret"} {
		if cs := containerStatus(p, c); cs.RestartCount != 0 {
			t.Errorf("%s: restartCount %d after waiting for its configuration", c, cs.RestartCount)
		}
	}
	n.waitLogsOf("waits", "fromcm", "GREETING=Hi")
	n.waitLogsOf("waits", "fromsecret", "TOKEN=t0k3n")
}

// waitLogsOf waits until a container's log holds substr.
func (n *testNode) waitLogsOf(pod, container, substr string) {
	n.t.Helper()
	n.followLogs(pod, substr, 1, LogOptions{Container: container})
}

func TestRealConfigVolumes(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.readconfigImage()
	n.putConfigMap("web-config", map[string]string{"greeting": "Hi", "index.html": "<h1>hello</h1>"})
	n.putSecret("creds", map[string]string{"password": "s3cret", "unused": "x"})

	mode := int32(0o400)
	spec := readconfigPod(t, api.RestartPolicyAlways,
		"write", "/config/greeting", "/config/new", "/creds/db/password",
		"watch", "/config/greeting", "/config/index.html", "/creds/db/password", "/creds/unused")
	spec.Volumes = []api.Volume{
		{Name: "cfg", VolumeSource: api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: api.LocalObjectReference{Name: "web-config"}}}},
		{Name: "creds", VolumeSource: api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "creds",
			Items: []api.KeyToPath{{Key: "password", Path: "db/password", Mode: &mode}}}}},
	}
	spec.Containers[0].VolumeMounts = []api.VolumeMount{
		{Name: "cfg", MountPath: "/config"},
		{Name: "creds", MountPath: "/creds", ReadOnly: false}, // read-only all the same
	}
	p := n.createPod("vols", spec)
	n.waitPod("vols", "running", isRunning("readconfig"))
	n.followLogs("vols", "/creds/unused: ", 1, LogOptions{})
	want := []string{
		"write /config/greeting: open /config/greeting: Read-only file system",
		"write /config/new: open /config/new: Read-only file system",
		"write /creds/db/password: open /creds/db/password: Read-only file system",
		"/config/greeting: Hi",
		"/config/index.html: <h1>hello</h1>",
		"/creds/db/password: s3cret",
		"/creds/unused: open /creds/unused: No such file or directory",
	}
	if got := logLines(t, n, "vols"); !slices.Equal(got, want) {
		t.Errorf("the guest read:\n%q\nwant\n%q", got, want)
	}

	// On the node: private to its user, the files unchanged by the guest.
	vols := filepath.Join(n.dataDir, "pods", p.UID, "volumes")
	for _, c := range []struct {
		path string
		mode os.FileMode
		data string
	}{
		{"cfg", os.ModeDir | 0o700, ""},
		{"creds", os.ModeDir | 0o700, ""},
		{"cfg/..data/greeting", 0o600, "Hi"},
		{"creds/..data/db/password", 0o400, "s3cret"},
	} {
		fi, err := os.Stat(filepath.Join(vols, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
		if c.data != "" {
			if b, _ := os.ReadFile(filepath.Join(vols, c.path)); string(b) != c.data {
				t.Errorf("%s holds %q, want %q", c.path, b, c.data)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(vols, "cfg", "new")); err == nil {
		t.Error("the guest made a file in its configMap volume")
	}

	// An update reaches the running guest, whole, and the old version goes.
	updated := time.Now()
	n.putConfigMap("web-config", map[string]string{"greeting": "Hello again"})
	n.followLogs("vols", "/config/index.html: open /config/index.html: No such file or directory", 1, LogOptions{})
	n.followLogs("vols", "/config/greeting: Hello again", 1, LogOptions{})
	t.Logf("the update reached the guest, which looks every 100 ms, in %v", time.Since(updated).Round(time.Millisecond))
	entries, err := os.ReadDir(filepath.Join(vols, "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "..20") || names[1] != "..data" || names[2] != "greeting" {
		t.Errorf("the volume holds %q, want ..data, one version and greeting", names)
	}
}

func TestRealMissingConfigVolumeWaitsInContainerCreating(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.readconfigImage()
	spec := readconfigPod(t, api.RestartPolicyAlways, "watch", "/config/greeting", "/creds/token")
	spec.Volumes = []api.Volume{
		{Name: "cfg", VolumeSource: api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: api.LocalObjectReference{Name: "later"},
			Items: []api.KeyToPath{{Key: "greeting", Path: "greeting"}}}}},
		{Name: "creds", VolumeSource: api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "later-secret"}}},
	}
	spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "cfg", MountPath: "/config"}, {Name: "creds", MountPath: "/creds"}}
	n.createPod("mounts", spec)
	n.waitEvent("mounts", `Warning FailedMount MountVolume.SetUp failed for volume "cfg" : configmap "later" not found`)
	n.waitEvent("mounts", `Warning FailedMount MountVolume.SetUp failed for volume "creds" : secret "later-secret" not found`)
	p := n.waitPod("mounts", "ContainerCreating", func(p *api.Pod) bool {
		cs := containerStatus(p, "readconfig")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonContainerCreating
	})
	if p.Status.Phase != api.PodPending {
		t.Errorf("phase %s", p.Status.Phase)
	}

	n.putConfigMap("later", map[string]string{"other": "x"})
	n.waitEvent("mounts", `Warning FailedMount MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: greeting`)
	n.putConfigMap("later", map[string]string{"greeting": "Hi"})
	n.putSecret("later-secret", map[string]string{"token": "t0k3n"})
	n.waitPod("mounts", "running", isRunning("readconfig"))
	n.followLogs("mounts", "/creds/token: t0k3n", 1, LogOptions{})
	n.followLogs("mounts", "/config/greeting: Hi", 1, LogOptions{})
}

func TestRealRestartWaitingForItsConfigCountsOnce(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.readconfigImage()
	n.putConfigMap("cm", map[string]string{"greeting": "Hi"})
	spec := readconfigPod(t, api.RestartPolicyAlways, "env", "GREETING", "wait")
	spec.Containers[0].Env = []api.EnvVar{{Name: "GREETING", ValueFrom: cmKey("cm", "greeting", false)}}
	pod := n.createPod("again", spec)
	p := n.waitPod("again", "running", isRunning("readconfig"))

	// The ConfigMap goes, then the container ends: its restart waits.
	if _, _, err := n.st.Delete(context.Background(), configMapsResource(), "default", "cm", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	id := strings.TrimPrefix(containerStatus(p, "readconfig").ContainerID, containerIDPrefix)
	n.h.KillContainer(pod.UID, "readconfig", id, "stopped by the test", &zero)
	waiting := func(p *api.Pod) bool {
		cs := containerStatus(p, "readconfig")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CreateContainerConfigError"
	}
	n.waitPod("again", "waiting for its ConfigMap", waiting)
	// Its retry does not count a restart: the container is not created.
	n.clk.Advance(podSyncRetryPeriod)
	n.waitEventCount("again", "Failed", 2)
	p = n.waitPod("again", "waiting for its ConfigMap", waiting)
	if cs := containerStatus(p, "readconfig"); cs.RestartCount != 0 || cs.LastTerminationState.Terminated == nil {
		t.Errorf("while waiting: restartCount %d, lastState %s; want 0 and the run that ended", cs.RestartCount, stateString(cs.LastTerminationState))
	}
	n.putConfigMap("cm", map[string]string{"greeting": "Hello"})
	// Each attempt raised the crash-loop back-off, as the kubelet's do.
	n.clk.Advance(2 * podSyncRetryPeriod)
	p = n.waitPod("again", "running again", func(p *api.Pod) bool {
		return isRunning("readconfig")(p) && containerStatus(p, "readconfig").RestartCount > 0
	})
	if cs := containerStatus(p, "readconfig"); cs.RestartCount != 1 {
		t.Errorf("restartCount %d after one restart", cs.RestartCount)
	}
	n.waitLogsOf("again", "readconfig", "GREETING=Hello")
}

func TestRealConfigVolumeSubPathIsNotUpdated(t *testing.T) {
	n := newTestNode(t, realRuntime(t), nil, nil, "")
	n.readconfigImage()
	n.putConfigMap("app", map[string]string{"app.conf": "v1"})
	spec := readconfigPod(t, api.RestartPolicyAlways, "watch", "/etc/app/app.conf", "/config/conf/app.conf")
	spec.Volumes = []api.Volume{{Name: "cfg", VolumeSource: api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{
		LocalObjectReference: api.LocalObjectReference{Name: "app"}, Items: []api.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}}}}
	spec.Containers[0].VolumeMounts = []api.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app", SubPath: "conf"},
		{Name: "cfg", MountPath: "/config"},
	}
	n.createPod("subpath", spec)
	n.waitPod("subpath", "running", isRunning("readconfig"))
	n.followLogs("subpath", "/config/conf/app.conf: v1", 1, LogOptions{})

	n.putConfigMap("app", map[string]string{"app.conf": "v2"})
	n.followLogs("subpath", "/config/conf/app.conf: v2", 1, LogOptions{})
	time.Sleep(300 * time.Millisecond) // three more looks of the guest
	want := []string{"/etc/app/app.conf: v1", "/config/conf/app.conf: v1", "/config/conf/app.conf: v2"}
	if got := logLines(t, n, "subpath"); !slices.Equal(got, want) {
		t.Errorf("the guest read:\n%q\nwant (the subPath mount keeps the version it started with)\n%q", got, want)
	}
}

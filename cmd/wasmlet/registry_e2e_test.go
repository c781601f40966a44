package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	examples "github.com/wasmlet/wasmlet/wasm-examples"
)

// TestRegistryEndToEnd: modules pushed to a real registry server (the
// distribution registry, Debian's docker-registry), once with wasmlet push
// as a wasm artifact and once with crane as a container image whose
// entrypoint is the module, run as pods of a node started from the built
// binary; a tag the registry lacks is ErrImagePull with its reason.
func TestRegistryEndToEnd(t *testing.T) {
	t.Parallel()
	registryBin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (apt-get install docker-registry); .ci/run installs it")
	}
	bin := build(t)
	hello, err := examples.Build("hello")
	if err != nil {
		t.Fatal(err)
	}
	host := startRegistry(t, registryBin)
	crane := buildCrane(t)

	artifact := host + "/hello:artifact"
	out := run(t, bin, "", "push", hello, artifact)
	if !strings.HasPrefix(out, artifact+" pushed: sha256:") {
		t.Fatalf("push: %q", out)
	}

	// A container image as a tool that is not wasmlet makes it: the module
	// in a gzip tar layer, found through the entrypoint.
	layer := filepath.Join(t.TempDir(), "layer.tar.gz")
	writeLayer(t, layer, "app/hello.wasm", hello)
	image := host + "/hello:image"
	craneRun(t, crane, "append", "--oci-empty-base", "-f", layer, "-t", image)
	craneRun(t, crane, "mutate", image, "--entrypoint", "/app/hello.wasm", "--set-platform", "wasip1/wasm", "-t", image)

	dataDir := t.TempDir()
	startServer(t, bin, serveArgs(t, dataDir))
	kc := filepath.Join(dataDir, "kubeconfig.yaml")
	manifest := filepath.Join(t.TempDir(), "pods.yaml")
	var b strings.Builder
	for name, img := range map[string]string{"from-push": artifact, "from-crane": image, "missing": host + "/hello:nope"} {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: %s\n", name, img)
	}
	if err := os.WriteFile(manifest, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, bin, kc, "apply", "-f", manifest)
	for _, pod := range []string{"from-push", "from-crane"} {
		waitOutput(t, bin, kc, "Succeeded", func(s string) bool { return s == "Succeeded" },
			"get", "pod", pod, "-o", "jsonpath={.status.phase}")
		if logs := run(t, bin, kc, "logs", pod); !strings.Contains(logs, "Hello from "+pod) {
			t.Errorf("%s logs %q", pod, logs)
		}
		if id := run(t, bin, kc, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].imageID}"); !strings.HasPrefix(id, host+"/hello@sha256:") {
			t.Errorf("%s imageID %q", pod, id)
		}
	}
	msg := waitOutput(t, bin, kc, "ErrImagePull", func(s string) bool {
		return strings.HasPrefix(s, "ErrImagePull") || strings.HasPrefix(s, "ImagePullBackOff")
	},
		"get", "pod", "missing", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}")
	if !strings.Contains(msg, "not found") || !strings.Contains(msg, "MANIFEST_UNKNOWN") {
		t.Errorf("a missing tag: %q", msg)
	}
	events := run(t, bin, kc, "get", "events", "--field-selector", "involvedObject.name=from-push")
	for _, want := range []string{"Pulling", `Successfully pulled image "` + artifact + `"`} {
		if !strings.Contains(events, want) {
			t.Errorf("no %q in the events:\n%s", want, events)
		}
	}
}

// startRegistry runs the distribution registry on a loopback port, storing
// in a temporary directory, and returns its host:port.
func startRegistry(t *testing.T, registryBin string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), host)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registryBin, "serve", cfg)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry does not answer on %s: %v\n%s", host, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildCrane builds go-containerregistry's own command line, the version
// go.mod names, from the module proxy.
func buildCrane(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	version, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/google/go-containerregistry").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "install", "github.com/google/go-containerregistry/cmd/crane@"+strings.TrimSpace(string(version)))
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("crane cannot be built here (%v): %s", err, out)
	}
	return filepath.Join(dir, "crane")
}

func craneRun(t *testing.T, crane string, args ...string) {
	t.Helper()
	if out, err := exec.Command(crane, args...).CombinedOutput(); err != nil {
		t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// writeLayer writes a gzip tar holding file at name.
func writeLayer(t *testing.T, path, name, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

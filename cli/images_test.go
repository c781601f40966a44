package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// TestImagesAndRmi: a pod runs a module pushed to a registry; `images`
// lists what the node holds, with when it was last used, from the node
// proxy (the Node's status.images, which kubectl reads, has the rest); `rmi` is refused while the pod uses the image, naming the
// pod, and removes it once the pod is gone. The node proxy it goes
// through answers no request without the node's token.
func TestImagesAndRmi(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	module, err := os.ReadFile(myweb(t))
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := testNode(t)
	ref := reg + "/myweb:v1"
	code, out, errOut := wasmletCmd(t, kubeconfig, "", "push "+myweb(t)+" "+ref)
	if code != 0 {
		t.Fatalf("push: %d %s %s", code, out, errOut)
	}
	digest := strings.Fields(strings.SplitN(out, ": ", 2)[1])[0]
	manifest := writeFile(t, "pod.yaml", strings.Replace(strings.Replace(podManifest, "solo.wasm", ref, 1), "name: solo\n  labels", "name: web\n  labels", 1))
	runSteps(t, kubeconfig, []step{
		{line: "apply -f " + manifest, stdout: "pod/web created\n"},
		{line: "get pods", stdout: "NAME   READY   STATUS    RESTARTS   AGE\nweb    1/1     Running   0          <age>\n", wait: true},
	})
	size := humanSize(int64(len(module)))
	row := func(tag string) string {
		return reg + "/myweb   " + tag + "    " + strings.TrimPrefix(digest, "sha256:")[:12] + "   " + size + strings.Repeat(" ", max(0, 4-len(size))) + "   <age>"
	}
	header := "REPOSITORY" + strings.Repeat(" ", len(reg+"/myweb")-len("REPOSITORY")+3) + "TAG   DIGEST         SIZE" + strings.Repeat(" ", max(0, len(size)-4)) + "   LAST USED\n"
	runSteps(t, kubeconfig, []step{
		{line: "images", stdout: header + row("v1") + "\n", wait: true},
		{line: "rmi " + ref, code: 1, stdout: "", stderr: `Error from server (Conflict): Operation cannot be fulfilled on images "` + ref + `": the image is in use by pod default/web`},
	})

	if bin, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "get", "node", "n1", "-o", "jsonpath={.status.images}")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECTL_KUBERC=false")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl: %v\n%s", err, stderr.String())
		}
		var images []api.ContainerImage
		if err := json.Unmarshal(stdout.Bytes(), &images); err != nil || len(images) != 1 ||
			strings.Join(images[0].Names, " ") != reg+"/myweb@"+digest+" "+ref || images[0].SizeBytes != int64(len(module)) {
			t.Errorf("kubectl get node -o jsonpath={.status.images}: %s (%v)", stdout.String(), err)
		}
	}

	// Without the token, the node proxy is not reached.
	cl, err := client.FromKubeconfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, cl.Server()+"/api/v1/nodes/n1/proxy/images?image="+ref, nil)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unauthenticated DELETE of the node proxy: %s", resp.Status)
	}

	runSteps(t, kubeconfig, []step{
		{line: "delete pod web", stdout: "pod \"web\" deleted\n"},
		{line: "rmi --node n2 " + ref, code: 1, stderr: `Error from server (NotFound): nodes "n2" not found`},
		{line: "rmi " + ref, stdout: "Deleted: " + reg + "/myweb@" + digest + ", " + ref + "\n", wait: true},
		{line: "images", stdout: header[:strings.Index(header, " ")] + "   TAG   DIGEST   SIZE   LAST USED\n", wait: true},
		{line: "rmi " + ref, code: 1, stderr: `Error from server (NotFound): images "` + ref + `" not found`},
	})
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.235MB", 2500000000: "2.5GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// olderNode is a node whose proxy does not answer GET .../proxy/images.
type olderNode struct{ *memoryNode }

func (olderNode) NodeImages(context.Context, string) ([]api.NodeImage, error) {
	return nil, api.NewNotFound("", "nodes/proxy", "/images")
}

// TestImagesFromStatus: from a node that does not list its images through
// the proxy, `images` prints the Node's status.images, whose last use is
// unknown.
func TestImagesFromStatus(t *testing.T) {
	node := newMemoryNode(time.Now())
	n := &api.Node{}
	n.Name = "n1"
	n.Status.Images = []api.ContainerImage{{Names: []string{"r.io/a@sha256:" + strings.Repeat("ab", 32), "r.io/a:v1"}, SizeBytes: 1234567}}
	if _, err := node.Create(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	env := &environment{dial: func(string) (nodeClient, error) { return olderNode{node}, nil }}
	env.stdout, env.stderr = &out, &errOut
	code := env.run(context.Background(), []string{"wasmlet", "images"})
	want := "REPOSITORY   TAG   DIGEST         SIZE      LAST USED\nr.io/a       v1    abababababab   1.235MB   <unknown>\n"
	if code != 0 || out.String() != want {
		t.Errorf("images: exit %d\n%s\nwant\n%s\nstderr %s", code, out.String(), want, errOut.String())
	}
}

package cli

import (
	"strings"
	"testing"
)

// TestRun: `run` makes the pod kubectl run makes (name, run=NAME, one
// container of the name, its port, env and arguments), and the node runs
// it; a second run of the name is refused as a create is.
func TestRun(t *testing.T) {
	kc := testNode(t)
	image := myweb(t)
	runSteps(t, kc, []step{
		{line: "run web --image " + image + " --port 8080 --env GREETING=hi --dry-run=client -o name", stdout: "pod/web\n"},
		{line: "get pods", stderr: "No resources found in default namespace.\n"},
		{line: "run web --image " + image + " --port 8080 --env GREETING=hi --dry-run=server", stdout: "pod/web created (server dry run)\n"},
		{line: "run web --image " + image + " --port 8080 --env GREETING=hi -- -v", stdout: "pod/web created\n"},
		{line: "get pod web -o jsonpath={.metadata.labels.run}/{.spec.containers[0].name}/{.spec.containers[0].ports[0].containerPort}/{.spec.containers[0].env[0].value}/{.spec.containers[0].args[0]}/{.spec.restartPolicy}",
			stdout: "web/web/8080/hi/-v/Always"},
		{line: "get pod web -o jsonpath={.status.phase}", stdout: "Running", wait: true},
		{line: "run web --image " + image, code: 1, stderr: `Error from server (AlreadyExists): pods "web" already exists`},
		{line: "run job --image " + image + " --restart Never --labels app=batch,tier=x", stdout: "pod/job created\n"},
		{line: "get pods -l app=batch,tier=x -o name", stdout: "pod/job\n"},
		{line: "run nope", code: 1, stderr: `error: required flag(s) "image" not set`},
		{line: "run nope --image " + image + " -i", code: 1, stderr: "error: --stdin is not supported"},
		{line: "run nope --image " + image + " --restart Sometimes", code: 1, stderr: "error: invalid restart policy: Sometimes"},
	})
	if out := output(t, kc, "get pods -o name"); strings.Contains(out, "nope") {
		t.Fatalf("a refused run created a pod:\n%s", out)
	}
}

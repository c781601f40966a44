package cli

import (
	"fmt"
	"strings"
	"testing"
)

// TestKubectlComparisonDeploymentVerbs runs create deployment, set image
// and the rollout verbs with the real kubectl (on k- twins) and wasmlet (on
// w- twins) against one node without controllers, whose ReplicaSets and
// statuses the test writes as the Deployment controller writes them, so
// that both see the same states.
func TestKubectlComparisonDeploymentVerbs(t *testing.T) {
	c := &comparer{t: t, kubectl: kubectlPath(t), kubeconfig: deploymentNode(t), home: t.TempDir(), dir: t.TempDir()}

	for _, line := range []string{
		// create deployment: kubectl's typed client sends protobuf.
		"create deployment {N}d --image=reg/web:1 --replicas=2 --port=80",
		"get deployment {N}d -o yaml",
		"create deployment {N}d --image=reg/web:1",
		"create deployment {N}x --image=x:1 --image=y:2 -- date",
		"create deployment {N}y --image=reg/web:1 --dry-run=client -o yaml",
		"create deployment {N}y --image=b:1 --image=c --port=8080 -n team --dry-run=client -o json",
		"create deployment {N}y --image=b:1 --dry-run=client -o name",
		"create deployment {N}y --image=b:1 --dry-run=server",
		"get deployment {N}y",
		"create deployment {N}y --image=b:1 --save-config -o name",
		"get deployment {N}y -o yaml",
		"create deployment {N}z --image=b:1 -r 3 -- run --fast",
		"get deployment {N}z -o yaml",
		"create deployment --image=b:1",
		"create deployment {N}a {N}b --image=b:1",
		"create deployment --image=b:1 -- {N}a b",
		"create deployment {N}c --image=b:1 --dry-run=client -- run -o yaml",
		"create deployment Bad --image=b:1",

		// set image
		"set image deployment/{N}d web=reg/web:2",
		"set image deployment/{N}d web=reg/web:2",
		"set image deployment/{N}d nope=x:1",
		"set image deployment {N}d *=reg/web:3",
		"set image deployment/{N}d web=q:1 --dry-run=client",
		"set image deployment/{N}d web=q:1 --dry-run=server",
		"set image deployment/{N}d web=r:1 -o name",
		"get deployment {N}d -o jsonpath={.spec.template.spec.containers[*].image}",
		"set image deployment/{N}d",
		"set image deployment/{N}d *=a b=c",
		"set image deployment {N}d a=b x",
		"set image deployment {N}d a-",
		"set image deployment/nope a=b",
		"set image ns/default a=b",
		"set image deployments *=q --all -l a=b",
		"set image deployments a=b",
		"set image",

		// scale, through the Deployment's scale subresource
		"scale deployment/{N}d --replicas=4",
		"scale deploy {N}d --replicas=1 --current-replicas=9",
		"get deployment {N}d -o jsonpath={.spec.replicas}",
	} {
		c.same(line, true)
	}
	c.knownDifference("create deployment {N}n --image=wasm-examples/bin/myweb.wasm --dry-run=client -o yaml",
		"kubectl names the container of a module file myweb-wasm-xxxxx (random); wasmlet leaves .wasm out, as a tag: myweb")

	// A Deployment with two revisions, as the controller leaves it after a
	// set image: revision 1 (reg/web:1) and 2 (reg/web:2, the template).
	for _, p := range []string{"k-", "w-"} {
		d := p + "h"
		c.kubectlOK("create", "deployment", d, "--image=reg/web:1", "--replicas=3")
		c.kubectlOK("set", "image", "deployment/"+d, "web=reg/web:2")
		c.kubectlOK("annotate", "deployment", d, "deployment.kubernetes.io/revision=2")
		uid := c.kubectlOK("get", "deployment", d, "-o", "jsonpath={.metadata.uid}")
		rs := fmt.Sprintf(revisionRS, d, "1111", 1, uid, "reg/web:1", "") + "---\n" +
			fmt.Sprintf(revisionRS, d, "2222", 2, uid, "reg/web:2", "    kubernetes.io/change-cause: kubectl set image deployment/"+d+" web=reg/web:2\n")
		c.kubectlStdin(rs, "create", "-f", "-")
	}
	status := func(s string) {
		for _, p := range []string{"k-", "w-"} {
			c.kubectlOK("patch", "deployment", p+"h", "--subresource=status", "--type=merge", "-p", `{"status":`+s+`}`)
		}
	}
	for _, line := range []string{
		"rollout history deployment/{N}h",
		"rollout history deployment {N}h --revision=1",
		"rollout history deployment/{N}h --revision=2",
		"rollout history deployment/{N}h --revision=9",
		"rollout history deployment/{N}h -o name",
		"rollout history deployment/{N}d",
		"rollout history rs/{N}h-1111",
		"rollout undo deployment/{N}h --dry-run=client",
		"rollout undo deployment/{N}h --to-revision=2",
		"rollout undo deployment/{N}h --to-revision=9",
		"rollout undo deployment/{N}d",
		"rollout undo rs/{N}h-1111",
		"rollout status rs/{N}h-1111",
		"rollout pause rs/{N}h-1111",
		"rollout resume rs/{N}h-1111",
		"rollout restart rs/{N}h-1111",
		"rollout status deployment/{N}h --watch=false",
		"rollout status deployment/{N}h --timeout=1s",
		"rollout status deployment/{N}h --revision=-1",
		"rollout status deployment/nope",
		"rollout status",
		"rollout history",
		"rollout nope",
	} {
		c.same(line, true)
	}
	for _, s := range []string{
		`{"observedGeneration":2,"replicas":1,"updatedReplicas":1}`,
		`{"observedGeneration":2,"replicas":4,"updatedReplicas":3,"availableReplicas":1}`,
		`{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":2}`,
	} {
		status(s)
		c.same("rollout status deployment/{N}h --timeout=1s", true)
		c.same("rollout status deployment/{N}h --watch=false", true)
	}
	status(`{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3}`)
	c.same("rollout status deployment/{N}h", true)
	c.same("rollout status deployment/{N}h --revision=2", true)
	c.same("rollout status deployment/{N}h --revision=1", true)
	status(`{"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet has timed out progressing."}]}`)
	c.same("rollout status deployment/{N}h", true)

	for _, line := range []string{
		"rollout undo deployment/{N}h",
		"get deployment {N}h -o yaml",
		"rollout history deployment/{N}h",
		"rollout undo deployment/{N}h --to-revision=2 --dry-run=client -o name",
		"rollout undo deployment/{N}h --to-revision=1 -o name",
		"rollout undo deployment/{N}h --to-revision=2 --dry-run=server",
		"rollout undo deployment/{N}h --to-revision=2",
		"get deployment {N}h -o jsonpath={.spec.template.spec.containers[0].image};{.metadata.annotations}",
		"rollout pause deployment/{N}h",
		"rollout pause deployment/{N}h",
		"get deployment {N}h -o jsonpath={.spec.paused}",
		"rollout undo deployment/{N}h",
		"rollout restart deployment/{N}h",
		"rollout resume deployment/{N}h",
		"rollout resume deployment/{N}h",
		"get deployment {N}h -o jsonpath={.spec.paused}",
		"rollout restart deployment/{N}h",
		"get deployment {N}h -o jsonpath={.spec.template.metadata.annotations}",
		"rollout pause deployment -l app={N}h",
		"rollout resume deployment -l app={N}h -o name",
		"rollout restart deployment -l app=none",
	} {
		c.same(line, true)
	}
	c.knownDifference("rollout", "kubectl prints the help of rollout and exits 1; wasmlet says that a subcommand is required")
	if out := c.kubectlOK("get", "deployment", "k-h", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); !strings.Contains(out, "reg/web") {
		t.Errorf("kubectl's twin: image %q", out)
	}
}

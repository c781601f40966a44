package cli

import (
	"context"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

func TestEventsAndAPIResources(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := describeFixtureNode(t, now)
	tests := []struct {
		line           string
		code           int
		stdout, stderr string
	}{
		{line: "events", stdout: "" +
			"LAST SEEN            TYPE      REASON             OBJECT                MESSAGE\n" +
			"4h                   Normal    Starting           Node/n1               Starting wasmlet.\n" +
			"30m                  Normal    Scheduled          Pod/myweb-rs-x2b4k    Successfully assigned default/myweb-rs-x2b4k to n1\n" +
			"29m                  Normal    Pulled             Pod/myweb-rs-x2b4k    Container image \"myweb.wasm\" already present on machine\n" +
			"29m (x3 over 29m)    Normal    SuccessfulCreate   ReplicaSet/myweb-rs   Created pod: myweb-rs-x2b4k\n" +
			"10m (x2 over 29m)    Normal    Started            Pod/myweb-rs-x2b4k    Started container myweb\n" +
			"80s (x12 over 14m)   Warning   BackOff            Pod/crasher           Back-off restarting failed container crasher in pod crasher_default(pod-uid-2)\n"},
		{line: "events --for pod/crasher --no-headers", stdout: "80s (x12 over 14m)   Warning   BackOff   Pod/crasher   Back-off restarting failed container crasher in pod crasher_default(pod-uid-2)\n"},
		{line: "events --for rs/myweb-rs", stdout: "LAST SEEN           TYPE     REASON             OBJECT                MESSAGE\n29m (x3 over 29m)   Normal   SuccessfulCreate   ReplicaSet/myweb-rs   Created pod: myweb-rs-x2b4k\n"},
		{line: "events --types Warning -o name", code: 1, stderr: "error: unable to match a printer suitable for the output format \"name\", allowed formats are: json,yaml\n"},
		{line: "events --types warning --no-headers", stdout: "80s (x12 over 14m)   Warning   BackOff   Pod/crasher   Back-off restarting failed container crasher in pod crasher_default(pod-uid-2)\n"},
		{line: "events --types Info", code: 1, stderr: "error: valid --types are Normal or Warning\n"},
		{line: "events -n team", stderr: "No events found in team namespace.\n"},
		{line: "events -A --for pod/nope", stderr: "No events found.\n"},
		{line: "events --for statefulsets/x", code: 1, stderr: "error: the server doesn't have a resource type \"statefulsets\"\n"},
		{line: "api-resources", stdout: "" +
			"NAME                     SHORTNAMES   APIVERSION            NAMESPACED   KIND\n" +
			"configmaps               cm           v1                    true         ConfigMap\n" +
			"endpoints                ep           v1                    true         Endpoints\n" +
			"events                   ev           v1                    true         Event\n" +
			"namespaces               ns           v1                    false        Namespace\n" +
			"nodes                    no           v1                    false        Node\n" +
			"pods                     po           v1                    true         Pod\n" +
			"replicationcontrollers   rc           v1                    true         ReplicationController\n" +
			"secrets                               v1                    true         Secret\n" +
			"services                 svc          v1                    true         Service\n" +
			"deployments              deploy       apps/v1               true         Deployment\n" +
			"replicasets              rs           apps/v1               true         ReplicaSet\n" +
			"endpointslices                        discovery.k8s.io/v1   true         EndpointSlice\n"},
		{line: "api-resources --namespaced=false -o name", stdout: "namespaces\nnodes\n"},
		{line: "api-resources --api-group apps -o wide --no-headers",
			stdout: "deployments   deploy   apps/v1   true   Deployment   create,delete,deletecollection,get,list,patch,update,watch   all\n" +
				"replicasets   rs       apps/v1   true   ReplicaSet   create,delete,deletecollection,get,list,patch,update,watch   all\n"},
		{line: "api-resources --sort-by kind -o name", stdout: "configmaps\ndeployments.apps\nendpointslices.discovery.k8s.io\nendpoints\nevents\nnamespaces\nnodes\npods\nreplicasets.apps\nreplicationcontrollers\nsecrets\nservices\n"},
		{line: "api-versions", stdout: "apps/v1\ndiscovery.k8s.io/v1\nv1\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runLine(node, now, tt.line)
		if code != tt.code {
			t.Errorf("%s: exit code %d, want %d\nstderr: %s", tt.line, code, tt.code, stderr)
		}
		if stdout != tt.stdout {
			t.Errorf("%s: stdout\n%s\nwant\n%s", tt.line, stdout, tt.stdout)
		}
		if stderr != tt.stderr {
			t.Errorf("%s: stderr %q, want %q", tt.line, stderr, tt.stderr)
		}
	}
}

func TestEventsWatch(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now)
	stdout, _, stop := startLine(t, node, now, "events -w --for pod/a")
	for _, name := range []string{"b", "a"} {
		ev := &api.Event{}
		ev.Name, ev.Namespace = name+".1", "default"
		ev.InvolvedObject = api.ObjectReference{Kind: "Pod", Name: name, Namespace: "default"}
		ev.Reason, ev.Type, ev.Message, ev.Count = "Started", "Normal", "Started container "+name, 1
		ev.FirstTimestamp, ev.LastTimestamp = api.NewTime(now.Add(-time.Second)), api.NewTime(now.Add(-time.Second))
		if _, err := node.Create(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// As kubectl's, the header comes with the first event, aligned with it.
	waitFor(t, stdout, "LAST SEEN   TYPE     REASON    OBJECT   MESSAGE\n1s          Normal   Started   Pod/a    Started container a\n")
	// Interrupted, as kubectl's, it exits 1.
	if code := stop(); code != 1 {
		t.Errorf("events -w ended with %d, want 1", code)
	}
}

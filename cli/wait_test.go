package cli

import (
	"strings"
	"testing"
	"time"
)

// TestWait runs `wait` against a node as kubectl's wait runs against a
// cluster: its flags, its messages and its exit codes.
func TestWait(t *testing.T) {
	t.Parallel()
	kc := testNode(t)
	if code, _, errOut := wasmletCmd(t, kc, "", "apply -f "+podFile(t)); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	for _, tc := range []struct {
		line           string
		code           int
		stdout, stderr string
	}{
		// Right after the create: the watch sees the pod become Ready.
		{line: "wait --for=condition=Ready pod/solo --timeout 120s", stdout: "pod/solo condition met\n"},
		{line: "wait --for condition=ready pods solo", stdout: "pod/solo condition met\n"},
		{line: "wait --for=jsonpath={.status.phase}=Running pod/solo", stdout: "pod/solo condition met\n"},
		{line: "wait --for=jsonpath=.status.podIP pod/solo", stdout: "pod/solo condition met\n"},
		{line: "wait --for=condition=Ready pod -l app=solo", stdout: "pod/solo condition met\n"},
		{line: "wait --for=condition=Ready pod --all -n default", stdout: "pod/solo condition met\n"},
		{line: "wait --for=condition=Ready=false pod/solo --timeout 1s", code: 1,
			stderr: "error: timed out waiting for the condition on pods/solo\n"},
		{line: "wait --for=condition=Ready=false pod/solo --timeout 0", code: 1,
			stderr: "error: condition not met for pods/solo\n"},
		{line: "wait --for=condition=Ready pod/nope", code: 1, stderr: "Error from server (NotFound): pods \"nope\" not found\n"},
		{line: "wait --for=condition=Ready pod -l app=nope", code: 1, stderr: "error: no matching resources found\n"},
		{line: "wait --for=condition=Ready pod/solo -n other", code: 1, stderr: "Error from server (NotFound): pods \"solo\" not found\n"},
		{line: "wait --for=ready pod/solo", code: 1, stderr: "error: unrecognized condition: \"ready\"\n"},
		{line: "wait --for=jsonpath={.status.phase}= pod/solo", code: 1, stderr: "error: jsonpath wait has to have a value after equal sign, like --for=jsonpath='{.status.readyReplicas}'=3\n"},
		{line: "wait --for=jsonpath={.status} pod/solo", stdout: "pod/solo condition met\n"},
		{line: "wait --for=jsonpath={.status.nothing} pod/solo --timeout 0", code: 1,
			stderr: "error: condition not met for pods/solo\n"},
		{line: "wait --for=jsonpath={.status}=x pod/solo", code: 1,
			stderr: "error: jsonpath leads to a nested object or list which is not supported\n"},
		// Waiting for the deletion of what is not there is done at once.
		{line: "wait --for=delete pod/nope"},
	} {
		code, out, errOut := wasmletCmd(t, kc, "", tc.line)
		if code != tc.code || out != tc.stdout || errOut != tc.stderr {
			t.Errorf("wasmlet %s:\ncode %d, stdout %q, stderr %q\nwant code %d, stdout %q, stderr %q",
				tc.line, code, out, errOut, tc.code, tc.stdout, tc.stderr)
		}
	}

	// --for=delete returns when the pod is gone, not before: a finalizer
	// holds the pod after its containers ended.
	if code, _, errOut := wasmletCmd(t, kc, "", `patch pod solo -p {"metadata":{"finalizers":["example.com/hold"]}}`); code != 0 {
		t.Fatalf("patch: %s", errOut)
	}
	if code, _, errOut := wasmletCmd(t, kc, "", "delete pod solo --wait=false"); code != 0 {
		t.Fatalf("delete: %s", errOut)
	}
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := wasmletCmd(t, kc, "", "wait --for=delete pod/solo --timeout 25s")
		done <- result{code, out, errOut}
	}()
	select {
	case r := <-done:
		t.Fatalf("wait --for=delete returned while the pod is held: %+v", r)
	case <-time.After(time.Second):
	}
	if code, _, errOut := wasmletCmd(t, kc, "", `patch pod solo --type=json -p [{"op":"remove","path":"/metadata/finalizers"}]`); code != 0 {
		t.Fatalf("patch: %s", errOut)
	}
	if r := <-done; r.code != 0 || r.out != "pod/solo condition met\n" || r.errOut != "" {
		t.Errorf("wait --for=delete: %+v", r)
	}
}

func TestParseWaitFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, err string
	}{
		{in: "delete"},
		{in: "DELETE"},
		{in: "condition=Ready"},
		{in: "condition=Ready=False"},
		{in: "jsonpath={.status.phase}=Running"},
		{in: "jsonpath={.status.phase}='Running'"},
		{in: "jsonpath={.status.phase}"},
		{in: "jsonpath=.status.phase=Running"},
		{in: "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}=True"},
		{in: "", err: `unrecognized condition: ""`},
		{in: "jsonpath={.status.phase", err: "jsonpath wait format must be"},
		{in: "jsonpath={.status.phase}Running", err: "jsonpath wait format must be"},
		{in: "jsonpath=", err: "jsonpath expression cannot be empty"},
		{in: "jsonpath={.status.phase}=", err: "jsonpath wait has to have a value after equal sign"},
	} {
		_, err := parseWaitFor(tc.in)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseWaitFor(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

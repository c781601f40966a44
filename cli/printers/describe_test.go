package printers

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmlet/wasmlet/api"
	"sigs.k8s.io/yaml"
)

// objectsOf reads testdata/<file>.yaml, a list of objects of kind r.
func objectsOf(t *testing.T, file string, r *api.ResourceInfo) []api.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := yaml.Unmarshal(b, &raws); err != nil {
		t.Fatalf("%s.yaml: %v", file, err)
	}
	var out []api.Object
	for _, raw := range raws {
		var tm api.TypeMeta
		if err := json.Unmarshal(raw, &tm); err != nil {
			t.Fatal(err)
		}
		kind := r
		if tm.Kind != "" {
			k, ok := api.LookupKind(tm.APIVersion, tm.Kind)
			if !ok {
				t.Fatalf("%s.yaml: no kind %s %s", file, tm.APIVersion, tm.Kind)
			}
			kind = k
		}
		obj := kind.New()
		if err := json.Unmarshal(raw, obj); err != nil {
			t.Fatalf("%s.yaml: %v", file, err)
		}
		out = append(out, obj)
	}
	return out
}

func resource(t *testing.T, name string) *api.ResourceInfo {
	t.Helper()
	r, ok := api.LookupResource(name)
	if !ok {
		t.Fatalf("no resource %q", name)
	}
	return r
}

func TestDescribe(t *testing.T) {
	var events []api.Event
	for _, o := range objectsOf(t, "describe-events", resource(t, "events")) {
		events = append(events, *o.(*api.Event))
	}
	var pods []*api.Pod
	for _, o := range objectsOf(t, "describe-pods", resource(t, "pods")) {
		pods = append(pods, o.(*api.Pod))
	}
	// eventsOf are the events about obj, as describe finds them.
	eventsOf := func(obj api.Object) []api.Event {
		var out []api.Event
		m := obj.GetObjectMeta()
		for _, e := range events {
			if e.InvolvedObject.Name == m.Name && (e.InvolvedObject.UID == m.UID || e.InvolvedObject.UID == m.Name) {
				out = append(out, e)
			}
		}
		return out
	}

	type tc struct {
		golden     string
		obj        api.Object
		showEvents bool
		pods       []*api.Pod
	}
	var tests []tc
	for _, p := range pods {
		tests = append(tests, tc{golden: "describe-pod-" + p.Name, obj: p, showEvents: true})
	}
	tests = append(tests, tc{golden: "describe-pod-no-events", obj: pods[0]})
	for _, o := range objectsOf(t, "describe-controllers", nil) {
		tests = append(tests, tc{golden: "describe-" + o.GetTypeMeta().Kind + "-" + o.GetObjectMeta().Name,
			obj: o, showEvents: true, pods: pods})
	}
	for _, o := range objectsOf(t, "describe-nodes", resource(t, "nodes")) {
		tests = append(tests, tc{golden: "describe-node-" + o.GetObjectMeta().Name, obj: o, showEvents: true, pods: pods})
	}
	for _, o := range objectsOf(t, "namespaces", resource(t, "namespaces")) {
		tests = append(tests, tc{golden: "describe-namespace-" + o.GetObjectMeta().Name, obj: o, showEvents: true})
	}
	ev := events[0]
	tests = append(tests, tc{golden: "describe-event", obj: &ev, showEvents: true})

	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r, ok := api.ResourceOf(tt.obj)
			if !ok {
				t.Fatalf("no kind for %T", tt.obj)
			}
			in := DescribeInput{Resource: r, Object: tt.obj, ShowEvents: tt.showEvents, Pods: tt.pods, Now: now}
			if tt.showEvents {
				in.Events = eventsOf(tt.obj)
			}
			var buf bytes.Buffer
			if err := Describe(&buf, in); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

func TestCountPods(t *testing.T) {
	var pods []*api.Pod
	for _, o := range objectsOf(t, "describe-pods", resource(t, "pods")) {
		pods = append(pods, o.(*api.Pod))
	}
	if got := CountPods(pods, "rs-uid-1"); got != (PodCounts{Running: 1}) {
		t.Errorf("CountPods(rs-uid-1) = %+v, want 1 running", got)
	}
	if got := CountPods(pods, "other"); got != (PodCounts{}) {
		t.Errorf("CountPods(other) = %+v, want none", got)
	}
}

func TestFieldLabel(t *testing.T) {
	tests := map[string]string{
		"apiVersion":         "API Version",
		"involvedObject":     "Involved Object",
		"uid":                "UID",
		"reportingComponent": "Reporting Component",
		"count":              "Count",
		"podIPs":             "Pod I Ps",
		"HTTPGet":            "HTTP Get",
		"a.b":                "a.b",
	}
	for in, want := range tests {
		if got := fieldLabel(in); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

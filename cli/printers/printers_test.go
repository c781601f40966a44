package printers

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/internal/table"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is when the fixtures are printed.
var now = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// fixtures reads testdata/<resource>.yaml, a list of objects in
// Kubernetes' JSON names, into typed objects of that kind.
func fixtures(t *testing.T, resource string) (*api.ResourceInfo, []api.Object) {
	t.Helper()
	r, ok := api.LookupResource(resource)
	if !ok {
		t.Fatalf("no resource %q", resource)
	}
	b, err := os.ReadFile(filepath.Join("testdata", resource+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := yaml.Unmarshal(b, &raws); err != nil {
		t.Fatalf("%s.yaml: %v", resource, err)
	}
	var objs []api.Object
	for i, raw := range raws {
		obj := r.New()
		if err := json.Unmarshal(raw, obj); err != nil {
			t.Fatalf("%s.yaml item %d: %v", resource, i, err)
		}
		objs = append(objs, obj)
	}
	return r, objs
}

// golden compares got with testdata/<name>.golden, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli/... -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

func TestTables(t *testing.T) {
	tests := []struct {
		golden   string
		resource string
		opts     TableOptions
	}{
		{"pods", "pods", TableOptions{}},
		{"pods-wide", "pods", TableOptions{Wide: true}},
		{"pods-all-namespaces-labels", "pods", TableOptions{WithNamespace: true, ShowLabels: true}},
		{"pods-no-headers-kind", "pods", TableOptions{NoHeaders: true, WithKind: true}},
		{"pods-label-columns", "pods", TableOptions{LabelColumns: []string{"app", "example.com/tier"}, ShowLabels: true}},
		{"replicasets", "replicasets", TableOptions{}},
		{"replicasets-wide", "replicasets", TableOptions{Wide: true, WithKind: true}},
		{"replicationcontrollers-wide", "replicationcontrollers", TableOptions{Wide: true, ShowLabels: true}},
		{"events", "events", TableOptions{}},
		{"events-wide", "events", TableOptions{Wide: true}},
		{"namespaces", "namespaces", TableOptions{WithNamespace: true}},
		{"nodes", "nodes", TableOptions{}},
		{"nodes-wide", "nodes", TableOptions{Wide: true}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r, objs := fixtures(t, tt.resource)
			tt.opts.Now = now
			var buf bytes.Buffer
			if err := PrintTable(&buf, r, objs, tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, "table-"+tt.golden, buf.Bytes())
		})
	}
}

func TestOutputs(t *testing.T) {
	pods, podObjs := fixtures(t, "pods")
	rs, rsObjs := fixtures(t, "replicasets")
	one := []Item{{pods, podObjs[0]}}
	mixed := []Item{{rs, rsObjs[0]}, {pods, podObjs[0]}}
	tests := []struct {
		golden string
		print  func(*bytes.Buffer) error
	}{
		{"yaml-single", func(b *bytes.Buffer) error { return PrintYAML(b, one, true) }},
		{"yaml-list", func(b *bytes.Buffer) error { return PrintYAML(b, mixed, false) }},
		{"yaml-empty", func(b *bytes.Buffer) error { return PrintYAML(b, nil, false) }},
		{"json-single", func(b *bytes.Buffer) error { return PrintJSON(b, one, true) }},
		{"json-list", func(b *bytes.Buffer) error { return PrintJSON(b, mixed, false) }},
		{"json-empty", func(b *bytes.Buffer) error { return PrintJSON(b, nil, false) }},
		{"name", func(b *bytes.Buffer) error { return PrintName(b, mixed) }},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.print(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

func TestPodStatus(t *testing.T) {
	_, objs := fixtures(t, "pods")
	want := map[string]table.PodSummary{
		"myweb":      {Ready: 1, Total: 1, Status: "Running"},
		"creating":   {Ready: 0, Total: 2, Status: "ContainerCreating"},
		"crasher":    {Ready: 0, Total: 1, Status: "CrashLoopBackOff", Restarts: 4, LastRestart: time.Date(2026, 1, 10, 11, 58, 30, 0, time.UTC)},
		"job":        {Ready: 0, Total: 1, Status: "Completed"},
		"failed":     {Ready: 0, Total: 1, Status: "Signal:9"},
		"going":      {Ready: 1, Total: 1, Status: "Terminating"},
		"init-wait":  {Ready: 0, Total: 1, Status: "Init:1/2"},
		"init-crash": {Ready: 0, Total: 1, Status: "Init:CrashLoopBackOff", Restarts: 3, LastRestart: time.Date(2026, 1, 10, 11, 55, 0, 0, time.UTC)},
		"sidecar":    {Ready: 2, Total: 3, Status: "NotReady", Restarts: 3, LastRestart: time.Date(2026, 1, 10, 9, 59, 59, 0, time.UTC)},
		"other":      {Ready: 0, Total: 1, Status: "Pending"},
	}
	for _, obj := range objs {
		pod := obj.(*api.Pod)
		got := table.PodStatus(pod)
		w := want[pod.Name]
		if got.Ready != w.Ready || got.Total != w.Total || got.Status != w.Status ||
			got.Restarts != w.Restarts || !got.LastRestart.Equal(w.LastRestart) {
			t.Errorf("%s: got %+v, want %+v", pod.Name, got, w)
		}
	}
}

func TestCustomColumns(t *testing.T) {
	pods, objs := fixtures(t, "pods")
	var generic []any
	for _, o := range objs[:4] {
		g, err := Generic(o)
		if err != nil {
			t.Fatal(err)
		}
		generic = append(generic, g)
	}
	cols, err := ParseCustomColumns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,PHASE:{.status.phase},IP:status.podIP")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := PrintCustomColumns(&buf, cols, generic, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "custom-columns", buf.Bytes())

	file, err := ParseCustomColumnsFile(strings.NewReader("NAME   IMAGES\n.metadata.name   .spec.containers[*].image\n"))
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := PrintCustomColumns(&buf, file, generic, true); err != nil {
		t.Fatal(err)
	}
	want := "myweb      myweb.wasm\ncreating   a.wasm,b.wasm\ncrasher    crash.wasm\njob        job.wasm\n"
	if buf.String() != want {
		t.Errorf("custom-columns-file:\n%s\nwant\n%s", buf.String(), want)
	}

	for spec, want := range map[string]string{
		"":             "custom-columns format specified but no custom columns given",
		"NAME":         "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>",
		"NAME:{.a":     "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'",
		"NAME:.a[?(x)": "error parsing jsonpath {.a[?(x)}, unterminated array",
	} {
		if _, err := ParseCustomColumns(spec); err == nil || err.Error() != want {
			t.Errorf("ParseCustomColumns(%q) = %v, want %q", spec, err, want)
		}
	}
	_ = pods
}

func TestSortItems(t *testing.T) {
	pods, objs := fixtures(t, "pods")
	names := func(items []Item) string {
		var n []string
		for _, it := range items {
			n = append(n, it.Object.GetObjectMeta().Name)
		}
		return strings.Join(n, " ")
	}
	items := func() []Item {
		var out []Item
		for _, o := range objs {
			out = append(out, Item{pods, o})
		}
		return out
	}
	tests := []struct{ path, want, err string }{
		{path: ".metadata.name", want: "crasher creating failed going init-crash init-wait job myweb other sidecar"},
		{path: "{.metadata.creationTimestamp}", want: "other failed sidecar job going init-crash crasher init-wait myweb creating"},
		{path: ".status.podIP", want: "creating job failed init-wait init-crash other myweb crasher going sidecar"},
		{path: ".status.containerStatuses[0].restartCount", want: "other myweb creating job failed going init-wait init-crash sidecar crasher"},
		{path: ".nope", err: `couldn't find any field with path "{.nope}" in the list of objects`},
	}
	for _, tt := range tests {
		it := items()
		err := SortItems(it, tt.path)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("SortItems(%s) = %v, want %s", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("SortItems(%s): %v", tt.path, err)
			continue
		}
		if got := names(it); got != tt.want {
			t.Errorf("SortItems(%s) = %s\nwant %s", tt.path, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		less bool
	}{{"web-10", "web-2", true}, {"web-2", "web-10", false}, {"a", "b", true}, {"a01", "a1", true}, {"x", "x1", true}, {"10Mi", "9Mi", false}} {
		if got := lessValue(tt.a, tt.b); got != tt.less {
			t.Errorf("lessValue(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// FuzzParseCustomColumns: any spec is either understood or refused with an
// error, and an understood one prints any object without panicking.
func FuzzParseCustomColumns(f *testing.F) {
	for _, s := range []string{"NAME:.metadata.name,IP:.status.podIP", "A:{.a[*].b},B:c.d", "X:.a[?(@.b==1)]", "N:"} {
		f.Add(s)
	}
	obj := map[string]any{"metadata": map[string]any{"name": "x"}, "a": []any{map[string]any{"b": "c"}}}
	f.Fuzz(func(t *testing.T, spec string) {
		cols, err := ParseCustomColumns(spec)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		_ = PrintCustomColumns(&buf, cols, []any{obj}, false)
	})
}

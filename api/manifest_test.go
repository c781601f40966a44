package api

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const rsYAML = `# a ReplicaSet and a pod
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myweb-rs
  labels: {app: myweb}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: myweb
  template:
    metadata:
      labels:
        app: myweb
    spec:
      containers:
      - name: web
        image: myweb.wasm
        ports:
        - containerPort: 8080
          name: http
        resources:
          limits:
            memory: 64Mi
        readinessProbe:
          httpGet: {path: /healthz, port: http}
---
---   # an empty document
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers: [{name: c, image: /opt/c.wasm, args: ["--port", "8080"]}]
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(objs []Object) string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetTypeMeta().Kind+"/"+o.GetObjectMeta().Name)
	}
	return strings.Join(out, " ")
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	rs := writeFile(t, dir, "rs.yaml", rsYAML)
	objs, warnings, err := LoadPaths([]string{rs}, false, nil)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %v", err, warnings)
	}
	if got := names(objs); got != "ReplicaSet/myweb-rs Pod/solo" {
		t.Fatalf("objects %s", got)
	}
	r := objs[0].(*ReplicaSet)
	c := r.Spec.Template.Spec.Containers[0]
	if *r.Spec.Replicas != 2 || r.Spec.Selector.MatchLabels["app"] != "myweb" || c.Resources.Limits[ResourceMemory].Value() != 64<<20 ||
		c.ReadinessProbe.HTTPGet.Port != FromString("http") || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("decoded %+v", r.Spec)
	}
	if p := objs[1].(*Pod); !reflect.DeepEqual(p.Spec.Containers[0].Args, []string{"--port", "8080"}) {
		t.Errorf("pod args %v", p.Spec.Containers[0].Args)
	}
}

// LoadManifests without strictness keeps what the file states, unknown
// and unimplemented fields included, for the node to judge; the typed
// object has neither.
func TestLoadManifestsKeepsTheDocument(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "p.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containerz: 1\n  hostPID: true\n"+
		"  containers:\n  - name: c\n    image: a.wasm\n")
	if _, _, err := LoadManifests([]string{f}, false, nil, FieldValidationStrict); err == nil || !strings.Contains(err.Error(), `unknown field "spec.containerz"`) {
		t.Fatalf("strict: %v", err)
	}
	ms, warnings, err := LoadManifests([]string{f}, false, nil, FieldValidationIgnore)
	if err != nil || len(ms) != 1 {
		t.Fatalf("ignore: %v %v", ms, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "spec.hostPID is not implemented") {
		t.Errorf("warnings %q", warnings)
	}
	m := ms[0]
	spec := m.Doc["spec"].(map[string]any)
	if m.Source != f || spec["containerz"] == nil || spec["hostPID"] != true || m.Object.GetObjectMeta().Name != "p" {
		t.Errorf("manifest %+v", m)
	}
}

func TestLoadPathsDirectoriesListsAndStdin(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", rsYAML)
	writeFile(t, dir, "notes.txt", "not a manifest")
	writeFile(t, dir, "sub/list.json", `{"apiVersion":"v1","kind":"List","items":[
		{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}},
		{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}]}
	{"apiVersion":"v1","kind":"Pod","metadata":{"name":"second-json"}}`)
	for _, tc := range []struct {
		recursive bool
		want      string
	}{
		{false, "ReplicaSet/myweb-rs Pod/solo"},
		{true, "ReplicaSet/myweb-rs Pod/solo Namespace/team ReplicationController/rc Pod/second-json"},
	} {
		objs, _, err := LoadPaths([]string{dir}, tc.recursive, nil)
		if err != nil || names(objs) != tc.want {
			t.Errorf("recursive %v: %s, %v", tc.recursive, names(objs), err)
		}
	}
	objs, _, err := LoadPaths([]string{"-"}, false, strings.NewReader("kind: Namespace\napiVersion: v1\nmetadata:\n  name: from-stdin\n"))
	if err != nil || names(objs) != "Namespace/from-stdin" {
		t.Errorf("stdin: %s, %v", names(objs), err)
	}
}

func TestLoadPathsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
		warnings            []string
	}{
		{"rs.yaml", strings.Replace(rsYAML, "  selector:", "  selecotr:", 1),
			`error validating "rs.yaml": ReplicaSet "myweb-rs": ReplicaSet in version "v1" cannot be handled as a ReplicaSet: strict decoding error: unknown field "spec.selecotr"`, nil},
		{"typo.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x.wasm\n    imagePullPolice: Always\n    Command: [x]\n",
			`error validating "typo.yaml": Pod "p": Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].Command", unknown field "spec.containers[0].imagePullPolice"`, nil},
		{"kind.yaml", "apiVersion: apps/v1\nkind: RelicaSets\nmetadata: {name: web}\n",
			`resource mapping not found for name: "web" namespace: "" from "kind.yaml": no matches for kind "RelicaSets" in version "apps/v1"
ensure CRDs are installed first`, nil},
		{"nokind.yaml", "apiVersion: v1\nmetadata: {name: web}\n", `error validating "nokind.yaml": error validating data: kind not set`, nil},
		{"bad.yaml", "apiVersion: v1\nkind: Pod\n  metadata: x\n",
			`error parsing bad.yaml: error converting YAML to JSON: yaml: line 3: mapping values are not allowed in this context`, nil},
		{"type.yaml", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: w}\nspec: {replicas: two}\n",
			`error validating "type.yaml": ReplicaSet "w": ReplicaSet in version "v1" cannot be handled as a ReplicaSet: json: cannot unmarshal string into Go struct field ReplicaSetSpec.spec.replicas of type int32`, nil},
		{"qty.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: c, image: i, resources: {limits: {memory: lots}}}]}\n",
			`error validating "qty.yaml": Pod "q": Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`, nil},
		{"affinity.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  affinity: {nodeAffinity: {}}\n  tolerations: [{key: k}]\n  containers: [{name: c, image: i, securityContext: {runAsUser: 1}, resizePolicy: [{resourceName: cpu}]}]\n  securityContext: {runAsNonRoot: true}\n", "",
			[]string{
				`"affinity.yaml": Pod "a": spec.affinity is not implemented by wasmlet and was ignored`,
				`"affinity.yaml": Pod "a": spec.containers[0].resizePolicy is not implemented by wasmlet and was ignored`,
				`"affinity.yaml": Pod "a": spec.containers[0].securityContext is not implemented by wasmlet and was ignored`,
				`"affinity.yaml": Pod "a": spec.securityContext.runAsNonRoot is not implemented by wasmlet and was ignored`,
				`"affinity.yaml": Pod "a": spec.tolerations is not implemented by wasmlet and was ignored`,
			}},
		{"dup.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: d}\nspec:\n  containers: []\n  containers: []\n",
			`error parsing dup.yaml: error converting YAML to JSON: yaml: unmarshal errors:
  line 6: key "containers" already set in map`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, tc.name, tc.content)
			wd, _ := os.Getwd()
			if err := os.Chdir(dir); err != nil {
				t.Fatal(err)
			}
			defer os.Chdir(wd)
			objs, warnings, err := LoadPaths([]string{filepath.Base(p)}, false, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("error\n got %s\nwant %s", got, tc.want)
			}
			if strings.Join(warnings, "\n") != strings.Join(tc.warnings, "\n") {
				t.Errorf("warnings\n got %s\nwant %s", strings.Join(warnings, "\n     "), strings.Join(tc.warnings, "\n     "))
			}
			if tc.want == "" && len(objs) != 1 {
				t.Errorf("objects %s", names(objs))
			}
		})
	}
	if _, _, err := LoadPaths([]string{"/no/such/file.yaml"}, false, nil); err == nil || err.Error() != `the path "/no/such/file.yaml" does not exist` {
		t.Errorf("missing file: %v", err)
	}
}

func TestDecodeWith(t *testing.T) {
	body := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}],"nodeNmae":"x","tolerations":[]}}`)
	if _, _, err := Decode(body); err == nil || ReasonOf(err) != StatusReasonBadRequest ||
		err.Error() != `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.nodeNmae"` {
		t.Errorf("strict: %v", err)
	}
	obj, warnings, err := DecodeWith(body, FieldValidationWarn)
	if err != nil || strings.Join(warnings, "; ") != `spec.tolerations is not implemented by wasmlet and was ignored; unknown field "spec.nodeNmae"` {
		t.Errorf("warn: %v %v", warnings, err)
	}
	if obj.(*Pod).Spec.NodeName != "" {
		t.Error("an unknown field must not reach the object through case-insensitive matching")
	}
	if _, warnings, err = DecodeWith(body, FieldValidationIgnore); err != nil || len(warnings) != 1 {
		t.Errorf("ignore: %v %v", warnings, err)
	}
	if _, _, err := Decode([]byte("apiVersion: v9\nkind: Pod\n")); ReasonOf(err) != StatusReasonNotFound {
		t.Errorf("unknown version: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(rsYAML[:strings.Index(rsYAML, "---")]))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"memory":"1Gi"}}}]}}`))
	f.Add([]byte("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {capacity: {pods: 110}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := DecodeWith(data, FieldValidationWarn)
		if err != nil {
			if _, ok := err.(*Status); !ok {
				t.Fatalf("error is not a Status: %T %v", err, err)
			}
			return
		}
		Default(obj)
		Validate(obj)
		obj.DeepCopyObject()
		_, _, _ = loadManifest("fuzz.yaml", data, FieldValidationStrict)
		_, _, _ = loadManifest("fuzz.yaml", data, FieldValidationIgnore)
	})
}

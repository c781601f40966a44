package printers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const jsonPathList = `{
  "kind": "List",
  "items": [
    {"metadata": {"name": "web-1", "labels": {"app": "web", "app.kubernetes.io/name": "myweb"}},
     "spec": {"containers": [{"name": "myweb", "image": "myweb.wasm"}, {"name": "log", "image": "log.wasm"}]},
     "status": {"phase": "Running", "restarts": 2}},
    {"metadata": {"name": "web-2", "labels": {"app": "web"}},
     "spec": {"containers": [{"name": "myweb", "image": "myweb.wasm"}]},
     "status": {"phase": "Pending", "restarts": 0}},
    {"metadata": {"name": "job"},
     "spec": {"containers": [{"name": "job", "image": "job.wasm"}]},
     "status": {"phase": "Succeeded", "restarts": 10}}
  ]
}`

func TestJSONPath(t *testing.T) {
	d := json.NewDecoder(strings.NewReader(jsonPathList))
	d.UseNumber()
	var data any
	if err := d.Decode(&data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		template, want string
	}{
		{`{.kind}`, "List"},
		{`{.items[*].metadata.name}`, "web-1 web-2 job"},
		{`{.items[0].metadata.name}`, "web-1"},
		{`{.items[-1].metadata.name}`, "job"},
		{`{.items[1:].metadata.name}`, "web-2 job"},
		{`{.items[:2].metadata.name}`, "web-1 web-2"},
		{`{.items[0:3:2].metadata.name}`, "web-1 job"},
		{`{.items[7].metadata.name}`, ""},
		{`{.items[*].missing}`, ""},
		{`{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}`, "web-1\tRunning\nweb-2\tPending\njob\tSucceeded\n"},
		{`names: {range .items[*]}[{.metadata.name}]{end} done`, "names: [web-1][web-2][job] done"},
		{`{.items[?(@.status.phase=="Running")].metadata.name}`, "web-1"},
		{`{.items[?(@.status.phase!="Running")].metadata.name}`, "web-2 job"},
		{`{.items[?(@.status.restarts>1)].metadata.name}`, "web-1 job"},
		{`{.items[?(@.status.restarts<=2)].metadata.name}`, "web-1 web-2"},
		{`{.items[?(@.metadata.labels.app)].metadata.name}`, "web-1 web-2"},
		{`{.items[0].metadata.labels['app\.kubernetes\.io/name']}`, "myweb"},
		{`{.items[0].metadata.labels.app\.kubernetes\.io/name}`, "myweb"},
		{`{.items[0].metadata.labels['app','app.kubernetes.io/name']}`, "web myweb"},
		{`{.items[0].metadata.name,.items[1].metadata.name}`, "web-1 web-2"},
		{`{..image}`, "myweb.wasm log.wasm myweb.wasm job.wasm"},
		{`{.items[1].spec.containers[0]}`, `{"image":"myweb.wasm","name":"myweb"}`},
		{`{.items[1].metadata.labels}`, `{"app":"web"}`},
		{`{.items[0].status.restarts}`, "2"},
		{`{.items[0].metadata.labels.*}`, "web myweb"},
		{`{$.kind}`, "List"},
		{`{@.kind}`, "List"},
		{`plain text`, "plain text"},
		{`{range .items[*]}{range .spec.containers[*]}{.name},{end};{end}`, "myweb,log,;myweb,;job,;"},
		{`{range .items[?(@.status.phase=="Nope")]}{.metadata.name}{end}after`, "after"},
	}
	for _, tt := range tests {
		j, err := ParseJSONPath(tt.template)
		if err != nil {
			t.Errorf("%s: %v", tt.template, err)
			continue
		}
		var buf bytes.Buffer
		if err := j.Execute(&buf, data); err != nil {
			t.Errorf("%s: %v", tt.template, err)
			continue
		}
		if buf.String() != tt.want {
			t.Errorf("%s = %q, want %q", tt.template, buf.String(), tt.want)
		}
	}
}

func TestJSONPathErrors(t *testing.T) {
	tests := []struct{ template, want string }{
		{`{.items[`, "error parsing jsonpath {.items[, unclosed action"},
		{`{.items[}`, "error parsing jsonpath {.items[}, unterminated array"},
		{`{end}`, "error parsing jsonpath {end}, not in range, nothing to end"},
		{`{range .items[*]}`, "error parsing jsonpath {range .items[*]}, unclosed range"},
		{`{.a[x]}`, "error parsing jsonpath {.a[x]}, invalid array index x"},
		{`{%}`, "error parsing jsonpath {%}, unrecognized character in action: U+0025 '%'"},
		{`{.a[?(@.b]}`, "error parsing jsonpath {.a[?(@.b]}, unterminated filter"},
	}
	for _, tt := range tests {
		_, err := ParseJSONPath(tt.template)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseJSONPath(%q) = %v, want %q", tt.template, err, tt.want)
		}
	}
}

func TestJSONPathAsJSON(t *testing.T) {
	var data any
	if err := json.Unmarshal([]byte(jsonPathList), &data); err != nil {
		t.Fatal(err)
	}
	j, err := ParseJSONPath(`{.items[*].metadata.name}`)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := j.ExecuteJSON(&buf, data); err != nil {
		t.Fatal(err)
	}
	want := "[\n    \"web-1\",\n    \"web-2\",\n    \"job\"\n]\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{`{.items[*].metadata.name}`, `{range .items[*]}{.a}{"\n"}{end}`,
		`{.a[?(@.b=="c")]}`, `{..x}`, `{.a['b.c','d']}`, `{.a[1:-1:2]}`} {
		f.Add(s)
	}
	var data any
	if err := json.Unmarshal([]byte(jsonPathList), &data); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, template string) {
		j, err := ParseJSONPath(template)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		_ = j.Execute(&buf, data)
	})
}

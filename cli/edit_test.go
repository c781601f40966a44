package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// scriptEditor writes an editor script that runs each given shell step on
// its file in turn, one step per run, and records what it was shown.
func scriptEditor(t *testing.T, steps ...string) (string, func(int) string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("#!/bin/sh\nset -e\nf=\"$1\"\nn=$(cat " + dir + "/count 2>/dev/null || echo 0)\n")
	b.WriteString("cp \"$f\" " + dir + "/seen.$n\necho $((n+1)) > " + dir + "/count\ncase $n in\n")
	for i, s := range steps {
		b.WriteString(strings.Repeat(" ", 2) + string(rune('0'+i)) + ") " + s + " ;;\n")
	}
	b.WriteString("esac\n")
	path := filepath.Join(dir, "editor")
	if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func(i int) string {
		b, _ := os.ReadFile(filepath.Join(dir, "seen."+string(rune('0'+i))))
		return string(b)
	}
}

func TestEdit(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	node := newMemoryNode(now)
	p := &api.Pod{}
	p.Name, p.Namespace, p.Labels = "a", "default", map[string]string{"app": "web"}
	p.Spec.Containers = []api.Container{{Name: "app", Image: "app.wasm"}}
	if _, err := node.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	run := func(editor, line string) (int, string, string) {
		var out, errOut syncBuffer
		env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			now: func() time.Time { return now },
			getenv: func(k string) string {
				switch k {
				case "EDITOR":
					return editor
				case "TMPDIR":
					return tmp
				}
				return ""
			},
			dial: func(string) (nodeClient, error) { return node, nil }}
		code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(line)...))
		return code, out.String(), errOut.String()
	}

	editor, seen := scriptEditor(t, `sed -i 's/app: web/app: api/' "$f"`)
	code, stdout, stderr := run(editor, "edit pod a")
	if code != 0 || stdout != "pod/a edited\n" || stderr != "" {
		t.Errorf("edit: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if s := seen(0); !strings.HasPrefix(s, editIntro+"apiVersion: v1\nkind: Pod\nmetadata:\n") || !strings.Contains(s, "    app: web\n") {
		t.Errorf("the editor was shown\n%s", s)
	}
	if code, out, _ := runLine(node, now, "get pod a -o jsonpath={.metadata.labels.app}"); code != 0 || out != "api" {
		t.Errorf("after edit, app=%q", out)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("an edit that was saved left %d files in TMPDIR", len(left))
	}

	editor, _ = scriptEditor(t, `true`)
	if code, stdout, stderr := run(editor, "edit pods/a"); code != 0 || stdout != "" || stderr != "Edit cancelled, no changes made.\n" {
		t.Errorf("unchanged edit: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// As kubectl's, which validates the file first, an empty file is an
	// invalid object.
	editor, _ = scriptEditor(t, `: > "$f"`)
	if code, _, stderr := run(editor, "edit pod a"); code != 1 || !strings.HasPrefix(stderr, "error: pods \"a\" is invalid\nA copy of your changes") {
		t.Errorf("emptied edit: exit %d, stderr %q", code, stderr)
	}

	// A syntax error reopens the file with the error on top; saving the
	// same again gives up and keeps a copy.
	editor, seen = scriptEditor(t, `echo "  bad: [" >> "$f"`, `true`)
	code, _, stderr = run(editor, "edit pod a")
	if code != 1 || !strings.HasPrefix(stderr, "error: pods \"a\" is invalid\nA copy of your changes has been stored to \"") ||
		!strings.HasSuffix(stderr, "error: Edit cancelled, no valid changes were saved.\n") ||
		!strings.Contains(stderr, "stored to \""+tmp+"/wasmlet-edit-") {
		t.Errorf("invalid edit: exit %d, stderr %q", code, stderr)
	}
	if s := seen(1); !strings.HasPrefix(s, editIntro+"# pods \"a\" was not valid:\n# * <nil>: Invalid value: \"The edited file failed validation\": yaml: ") || !strings.Contains(s, "\n  bad: [\n") {
		t.Errorf("the editor was shown again\n%s", s)
	}

	// A fixed second attempt is sent.
	editor, _ = scriptEditor(t, `echo "  bad: [" >> "$f"`, `sed -i 's/  bad: \[//; s/app: api/app: fixed/' "$f"`)
	if code, stdout, stderr := run(editor, "edit pod a"); code != 0 || stdout != "pod/a edited\n" {
		t.Errorf("fixed edit: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, stderr := run("/nonexistent/editor", "edit pod a"); code != 1 || stdout != "" ||
		stderr != "error: there was a problem with the editor \"/nonexistent/editor\"\n" {
		t.Errorf("missing editor: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := run(editor, "edit pod nope"); code != 1 || stderr != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("edit of a missing pod: exit %d, stderr %q", code, stderr)
	}
}

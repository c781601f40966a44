package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/cli/printers"
	"github.com/wasmlet/wasmlet/client"
	"github.com/wasmlet/wasmlet/internal/strategicpatch"
)

func (e *environment) editCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "edit",
		Usage:     "edit a resource in $KUBE_EDITOR or $EDITOR",
		ArgsUsage: "(-f FILENAME | TYPE NAME | TYPE/NAME)",
		Description: "Opens the object as YAML in the editor named by KUBE_EDITOR, else EDITOR, else vi.\n" +
			"Saving sends the changes; an edit the node refuses reopens the editor with the reasons\n" +
			"at the top. A file saved unchanged cancels the edit; an empty one is refused, as kubectl refuses it.",
		Flags: append(clientFlags(),
			&ucli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "file, directory or - (stdin) naming the objects to edit"},
			&ucli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the directories of -f recursively"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "yaml", Usage: "yaml or json: the format to edit in"},
		),
		Action: e.edit,
	}
}

// editIntro opens every file edit writes, as kubectl's does.
const editIntro = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

func (e *environment) edit(c *ucli.Context) error {
	format := c.String("output")
	if format != "yaml" && format != "json" {
		return fmt.Errorf("the flag 'output' must be one of yaml|json")
	}
	refs, err := e.findTargets(c, c.Args().Slice(), c.StringSlice("filename"))
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return errors.New("You must provide one or more resources by argument or filename.\n" +
			"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	targets, err := e.fetchTargets(c, cl, refs)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := e.editOne(c, cl, t, format); err != nil {
			return err
		}
	}
	return nil
}

// editOne runs the editor on one object until the node accepts the edit,
// the user cancels it, or saves again what the node refused.
func (e *environment) editOne(c *ucli.Context, cl nodeClient, t printTarget, format string) error {
	original, err := printers.Generic(t.object)
	if err != nil {
		return err
	}
	om := original.(map[string]any)
	if md, ok := om["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	body, err := encodeEdit(om, format)
	if err != nil {
		return err
	}
	// TMPDIR through the environment, as os.TempDir reads it, so that
	// tests keep the copies a cancelled edit leaves (as kubectl's does) in
	// a directory of their own.
	f, err := os.CreateTemp(e.env("TMPDIR"), "wasmlet-edit-*."+format)
	if err != nil {
		return err
	}
	path := f.Name()
	f.Close()

	meta := t.object.GetObjectMeta()
	var reasons []string // the last attempt's failures, shown at the top
	var failed []byte    // what the node refused, without comments
	refused := false
	for {
		// JSON gets no comments, as kubectl's: neither the intro nor the
		// reasons of a retry.
		head := []byte(editIntro + strings.Join(reasons, ""))
		if format == "json" {
			head = nil
		}
		if err := os.WriteFile(path, append(head, body...), 0o600); err != nil {
			return err
		}
		if err := e.runEditor(path); err != nil {
			return err
		}
		edited, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		content := stripComments(edited)
		if refused && bytes.Equal(content, failed) {
			fmt.Fprintf(e.stderr, "A copy of your changes has been stored to %q\n", path)
			return errors.New("Edit cancelled, no valid changes were saved.")
		}
		// A retry shows the new reasons above what the user wrote, without
		// the comments of the last round.
		body = content
		// As kubectl's, the file is checked before anything else: one that
		// does not parse, and an empty one, fail as an invalid object and
		// the editor opens again (kubectl cancels on an empty file only
		// without validation).
		var em map[string]any
		if len(bytes.TrimSpace(content)) == 0 {
			err = errors.New("invalid object to validate")
		} else {
			var j []byte
			if j, err = yaml.YAMLToJSON(content); err == nil {
				em, err = toMap(j)
			}
			if err == nil && em == nil {
				err = errors.New("invalid object to validate")
			}
		}
		if err != nil {
			reasons = []string{fmt.Sprintf("# %s %q was not valid:\n# * <nil>: Invalid value: \"The edited file failed validation\": %s\n#\n",
				t.resource.GroupResource(), meta.Name, hashLines(err.Error()))}
			fmt.Fprintf(e.stderr, "error: %s %q is invalid\n", t.resource.GroupResource(), meta.Name)
			failed, refused = content, true
			continue
		}
		if bytes.Equal(content, stripComments(mustEncode(om, format))) || jsonEqual(em, om) {
			os.Remove(path)
			fmt.Fprintln(e.stderr, "Edit cancelled, no changes made.")
			return nil
		}
		patch, err := json.Marshal(strategicpatch.CreateThreeWayJSONMergePatch(om, em, om))
		if err != nil {
			return err
		}
		if _, err := cl.Patch(c.Context, t.resource, meta.Namespace, meta.Name, client.MergePatch, patch); err != nil {
			if !isStatus(err) {
				return err
			}
			reasons = []string{editFailure(t.resource, meta.Name, err)}
			fmt.Fprintln(e.stderr, editError(t.resource, meta.Name, err))
			failed, refused = content, true
			continue
		}
		os.Remove(path)
		fmt.Fprintf(e.stdout, "%s edited\n", kindName(t.resource, meta.Name))
		return nil
	}
}

// editFailure is the header that tells why the node refused an edit: each
// invalid field, or the node's message.
func editFailure(r *api.ResourceInfo, name string, err error) string {
	var st *api.Status
	if errors.As(err, &st) && st.Reason == api.StatusReasonInvalid && st.Details != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s %q was not valid:\n", r.GroupResource(), name)
		for _, cause := range st.Details.Causes {
			fmt.Fprintf(&b, "# * %s\n", hashLines(causeText(cause)))
		}
		b.WriteString("#\n")
		return b.String()
	}
	return fmt.Sprintf("# %s\n#\n", hashLines(formatError(err)))
}

// editError is the line printed for an edit the node refused, as kubectl
// prints it each time.
func editError(r *api.ResourceInfo, name string, err error) string {
	var st *api.Status
	if errors.As(err, &st) {
		switch st.Reason {
		case api.StatusReasonInvalid:
			return fmt.Sprintf("error: %s %q is invalid", r.GroupResource(), name)
		case api.StatusReasonNotFound:
			return fmt.Sprintf("error: %s %q could not be found on the server", r.GroupResource(), name)
		}
	}
	return fmt.Sprintf("error: %s %q could not be patched: %v", r.GroupResource(), name, err)
}

// hashLines keeps a multi-line message inside the comment.
func hashLines(s string) string { return strings.ReplaceAll(s, "\n", "\n# ") }

// stripComments drops the lines that begin with '#'.
func stripComments(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func encodeEdit(obj map[string]any, format string) ([]byte, error) {
	j, err := json.MarshalIndent(obj, "", "    ")
	if err != nil {
		return nil, err
	}
	if format == "json" {
		return append(j, '\n'), nil
	}
	return yaml.JSONToYAML(j)
}

func mustEncode(obj map[string]any, format string) []byte {
	b, _ := encodeEdit(obj, format)
	return b
}

// runEditor opens path in $KUBE_EDITOR, $EDITOR or vi. An editor command
// with spaces (`code --wait`) runs through the shell, as kubectl runs it.
func (e *environment) runEditor(path string) error {
	editor := e.env("KUBE_EDITOR")
	if editor == "" {
		editor = e.env("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	var cmd *exec.Cmd
	if strings.ContainsAny(editor, " \t") {
		shell := e.env("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		cmd = exec.Command(shell, "-c", editor+" "+shellQuote(path))
	} else {
		cmd = exec.Command(editor, path)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("there was a problem with the editor %q", editor)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func testApp() *environment {
	return &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
}

func TestReorderArgs(t *testing.T) {
	app := testApp().newApp()
	tests := []struct {
		in   string
		want string
	}{
		{"get pods", "get -- pods"},
		{"get pods -o wide", "get -o wide -- pods"},
		{"get -owide pods", "get -o wide -- pods"},
		{"get pods --output=yaml myweb", "get --output=yaml -- pods myweb"},
		{"-n kube-system get rs", "get -n kube-system -- rs"},
		{"get rs,pods -A --show-labels -l app=web", "get -A --show-labels -l app=web -- rs,pods"},
		{"get pods -lapp=web", "get -l app=web -- pods"},
		{"label pods myweb app=db --overwrite", "label --overwrite -- pods myweb app=db"},
		{"label pods myweb app-", "label -- pods myweb app-"},
		{"delete pod myweb --grace-period -1", "delete --grace-period -1 -- pod myweb"},
		{"delete -f - ", "delete -f -  "},
		{"get pods -- -weird", "get -- pods -weird"},
		{"scale rc myweb-rc --replicas=5", "scale --replicas=5 -- rc myweb-rc"},
		{"patch pod a -p {} --type merge", "patch -p {} --type merge -- pod a"},
		{"-n x patch pod a -p {}", "patch -n x -p {} -- pod a"},
		{"logs a -p -c app", "logs -p -c app -- a"},
		{"logs -f a", "logs -f -- a"},
		{"apply -f a.yaml", "apply -f a.yaml"},
		{"get pods -w -L app", "get -w -L app -- pods"},
		{"--help", "--help"},
		{"get", "get"},
		{"bogus -x y", "bogus -x y"},
	}
	for _, tt := range tests {
		got := reorderArgs(app, strings.Fields(tt.in))
		if tt.in == "delete -f - " {
			got = reorderArgs(app, []string{"delete", "-f", "-"})
			if want := []string{"delete", "-f", "-"}; !slices.Equal(got, want) {
				t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, want)
			}
			continue
		}
		if want := strings.Fields(tt.want); !slices.Equal(got, want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args   string
		stderr string
	}{
		{"get", "You must specify the type of resource to get. Use \"wasmlet api-resources\" for a complete list of supported resources.\n\nerror: Required resource not specified."},
		{"get statefulsets", `error: the server doesn't have a resource type "statefulsets"`},
		{"get pods,sts", `error: the server doesn't have a resource type "sts"`},
		{"get pods --bogus", "error: unknown flag: --bogus\nSee 'wasmlet get --help' for usage."},
		{"get pods -o table", `error: unable to match a printer suitable for the output format "table"`},
		{"get pod/a b", "error: there is no need to specify a resource type as a separate argument"},
		{"frobnicate", `error: unknown command "frobnicate" for "wasmlet"`},
		{"delete", "error: You must provide one or more resources by argument or filename."},
		{"delete pods", "error: resource(s) were provided, but no name was specified"},
		{"delete pods --all -l app=web", "error: cannot set --all and --selector at the same time"},
		{"delete pods x --now --grace-period 5", "error: --now and --grace-period cannot be specified together"},
		{"delete pods x --cascade=sometimes", `error: invalid cascade value (sometimes). Must be "background", "foreground", or "orphan"`},
		{"label pods x", "error: at least one label update is required"},
		{"label pods x a=b a-", "error: can not both modify and remove a label in the same command"},
		{"label pods x a=b=c", "error: invalid label spec: a=b=c"},
		{"scale rs x", "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"},
		{"apply", "error: must specify one of -f and -k"},
		{"create", "error: must specify one of -f and -k"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			env := testApp()
			code := env.run(context.Background(), append([]string{"wasmlet"}, strings.Fields(tt.args)...))
			stderr := env.stderr.(*bytes.Buffer).String()
			if code != 1 {
				t.Errorf("exit code %d, want 1 (stderr %q)", code, stderr)
			}
			if !strings.HasPrefix(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to begin with %q", stderr, tt.stderr)
			}
		})
	}
}

// FuzzSplitArgs checks that splitting never loses or invents an argument.
func FuzzSplitArgs(f *testing.F) {
	f.Add("get pods -o wide")
	f.Add("-owide get -- -x")
	f.Add("-n")
	f.Add("label pods x a=b c- --overwrite")
	takes := flagKinds(testApp().newApp().Commands[3].Flags)
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		flags, positional := splitArgs(args, takes)
		n := 0
		for _, a := range append(flags, positional...) {
			n += len(a)
		}
		m := 0
		for _, a := range args {
			if a != "--" {
				m += len(a)
			}
		}
		// -owide becomes -o wide: one more dash.
		if n < m-strings.Count(line, "--") || n > m+len(args) {
			t.Errorf("splitArgs(%q) = %q, %q", args, flags, positional)
		}
	})
}

// Package cli is wasmlet's command line: kubectl's verbs, flags, messages
// and exit codes for what a wasmlet node serves, and `serve` to run a node.
//
// The CLI only parses flags, calls the client (or, for serve, the root
// package's Node) and prints; what an object means is decided by api/ and
// by the node. Each verb lives in its own file; printers/ renders kubectl's
// tables and -o formats.
//
// Flags may appear anywhere on the line, before or after the verb and its
// arguments, as with kubectl; Run moves them in front of the arguments
// before urfave/cli, which stops at the first argument, parses them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/internal/version"
)

// Run runs the command line args (args[0] is the program's name) and
// returns the exit code: 0 on success, 1 on any error, as kubectl.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, getenv: os.Getenv}
	return env.run(ctx, args)
}

// environment is what one invocation reads from and writes to. Tests
// inject now, getenv and dial; run gives each one a test left out the
// real one, so that the verbs never meet a nil dependency that the
// process running them would not have.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	// getenv reads the environment (KUBECONFIG, KUBE_EDITOR, EDITOR,
	// TMPDIR, ...).
	getenv func(string) string
	// dial replaces the client's FromKubeconfig (tests of the verbs' logic
	// without a node); nil dials the node of the kubeconfig.
	dial func(kubeconfig string) (nodeClient, error)
	// afterDash is the arguments after the first `--` as typed, which
	// reorderArgs's own `--` no longer tells (kubectl's ArgsLenAtDash).
	afterDash []string
}

// complete sets every dependency left out to the real one.
func (e *environment) complete() {
	if e.now == nil {
		e.now = time.Now
	}
	if e.getenv == nil {
		e.getenv = os.Getenv
	}
	if e.stdin == nil {
		e.stdin = strings.NewReader("")
	}
	if e.stdout == nil {
		e.stdout = io.Discard
	}
	if e.stderr == nil {
		e.stderr = io.Discard
	}
}

func (e *environment) run(ctx context.Context, args []string) int {
	e.complete()
	app := e.newApp()
	if len(args) == 0 {
		args = []string{"wasmlet"}
	}
	if len(args) > 1 && args[1] == completeCommandName {
		return e.runComplete(ctx, app, args[2:])
	}
	e.afterDash = argsAfterDash(args[1:])
	args = append(args[:1:1], reorderArgs(app, args[1:])...)
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && app.Command(args[1]) == nil {
		fmt.Fprintf(e.stderr, "error: unknown command %q for \"wasmlet\"\nRun 'wasmlet --help' for usage.\n", args[1])
		return 1
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	var ex exitError
	if errors.As(err, &ex) {
		return ex.code
	}
	fmt.Fprintln(e.stderr, formatError(err))
	return 1
}

func (e *environment) newApp() *ucli.App {
	app := &ucli.App{
		Name:            "wasmlet",
		Usage:           "run WebAssembly modules as Kubernetes pods on one machine",
		Version:         version.Version,
		HideVersion:     true,
		HideHelpCommand: true,
		Reader:          e.stdin,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		Suggest:         false,
		// Errors are printed once, by run, in kubectl's words.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError: func(c *ucli.Context, err error, _ bool) error {
			return usageError(c, err)
		},
		Commands: []*ucli.Command{
			e.serveCommand(),
			e.upCommand(),
			e.logsCommand(),
			e.applyCommand(),
			e.diffCommand(),
			e.createCommand(),
			e.getCommand(),
			e.describeCommand(),
			e.annotateCommand(),
			e.patchCommand(),
			e.replaceCommand(),
			e.editCommand(),
			e.eventsCommand(),
			e.explainCommand(),
			e.apiResourcesCommand(),
			e.apiVersionsCommand(),
			e.deleteCommand(),
			e.waitCommand(),
			e.runCommand(),
			e.pushCommand(),
			e.imagesCommand(),
			e.rmiCommand(),
			e.labelCommand(),
			e.scaleCommand(),
			e.exposeCommand(),
			e.setCommand(),
			e.rolloutCommand(),
			e.kubeconfigCommand(),
			e.versionCommand(),
			e.completionCommand(),
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = func(c *ucli.Context, err error, _ bool) error { return usageError(c, err) }
	}
	return app
}

// usageError is kubectl's answer to a bad flag: what is wrong, then where
// help is.
func usageError(c *ucli.Context, err error) error {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag: " + strings.TrimLeft(f, "-")
		if len(strings.TrimLeft(f, "-")) == 1 {
			msg = "unknown shorthand flag: '" + strings.TrimLeft(f, "-") + "' in " + f
		} else {
			msg = "unknown flag: --" + strings.TrimLeft(f, "-")
		}
	}
	return fmt.Errorf("%s\nSee '%s --help' for usage.", msg, c.Command.HelpName)
}

// exitError ends the command with code after it has printed what it had to
// say.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usagef is an error in how a command was called.
func usagef(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

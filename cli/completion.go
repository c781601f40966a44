package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmlet/wasmlet/api"
	"github.com/wasmlet/wasmlet/client"
)

// Shell completion works as kubectl's: the script `completion` prints asks
// the binary itself, `wasmlet __complete WORD...`, for the candidates of
// the word being completed (the last one, maybe empty). The binary knows
// its verbs, their flags and the kinds it serves, and asks the node for
// the names of its objects, so the script never goes stale.

// completeCommandName is the hidden verb the scripts call; run answers it
// before parsing flags, since the words of a half-typed line are no
// command line.
const completeCommandName = "__complete"

// The last line __complete prints tells the script what to do when there
// is no candidate: complete file names (the value of -f, --kubeconfig) or
// nothing.
const (
	completeFiles   = ":files"
	completeNoFiles = ":nofiles"
)

// completionTimeout bounds the wait for the node's names: a shell waits
// for them at every Tab.
const completionTimeout = 2 * time.Second

// completionShells are the shells completion writes a script for.
var completionShells = map[string]string{"bash": bashCompletion, "zsh": zshCompletion}

func (e *environment) completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "completion",
		Usage:     "print the shell completion code for bash or zsh",
		ArgsUsage: "SHELL",
		Description: "Prints the code that makes the shell complete wasmlet's verbs, flags, kinds and the\n" +
			"names of the node's objects. Load it in the current shell:\n\n" +
			"   source <(wasmlet completion bash)\n" +
			"   source <(wasmlet completion zsh)     # after compinit\n\n" +
			"or add that line to ~/.bashrc or ~/.zshrc. The shells supported are bash and zsh.",
		Action: e.completion,
	}
}

func (e *environment) completion(c *ucli.Context) error {
	switch c.NArg() {
	case 0:
		return fmt.Errorf("Shell not specified: the shells supported are bash and zsh.\nSee 'wasmlet completion --help' for help and examples.")
	case 1:
	default:
		return fmt.Errorf("Too many arguments. Expected only the shell type.\nSee 'wasmlet completion --help' for help and examples.")
	}
	script, ok := completionShells[c.Args().First()]
	if !ok {
		return fmt.Errorf("Unsupported shell type %q: the shells supported are bash and zsh.\nSee 'wasmlet completion --help' for help and examples.", c.Args().First())
	}
	_, err := io.WriteString(e.stdout, script)
	return err
}

// runComplete prints the candidates for the last of words, one a line,
// and the directive line. It says nothing on stderr and never fails: a
// node that does not answer gives no names.
func (e *environment) runComplete(ctx context.Context, app *ucli.App, words []string) int {
	e.stderr = io.Discard
	cands, files := completeWords(app, words, func(cmd *ucli.Command, flags []string, r *api.ResourceInfo) []string {
		return e.completeNames(ctx, app, cmd, flags, r)
	})
	var b strings.Builder
	for _, c := range cands {
		b.WriteString(c + "\n")
	}
	if files {
		b.WriteString(completeFiles + "\n")
	} else {
		b.WriteString(completeNoFiles + "\n")
	}
	io.WriteString(e.stdout, b.String())
	return 0
}

// completeNames lists the names of the objects of r through the client
// the verb would use, with the verb's flags (--kubeconfig, -n, -A) as
// typed so far; nil when the node cannot say within completionTimeout.
func (e *environment) completeNames(ctx context.Context, app *ucli.App, cmd *ucli.Command, flags []string, r *api.ResourceInfo) []string {
	set := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range cmd.Flags {
		_ = f.Apply(set)
	}
	_ = set.Parse(flags)
	// urfave/cli gives each name of a flag its own variable and copies a
	// value typed under one name (-n) to the others (--namespace) when it
	// runs a command; the flags here are parsed without it.
	typed := map[string]string{}
	set.Visit(func(f *flag.Flag) { typed[f.Name] = f.Value.String() })
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if v, ok := typed[n]; ok {
				for _, other := range f.Names() {
					if other != n {
						_ = set.Set(other, v)
					}
				}
			}
		}
	}
	c := ucli.NewContext(app, set, nil)
	c.Command = cmd
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	c.Context = ctx
	cl, err := e.connect(c)
	if err != nil {
		return nil
	}
	ns := ""
	if r.Namespaced && !c.Bool("all-namespaces") {
		ns = namespace(c)
	}
	objs, err := cl.List(ctx, r, ns, client.ListOptions{})
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.GetObjectMeta().Name)
	}
	return names
}

// nameLister lists the names of the objects of r, given the verb and the
// flags typed so far.
type nameLister func(cmd *ucli.Command, flags []string, r *api.ResourceInfo) []string

// completeWords is the candidates for the last of words (the command line
// after the program's name, up to the word being completed), and whether
// the shell should complete file names when there are none.
func completeWords(app *ucli.App, words []string, names nameLister) (cands []string, files bool) {
	words = joinAssignments(words)
	if len(words) == 0 {
		words = []string{""}
	}
	cur, prior := words[len(words)-1], words[:len(words)-1]

	all := flagKinds(app.Flags)
	for _, cmd := range app.Commands {
		for name, v := range flagKinds(cmd.Flags) {
			all[name] = all[name] || v
		}
	}
	_, positional := splitArgs(prior, all)
	var cmd *ucli.Command
	if len(positional) > 0 {
		if cmd = app.Command(positional[0]); cmd == nil || cmd.Hidden {
			return nil, false
		}
	}
	kinds := all
	if cmd != nil {
		// Once the verb is known its own flags say which take a value, as
		// reorderArgs reads them.
		kinds = flagKinds(app.Flags)
		for name, v := range flagKinds(cmd.Flags) {
			kinds[name] = v
		}
	}

	// The value of a flag: `-n <Tab>` or `--namespace=<Tab>`.
	if name, value, ok := flagValue(prior, cur, kinds); ok {
		if cmd != nil && (name == "namespace" || name == "n") {
			before := prior
			if !strings.HasPrefix(cur, "-") {
				before = prior[:len(prior)-1] // without the flag itself
			}
			return withPrefix(names(cmd, flagsOf(before, kinds), namespacesResource()), value), false
		}
		return nil, true
	}
	if strings.HasPrefix(cur, "-") {
		return withPrefix(flagNames(app, cmd), cur), false
	}
	if cmd == nil {
		var verbs []string
		for _, c := range app.Commands {
			if !c.Hidden {
				verbs = append(verbs, c.Name)
			}
		}
		return withPrefix(verbs, cur), false
	}

	flags, positional := splitArgs(prior, kinds)
	args := positional[1:]
	if words, ok := createSecretType(cmd.Name, args); ok {
		return withPrefix(words, cur), false
	}
	if subs := verbSubcommands[cmd.Name]; subs != nil {
		if len(args) == 0 {
			return withPrefix(subs, cur), false
		}
		args = args[1:]
	}
	list := func(r *api.ResourceInfo) []string { return names(cmd, flags, r) }
	if cmd.Name == "completion" {
		if len(args) > 0 {
			return nil, false
		}
		return withPrefix([]string{"bash", "zsh"}, cur), false
	}
	switch argsOf(cmd) {
	case argsKinds:
		if len(args) == 0 {
			return withPrefix(kindNames(false), cur), false
		}
	case argsPod:
		switch {
		case strings.Contains(cur, "/") && len(args) == 0:
			return typeSlashNames(cur, list), false
		case len(args) == 0:
			if r, ok := api.LookupResource("pods"); ok {
				return withPrefix(list(r), cur), false
			}
		}
	case argsKindNames:
		switch {
		case strings.Contains(cur, "/"):
			return typeSlashNames(cur, list), false
		case len(args) == 0:
			before, last := "", cur
			if i := strings.LastIndexByte(cur, ','); i >= 0 {
				before, last = cur[:i+1], cur[i+1:]
			}
			var out []string
			for _, k := range withPrefix(kindNames(true), last) {
				out = append(out, before+k)
			}
			return out, false
		case !strings.ContainsAny(args[0], ",/"):
			r, ok := api.LookupResource(args[0])
			if !ok {
				return nil, false
			}
			given := map[string]bool{}
			for _, a := range args[1:] {
				given[a] = true
			}
			var out []string
			for _, n := range withPrefix(list(r), cur) {
				if !given[n] {
					out = append(out, n)
				}
			}
			return out, false
		}
	}
	return nil, false
}

// argsKind is what the positional arguments of a verb are.
type argsKind int

const (
	argsNone      argsKind = iota
	argsKinds              // TYPE[.FIELD]: explain
	argsPod                // POD | TYPE/NAME: logs
	argsKindNames          // TYPE NAME... | TYPE/NAME...: get, delete, edit, ...
)

// argsOf reads a verb's arguments from its usage line, so that a verb
// added later completes by what it says it takes, without a second list.
func argsOf(cmd *ucli.Command) argsKind {
	u := cmd.ArgsUsage
	switch {
	case strings.Contains(u, "TYPE[.FIELD"):
		return argsKinds
	case strings.Contains(u, "POD"):
		return argsPod
	case strings.Contains(u, "TYPE"):
		return argsKindNames
	}
	return argsNone
}

// kindNames is every name of every kind the node serves, as typed after
// get: plural and short names, and the categories (all) when asked.
func kindNames(categories bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, r := range api.Resources() {
		add(r.Resource)
		for _, s := range r.ShortNames {
			add(s)
		}
	}
	if categories {
		for _, r := range api.Resources() {
			for _, c := range r.Categories {
				add(c)
			}
		}
	}
	return out
}

// typeSlashNames completes `TYPE/NAME`: the names of TYPE's objects,
// each behind the TYPE as typed.
func typeSlashNames(cur string, list func(*api.ResourceInfo) []string) []string {
	typ, prefix, _ := strings.Cut(cur, "/")
	r, ok := api.LookupResource(typ)
	if !ok {
		return nil
	}
	var out []string
	for _, n := range withPrefix(list(r), prefix) {
		out = append(out, typ+"/"+n)
	}
	return out
}

func namespacesResource() *api.ResourceInfo {
	r, _ := api.LookupResource("namespaces")
	return r
}

// flagValue tells whether cur is the value of a flag: after a flag that
// takes one (`-n <Tab>`), or behind its `=` (`--namespace=de<Tab>`). It
// returns the flag's name and the value typed so far.
func flagValue(prior []string, cur string, takesValue map[string]bool) (name, value string, ok bool) {
	if strings.HasPrefix(cur, "-") {
		if n, v, found := strings.Cut(strings.TrimLeft(cur, "-"), "="); found {
			return n, v, true
		}
		return "", "", false
	}
	if len(prior) == 0 {
		return "", "", false
	}
	last := prior[len(prior)-1]
	if last == "-" || !strings.HasPrefix(last, "-") || strings.Contains(last, "=") {
		return "", "", false
	}
	// The flag must be a flag, not the value of the one before it.
	flags, _ := splitArgs(prior, takesValue)
	if len(flags) == 0 || flags[len(flags)-1] != last {
		return "", "", false
	}
	n := strings.TrimLeft(last, "-")
	if !takesValue[n] {
		return "", "", false
	}
	return n, cur, true
}

// flagsOf is the flags among prior, with their values.
func flagsOf(prior []string, takesValue map[string]bool) []string {
	flags, _ := splitArgs(prior, takesValue)
	return flags
}

// flagNames is every name of the verb's flags (of the program's before
// the verb), as typed: -n and --namespace.
func flagNames(app *ucli.App, cmd *ucli.Command) []string {
	fs := app.Flags
	if cmd != nil {
		fs = append(append([]ucli.Flag{}, fs...), cmd.Flags...)
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range append(fs, ucli.HelpFlag) {
		for _, n := range f.Names() {
			name := "--" + n
			if len(n) == 1 {
				name = "-" + n
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

// joinAssignments puts back together `--flag=value`, which bash splits
// into three words at the `=`.
func joinAssignments(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "=" && len(out) > 0 && strings.HasPrefix(out[len(out)-1], "-") && !strings.Contains(out[len(out)-1], "=") {
			out[len(out)-1] += "="
			if i+1 < len(words) {
				out[len(out)-1] += words[i+1]
				i++
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// withPrefix is the candidates that begin with prefix.
func withPrefix(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// bashCompletion is sourced by bash: it hands the words up to the cursor
// to `wasmlet __complete` and offers what it prints.
const bashCompletion = `# bash completion for wasmlet. Load it in the current shell with
#   source <(wasmlet completion bash)
# or add that line to ~/.bashrc.

__wasmlet_complete() {
    local line directive=
    local -a cands=()
    COMPREPLY=()
    while IFS= read -r line; do
        case $line in
        :*) directive=$line ;;
        ?*) cands+=("$line") ;;
        esac
    done < <("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    COMPREPLY=("${cands[@]}")
    if [[ ${#COMPREPLY[@]} -eq 0 && $directive == :files ]]; then
        compopt -o default 2>/dev/null
    fi
    return 0
}

complete -F __wasmlet_complete wasmlet
`

// zshCompletion is sourced by zsh (after compinit), or autoloaded as
// _wasmlet from a directory of $fpath.
const zshCompletion = `#compdef wasmlet
# zsh completion for wasmlet. Load it in the current shell with
#   source <(wasmlet completion zsh)
# after compinit, or add that line to ~/.zshrc.

_wasmlet() {
    local line directive=
    local -a cands
    for line in "${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT-1]}" "$PREFIX" 2>/dev/null)}"; do
        case $line in
        (:*) directive=$line ;;
        (?*) cands+=("$line") ;;
        esac
    done
    # The value of --flag=value is completed alone.
    [[ $PREFIX == -*=* ]] && compset -P '*='
    if (( ${#cands} )); then
        compadd -a cands
    elif [[ $directive == :files ]]; then
        _files
    fi
}

if [[ $funcstack[1] == _wasmlet ]]; then
    _wasmlet "$@"
else
    compdef _wasmlet wasmlet
fi
`

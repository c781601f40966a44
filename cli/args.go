package cli

import (
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// reorderArgs moves every flag of args (the command line after the
// program's name) in front of the positional arguments of its verb, so that
// `get pods -o wide` and `-n x get pods` parse as kubectl parses them. A
// value flag keeps its value (`-o wide`, `-owide`, `--output=wide`);
// everything after `--` stays positional. The verb is the first positional
// argument.
func reorderArgs(app *ucli.App, args []string) []string {
	all := map[string]bool{} // flag name -> takes a value, over every command
	for _, cmd := range app.Commands {
		for name, v := range flagKinds(cmd.Flags) {
			all[name] = all[name] || v
		}
	}
	for name, v := range flagKinds(app.Flags) {
		all[name] = all[name] || v
	}

	flags, positional := splitArgs(args, all)
	if len(positional) == 0 {
		return flags
	}
	verb, rest := positional[0], positional[1:]
	cmd := app.Command(verb)
	if cmd == nil {
		return append(append([]string{verb}, flags...), rest...)
	}
	// Once the verb is known, its own flags say which take a value: `-f`
	// is a file for apply but a switch for logs, `-p` a patch for patch
	// but a switch for logs.
	if i := verbIndex(args, all); i >= 0 {
		own := flagKinds(app.Flags)
		for name, v := range flagKinds(cmd.Flags) {
			own[name] = v
		}
		without := append(append([]string{}, args[:i]...), args[i+1:]...)
		flags, rest = splitArgs(without, own)
	}
	out := append([]string{verb}, flags...)
	if len(rest) > 0 {
		out = append(out, "--")
		out = append(out, rest...)
	}
	return out
}

// verbIndex is the index in args of the first positional argument, or -1.
func verbIndex(args []string, takesValue map[string]bool) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		case a == "-" || !strings.HasPrefix(a, "-"):
			return i
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "--") && len(name) > 1 {
			if _, known := takesValue[strings.SplitN(name, "=", 2)[0]]; !known && takesValue[name[:1]] {
				continue
			}
		}
		if !strings.Contains(name, "=") && takesValue[name] {
			i++
		}
	}
	return -1
}

// splitArgs separates flags (with their values) from positional arguments.
func splitArgs(args []string, takesValue map[string]bool) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			return flags, positional
		case a == "-" || !strings.HasPrefix(a, "-"):
			positional = append(positional, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "--") && len(name) > 1 {
			bare, _, _ := strings.Cut(name, "=")
			if _, known := takesValue[bare]; !known && takesValue[name[:1]] {
				// -owide, -lapp=web: a short flag with its value attached.
				flags = append(flags, "-"+name[:1], name[1:])
				continue
			}
		}
		if strings.Contains(name, "=") {
			flags = append(flags, a)
			continue
		}
		flags = append(flags, a)
		if takesValue[name] && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, positional
}

// flagKinds maps each name of each flag to whether it takes a value.
func flagKinds(fs []ucli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		v := false
		if d, ok := f.(ucli.DocGenerationFlag); ok {
			v = d.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = v
		}
	}
	return m
}

package cli

// verbSubcommands are the words a verb takes before its arguments:
// rollout's and set's subcommands, and the generators of create. They
// complete first; then the verb's arguments complete after them as its
// usage line says.
var verbSubcommands = map[string][]string{
	"rollout": rolloutSubcommands,
	"set":     {"image"},
	"create":  {"configmap", "deployment", "namespace", "secret"},
}
